/*
 * iovconf: everything the C code under test needs besides iov.c itself,
 * and the machinery that lets Python call it safely.
 *
 *  - trapped assert / fatal GLib errors / missing functions (longjmp back
 *    to the wrapper that is running);
 *  - a guard for SIGSEGV, SIGBUS, SIGFPE, SIGILL (on an alternate stack)
 *    and a CPU timer (ITIMER_PROF, SIGPROF: user + system time, so a loop of syscalls is caught too) around each call;
 *  - the counted GLib heap with a table of live blocks;
 *  - qemu_hexdump and buffer_is_zero;
 *  - raw memory and stream helpers for the Python facade.
 *
 * Written for iovconf; see DESIGN.md section 1 for the semantics.
 */
#include "qemu/osdep.h"
#include "qemu-common.h"
#include "qemu/cutils.h"
#include "shim.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/time.h>

struct iovconf_trap iovconf_trap;
sigjmp_buf iovconf_jmp;

/* ------------------------------------------------------------------ */
/* Traps                                                               */

/* A wrapper is running C code on active_thread and owns iovconf_jmp. */
static volatile sig_atomic_t active;
static pthread_t active_thread;

static long long timeout_usec = 2000000;
static volatile sig_atomic_t timer_armed;

static const int guarded_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                       SIGPROF };
#define N_GUARDED (sizeof(guarded_signals) / sizeof(guarded_signals[0]))
static struct sigaction previous[N_GUARDED];
static int installed;

#define ALTSTACK_SIZE (64 * 1024)
static __thread int altstack_ready;

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void arm_timer(void)
{
    if (timeout_usec > 0) {
        struct itimerval it = {
            .it_interval = { 0, 0 },
            .it_value = { (time_t)(timeout_usec / 1000000),
                          (suseconds_t)(timeout_usec % 1000000) },
        };
        timer_armed = 1;
        setitimer(ITIMER_PROF, &it, NULL);
    }
}

static void disarm_timer(void)
{
    if (timer_armed) {
        static const struct itimerval zero;
        setitimer(ITIMER_PROF, &zero, NULL);
        timer_armed = 0;
    }
}

static void setup_altstack(void)
{
    stack_t cur, ss;

    altstack_ready = 1;
    /* Keep an alternate stack this thread already has (faulthandler's). */
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) {
        return;
    }
    ss.ss_sp = malloc(ALTSTACK_SIZE);   /* lives as long as the thread */
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (ss.ss_sp) {
        sigaltstack(&ss, NULL);
    }
}

void iovconf_enter(int call)
{
    if (!altstack_ready) {
        setup_altstack();
    }
    active_thread = pthread_self();
    iovconf_trap.status = IOVCONF_OK;
    iovconf_trap.message[0] = '\0';
    active = 1;
    if (call) {
        arm_timer();
        errno = 0;
    }
}

void iovconf_leave(int call)
{
    int err = errno;

    active = 0;
    if (call) {
        iovconf_trap.err = err;
        disarm_timer();
    }
}

int iovconf_trapped(void)
{
    disarm_timer();
    if (iovconf_trap.status == IOVCONF_CRASH ||
        iovconf_trap.status == IOVCONF_TIMEOUT) {
        /* sigsetjmp(.., 0) did not save the mask: unblock what the
         * handler we left had blocked. */
        sigset_t set;
        size_t i;
        sigemptyset(&set);
        for (i = 0; i < N_GUARDED; i++) {
            sigaddset(&set, guarded_signals[i]);
        }
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    }
    return iovconf_trap.status;
}

/* Jump back to the running wrapper with `status` (already recorded). */
static void __attribute__((noreturn)) trap_out(int status, int err)
{
    iovconf_trap.status = status;
    iovconf_trap.err = err;
    active = 0;
    siglongjmp(iovconf_jmp, 1);
}

static int trapping(void)
{
    return active && pthread_equal(pthread_self(), active_thread);
}

/* Abort flavour: nonzero while the parent replays a call (see _forked.py). */
int iovconf_replaying;

/* Whether a fatal GLib error or a bad free traps, or aborts as it would. */
static int fatal_traps(void)
{
#ifdef IOVCONF_ABORT_MODE
    return iovconf_replaying && trapping();
#else
    return trapping();
#endif
}

void iovconf_assert_fail(const char *expr, const char *file,
                         unsigned int line, const char *func)
{
    int err = errno;

    if (!trapping()) {
        fprintf(stderr, "%s:%u: %s: Assertion `%s' failed.\n",
                file, line, func, expr);
        abort();
    }
    iovconf_trap.expr = expr;
    iovconf_trap.func = func;
    iovconf_trap.file = basename_of(file);
    iovconf_trap.line = (int)line;
    trap_out(IOVCONF_ASSERT, err);
}

void iovconf_fatal(const char *fmt, ...)
{
    int err = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(iovconf_trap.message, sizeof(iovconf_trap.message), fmt, ap);
    va_end(ap);
    if (fatal_traps()) {
        trap_out(IOVCONF_FATAL, err);
    }
    /* What GLib does: log the error and abort the process. */
    fprintf(stderr, "GLib-ERROR **: %s\n", iovconf_trap.message);
    errno = err;
    abort();
}

void iovconf_missing(const char *name)
{
    int err = errno;

    snprintf(iovconf_trap.message, sizeof(iovconf_trap.message), "%s", name);
    if (trapping()) {
        trap_out(IOVCONF_MISSING, err);
    }
    fprintf(stderr, "iovconf: %s is not defined by the C source\n", name);
    abort();
}

/* What the C library does on a bad free: report and abort (SIGABRT).
 * Trapped as a crash so the real heap is never handed a bad pointer. */
static void __attribute__((noreturn)) bad_pointer(const char *what)
{
    int err = errno;

    snprintf(iovconf_trap.message, sizeof(iovconf_trap.message), "%s", what);
    if (fatal_traps()) {
        iovconf_trap.signum = SIGABRT;
        trap_out(IOVCONF_CRASH, err);
    }
    fprintf(stderr, "%s\n", what);
    errno = err;
    abort();
}

static void chain(int idx, int sig, siginfo_t *info, void *ctx)
{
    const struct sigaction *prev = &previous[idx];

    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) {
            prev->sa_sigaction(sig, info, ctx);
        }
        return;
    }
    if (prev->sa_handler == SIG_IGN) {
        return;
    }
    if (prev->sa_handler != SIG_DFL) {
        prev->sa_handler(sig);
        return;
    }
    if (sig == SIGPROF) {
        return;     /* a late tick of our own timer after the call ended */
    }
    /* Default action: restore it and deliver the signal again; the
     * process dies as it would have without us. */
    sigaction(sig, prev, NULL);
    raise(sig);
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    size_t i;

    if (trapping()) {
        iovconf_trap.signum = sig;
        trap_out(sig == SIGPROF ? IOVCONF_TIMEOUT : IOVCONF_CRASH, errno);
    }
    if (sig == SIGPROF && active) {
        /* The process timer fired on another thread: pass it on. */
        pthread_kill(active_thread, sig);
        return;
    }
    for (i = 0; i < N_GUARDED; i++) {
        if (guarded_signals[i] == sig) {
            chain((int)i, sig, info, ctx);
            return;
        }
    }
}

void iovconf_install(void)
{
    struct sigaction act;
    size_t i;

    if (installed) {
        return;
    }
#ifdef IOVCONF_SANITIZE
    /* The sanitizers report faults themselves; a guard would hide them. */
    installed = 1;
    return;
#endif
    memset(&act, 0, sizeof(act));
    act.sa_sigaction = on_signal;
    act.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&act.sa_mask);
    for (i = 0; i < N_GUARDED; i++) {
        sigaction(guarded_signals[i], &act, &previous[i]);
    }
    installed = 1;
}

void iovconf_set_timeout_usec(long long usec)
{
    timeout_usec = usec > 0 ? usec : 0;
}

long long iovconf_get_timeout_usec(void)
{
    return timeout_usec;
}

const struct iovconf_trap *iovconf_last(void)
{
    return &iovconf_trap;
}

/* ------------------------------------------------------------------ */
/* Raw memory for the facade (not the counted heap)                    */

int iovconf_load(char *dst, uintptr_t src, size_t n)
{
    if (sigsetjmp(iovconf_jmp, 0)) {
        return iovconf_trapped();
    }
    iovconf_enter(0);
    memcpy(dst, (const void *)src, n);
    iovconf_leave(0);
    return IOVCONF_OK;
}

int iovconf_store(uintptr_t dst, const char *src, size_t n)
{
    if (sigsetjmp(iovconf_jmp, 0)) {
        return iovconf_trapped();
    }
    iovconf_enter(0);
    memcpy((void *)dst, src, n);
    iovconf_leave(0);
    return IOVCONF_OK;
}

uintptr_t iovconf_raw_alloc(size_t n)
{
    return (uintptr_t)calloc(1, n ? n : 1);
}

void iovconf_raw_free(uintptr_t p)
{
    free((void *)p);
}

/* ------------------------------------------------------------------ */
/* The counted GLib heap                                               */

/* Largest single request; beyond it GLib would run out of memory. */
#define MAX_HEAP_BLOCK ((size_t)1 << 32)

struct block {
    uintptr_t addr;
    size_t size;
    uint64_t serial;
};

static struct block *blocks;
static size_t n_blocks, cap_blocks;
static struct iovconf_heap_stats stats;

static void reserve_block(void)
{
    if (n_blocks == cap_blocks) {
        size_t cap = cap_blocks ? 2 * cap_blocks : 64;
        struct block *grown = realloc(blocks, cap * sizeof(*grown));
        if (!grown) {
            iovconf_fatal("failed to allocate %zu bytes",
                          cap * sizeof(*grown));
        }
        blocks = grown;
        cap_blocks = cap;
    }
}

static struct block *find_block(const void *p)
{
    size_t i = n_blocks;

    while (i-- > 0) {
        if (blocks[i].addr == (uintptr_t)p) {
            return &blocks[i];
        }
    }
    return NULL;
}

static void drop_block(struct block *b)
{
    *b = blocks[--n_blocks];
}

static void *heap_alloc(size_t n)
{
    void *p;

    if (n == 0) {
        return NULL;
    }
    if (n > MAX_HEAP_BLOCK) {
        iovconf_fatal("failed to allocate %zu bytes", n);
    }
    reserve_block();
    p = calloc(1, n);   /* g_malloc zero-fills too: deterministic */
    if (!p) {
        iovconf_fatal("failed to allocate %zu bytes", n);
    }
    stats.allocs++;
    blocks[n_blocks++] = (struct block) {
        .addr = (uintptr_t)p, .size = n, .serial = ++stats.serial,
    };
    return p;
}

static size_t checked_mul(size_t n_blocks_, size_t n_block_bytes)
{
    if (n_block_bytes > 0 && n_blocks_ > SIZE_MAX / n_block_bytes) {
        iovconf_fatal("overflow allocating %zu*%zu bytes",
                      n_blocks_, n_block_bytes);
    }
    return n_blocks_ * n_block_bytes;
}

gpointer g_malloc(gsize n_bytes)
{
    return heap_alloc(n_bytes);
}

gpointer g_malloc0(gsize n_bytes)
{
    return heap_alloc(n_bytes);
}

gpointer g_malloc_n(gsize n_blocks_, gsize n_block_bytes)
{
    return heap_alloc(checked_mul(n_blocks_, n_block_bytes));
}

gpointer g_malloc0_n(gsize n_blocks_, gsize n_block_bytes)
{
    return heap_alloc(checked_mul(n_blocks_, n_block_bytes));
}

void g_free(gpointer mem)
{
    struct block *b;

    if (!mem) {
        return;
    }
    b = find_block(mem);
    if (!b) {
#ifdef IOVCONF_SANITIZE
        free(mem); /* let AddressSanitizer report the bad free */
#endif
        bad_pointer("free(): invalid pointer");
    }
    free(mem);
    drop_block(b);
    stats.frees++;
}

gpointer g_realloc(gpointer mem, gsize n_bytes)
{
    struct block *b;
    void *p;

    if (!mem) {
        return heap_alloc(n_bytes);
    }
    if (n_bytes == 0) {
        g_free(mem);
        return NULL;
    }
    b = find_block(mem);
    if (!b) {
        bad_pointer("realloc(): invalid pointer");
    }
    if (n_bytes > MAX_HEAP_BLOCK) {
        iovconf_fatal("failed to allocate %zu bytes", n_bytes);
    }
    p = realloc(mem, n_bytes);
    if (!p) {
        iovconf_fatal("failed to allocate %zu bytes", n_bytes);
    }
    if (n_bytes > b->size) {
        memset((char *)p + b->size, 0, n_bytes - b->size);
    }
    b->addr = (uintptr_t)p;
    b->size = n_bytes;
    stats.reallocs++;
    return p;
}

gpointer g_realloc_n(gpointer mem, gsize n_blocks_, gsize n_block_bytes)
{
    return g_realloc(mem, checked_mul(n_blocks_, n_block_bytes));
}

void iovconf_heap_get_stats(struct iovconf_heap_stats *out)
{
    *out = stats;
}

size_t iovconf_heap_live_since(uint64_t serial)
{
    size_t i, live = 0;

    for (i = 0; i < n_blocks; i++) {
        live += blocks[i].serial > serial;
    }
    return live;
}

int iovconf_heap_find(uintptr_t addr, uint64_t *serial, size_t *offset)
{
    size_t i;

    for (i = 0; i < n_blocks; i++) {
        if (addr >= blocks[i].addr && addr - blocks[i].addr < blocks[i].size) {
            *serial = blocks[i].serial;
            *offset = addr - blocks[i].addr;
            return 1;
        }
    }
    return 0;
}

size_t iovconf_heap_release_since(uint64_t serial)
{
    size_t i = 0, released = 0;

    while (i < n_blocks) {
        if (blocks[i].serial > serial) {
            free((void *)blocks[i].addr);
            drop_block(&blocks[i]);     /* the last one moves to i */
            released++;
        } else {
            i++;
        }
    }
    return released;
}

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

/* ------------------------------------------------------------------ */
/* qemu/cutils.h, qemu-common.h                                        */

bool buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

#define HEXDUMP_LINE_BYTES 16

/*
 * One "PREFIX: LINE\n" per 16 bytes at offset b:
 *   LINE = "%04x:" of b, then for each of 16 slots a space before every
 *   4th slot and " %02x" (or three spaces past the end), then a space and
 *   the bytes as ASCII ('.' for < ' ' or > '~', so also for >= 0x80).
 * QEMU 6.x formatted the offset with a 6-byte snprintf limit, so from
 * b = 0x10000 on its line ended after the first five characters of the
 * offset text; that visible output is reproduced here, without writing
 * past any buffer.  b and the byte count are unsigned int, as in QEMU.
 */
void qemu_hexdump(FILE *fp, const char *prefix, const void *bufptr,
                  size_t size)
{
    const unsigned char *buf = bufptr;
    unsigned int b, len, i;
    /* 5 + 4 + 16 * 3 + 1 + 16 + NUL fits easily */
    char line[128];
    char offset_text[16];

    for (b = 0; b < size; b += HEXDUMP_LINE_BYTES) {
        char *p = line;

        len = (unsigned int)(size - b);
        if (len > HEXDUMP_LINE_BYTES) {
            len = HEXDUMP_LINE_BYTES;
        }
        snprintf(offset_text, sizeof(offset_text), "%04x:", b);
        if (strlen(offset_text) > 5) {
            offset_text[5] = '\0';
            fprintf(fp, "%s: %s\n", prefix, offset_text);
            continue;
        }
        p += sprintf(p, "%s", offset_text);
        for (i = 0; i < HEXDUMP_LINE_BYTES; i++) {
            if (i % 4 == 0) {
                *p++ = ' ';
            }
            if (i < len) {
                p += sprintf(p, " %02x", buf[b + i]);
            } else {
                p += sprintf(p, "   ");
            }
        }
        *p++ = ' ';
        for (i = 0; i < len; i++) {
            unsigned char c = buf[b + i];
            *p++ = (c < ' ' || c > '~') ? '.' : (char)c;
        }
        *p = '\0';
        fprintf(fp, "%s: %s\n", prefix, line);
    }
}

/* ------------------------------------------------------------------ */
/* Streams for iov_hexdump's FILE *                                    */

struct iovconf_stream *iovconf_stream_open(void)
{
    struct iovconf_stream *s = calloc(1, sizeof(*s));

    if (s) {
        s->fp = open_memstream(&s->text, &s->len);
        if (!s->fp) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

int iovconf_stream_close(struct iovconf_stream *s)
{
    int ret = fclose(s->fp);

    s->fp = NULL;
    return ret;
}

void iovconf_stream_free(struct iovconf_stream *s)
{
    if (s->fp) {
        fclose(s->fp);
    }
    free(s->text);
    free(s);
}
