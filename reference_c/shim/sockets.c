/*
 * iovconf: sendmsg/recvmsg of util/iov.c (include/qemu/sockets.h), passed to the
 * kernel, or recorded in the abort flavour's forked child and replayed in its parent.
 * (qemu/sockets.h is not included here: its macros would make these call themselves.)
 */
#include "qemu/osdep.h"
#include "shim.h"

#include <signal.h>

/* ------------------------------------------------------------------ */
/* sendmsg/recvmsg of iov.c (qemu/sockets.h), recorded and replayed    */

/*
 * Normally these go straight to the kernel.  In the abort flavour the call
 * first runs in a forked child, which records every result (return value,
 * errno, bytes received) in a log; the parent then replays the call with
 * the log instead of doing the I/O again.  Log record:
 * int64 ret, int32 errno, uint64 n, n bytes received.
 */
enum { IO_PASS, IO_RECORD, IO_REPLAY };
static int io_mode = IO_PASS;
static unsigned char *io_log;
static size_t io_len, io_cap, io_pos;
static int io_diverged;

static void log_append(const void *data, size_t n)
{
    if (io_len + n > io_cap) {
        size_t cap = io_cap ? io_cap : 4096;
        unsigned char *grown;
        while (cap < io_len + n) {
            cap *= 2;
        }
        grown = realloc(io_log, cap);
        if (!grown) {
            iovconf_fatal("failed to allocate %zu bytes", cap);
        }
        io_log = grown;
        io_cap = cap;
    }
    memcpy(io_log + io_len, data, n);
    io_len += n;
}

static void record_io(ssize_t ret, int err, const struct msghdr *received)
{
    int64_t r = ret;
    int32_t e = err;
    uint64_t n = (received && ret > 0) ? (uint64_t)ret : 0;
    size_t i, left = n;

    log_append(&r, sizeof(r));
    log_append(&e, sizeof(e));
    log_append(&n, sizeof(n));
    for (i = 0; left && i < received->msg_iovlen; i++) {
        size_t k = MIN(left, received->msg_iov[i].iov_len);
        log_append(received->msg_iov[i].iov_base, k);
        left -= k;
    }
}

static ssize_t replay_io(struct msghdr *scatter)
{
    int64_t r;
    int32_t e;
    uint64_t n;
    size_t i, left;

    if (io_pos + sizeof(r) + sizeof(e) + sizeof(n) > io_len) {
        io_diverged = 1;        /* more I/O than the child did */
        errno = EIO;
        return -1;
    }
    memcpy(&r, io_log + io_pos, sizeof(r));
    memcpy(&e, io_log + io_pos + sizeof(r), sizeof(e));
    memcpy(&n, io_log + io_pos + sizeof(r) + sizeof(e), sizeof(n));
    io_pos += sizeof(r) + sizeof(e) + sizeof(n);
    left = (size_t)n;
    for (i = 0; left && scatter && i < scatter->msg_iovlen; i++) {
        size_t k = MIN(left, scatter->msg_iov[i].iov_len);
        memcpy(scatter->msg_iov[i].iov_base, io_log + io_pos, k);
        io_pos += k;
        left -= k;
    }
    io_pos += left;
    errno = e;
    return (ssize_t)r;
}

ssize_t iovconf_sendmsg(int sockfd, const struct msghdr *msg, int flags)
{
    ssize_t ret;

    if (io_mode == IO_REPLAY) {
        return replay_io(NULL);
    }
    ret = sendmsg(sockfd, msg, flags);
    if (io_mode == IO_RECORD) {
        int err = errno;
        record_io(ret, err, NULL);
        errno = err;
    }
    return ret;
}

ssize_t iovconf_recvmsg(int sockfd, struct msghdr *msg, int flags)
{
    ssize_t ret;

    if (io_mode == IO_REPLAY) {
        return replay_io(msg);
    }
    ret = recvmsg(sockfd, msg, flags);
    if (io_mode == IO_RECORD) {
        int err = errno;
        record_io(ret, err, msg);
        errno = err;
    }
    return ret;
}

/* In the forked child: write the I/O log to fd, status first (-1: aborted). */
static int child_fd = -1;

static void write_all(const void *data, size_t n)
{
    const unsigned char *p = data;

    while (n > 0) {
        ssize_t w = write(child_fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void child_report(int32_t status)
{
    uint64_t n = io_len;

    write_all(&status, sizeof(status));
    write_all(&n, sizeof(n));
    write_all(io_log, io_len);
}

static void on_child_abort(int sig)
{
    int err = errno;

    (void)sig;
    child_report(-1);
    errno = err;
}

void iovconf_child_begin(int fd)
{
    struct sigaction act;

    memset(&act, 0, sizeof(act));
    act.sa_handler = on_child_abort;
    act.sa_flags = SA_RESETHAND;    /* then abort() dies of SIGABRT */
    sigemptyset(&act.sa_mask);
    sigaction(SIGABRT, &act, NULL);
    child_fd = fd;
    io_len = 0;
    io_mode = IO_RECORD;
}

void iovconf_child_end(int status)
{
    child_report(status);
}

void iovconf_replay_begin(const char *log, size_t len)
{
    io_len = 0;
    io_pos = 0;
    io_diverged = 0;
    log_append(log, len);
    io_mode = IO_REPLAY;
    iovconf_replaying = 1;
}

int iovconf_replay_end(void)
{
    int faithful = !io_diverged && io_pos == io_len;

    io_mode = IO_PASS;
    iovconf_replaying = 0;
    io_len = 0;
    io_pos = 0;
    return faithful;
}

