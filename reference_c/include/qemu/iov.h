/*
 * iovconf shim for QEMU's "qemu/iov.h": the structs, the prototypes of
 * every public function of util/iov.c, and the header inlines.
 *
 * Written for iovconf from the facts in DESIGN.md section 1.
 */
#ifndef IOVCONF_QEMU_IOV_H
#define IOVCONF_QEMU_IOV_H

#include "qemu/osdep.h"

/* QEMUIOVector: `size` shares its bytes with `local_iov.iov_len`. */
typedef struct QEMUIOVector {
    struct iovec *iov;
    int niov;
    union {
        struct {
            int nalloc;
            struct iovec local_iov;
        };
        struct {
            char __pad[sizeof(int) + offsetof(struct iovec, iov_len)];
            size_t size;
        };
    };
} QEMUIOVector;

_Static_assert(sizeof(QEMUIOVector) == 40, "QEMUIOVector size");
_Static_assert(offsetof(QEMUIOVector, iov) == 0, "QEMUIOVector.iov");
_Static_assert(offsetof(QEMUIOVector, niov) == 8, "QEMUIOVector.niov");
_Static_assert(offsetof(QEMUIOVector, nalloc) == 16, "QEMUIOVector.nalloc");
_Static_assert(offsetof(QEMUIOVector, local_iov) == 24,
               "QEMUIOVector.local_iov");
_Static_assert(offsetof(QEMUIOVector, size) == 32, "QEMUIOVector.size");
_Static_assert(offsetof(QEMUIOVector, size) ==
               offsetof(QEMUIOVector, local_iov) +
               offsetof(struct iovec, iov_len),
               "size is local_iov.iov_len");

typedef struct {
    struct iovec *modified_iov;
    struct iovec orig;
} IOVDiscardUndo;

_Static_assert(sizeof(IOVDiscardUndo) == 24, "IOVDiscardUndo size");
_Static_assert(offsetof(IOVDiscardUndo, orig) == 8, "IOVDiscardUndo.orig");

size_t iov_from_buf_full(const struct iovec *iov, unsigned int iov_cnt,
                         size_t offset, const void *buf, size_t bytes);
size_t iov_to_buf_full(const struct iovec *iov, const unsigned int iov_cnt,
                       size_t offset, void *buf, size_t bytes);
size_t iov_memset(const struct iovec *iov, const unsigned int iov_cnt,
                  size_t offset, int fillc, size_t bytes);
size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt);
ssize_t iov_send_recv(int sockfd, const struct iovec *_iov, unsigned iov_cnt,
                      size_t offset, size_t bytes,
                      bool do_send);
void iov_hexdump(const struct iovec *iov, const unsigned int iov_cnt,
                 FILE *fp, const char *prefix, size_t limit);
unsigned iov_copy(struct iovec *dst_iov, unsigned int dst_iov_cnt,
                 const struct iovec *iov, unsigned int iov_cnt,
                 size_t offset, size_t bytes);
void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint);
void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov, int niov);
void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len);
size_t qemu_iovec_concat_iov(QEMUIOVector *dst,
                             struct iovec *src_iov, unsigned int src_cnt,
                             size_t soffset, size_t sbytes);
void qemu_iovec_concat(QEMUIOVector *dst,
                       QEMUIOVector *src, size_t soffset, size_t sbytes);
int qemu_iovec_subvec_niov(QEMUIOVector *qiov, size_t offset, size_t len);
int qemu_iovec_init_extended(
        QEMUIOVector *qiov,
        void *head_buf, size_t head_len,
        QEMUIOVector *mid_qiov, size_t mid_offset, size_t mid_len,
        void *tail_buf, size_t tail_len);
bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes);
void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source,
                           size_t offset, size_t len);
void qemu_iovec_destroy(QEMUIOVector *qiov);
void qemu_iovec_reset(QEMUIOVector *qiov);
size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset,
                         void *buf, size_t bytes);
size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset,
                           const void *buf, size_t bytes);
size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset,
                         int fillc, size_t bytes);
ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b);
void qemu_iovec_clone(QEMUIOVector *dest, const QEMUIOVector *src, void *buf);
void iov_discard_undo(IOVDiscardUndo *undo);
size_t iov_discard_front_undoable(struct iovec **iov,
                                  unsigned int *iov_cnt,
                                  size_t bytes,
                                  IOVDiscardUndo *undo);
size_t iov_discard_front(struct iovec **iov, unsigned int *iov_cnt,
                         size_t bytes);
size_t iov_discard_back_undoable(struct iovec *iov,
                                 unsigned int *iov_cnt,
                                 size_t bytes,
                                 IOVDiscardUndo *undo);
size_t iov_discard_back(struct iovec *iov, unsigned int *iov_cnt,
                        size_t bytes);
void qemu_iovec_discard_back(QEMUIOVector *qiov, size_t bytes);

/* Header inlines.  The constant-size fast paths of the originals give the
 * same results as the _full functions, so these only forward. */
static inline size_t
iov_from_buf(const struct iovec *iov, unsigned int iov_cnt,
             size_t offset, const void *buf, size_t bytes)
{
    return iov_from_buf_full(iov, iov_cnt, offset, buf, bytes);
}

static inline size_t
iov_to_buf(const struct iovec *iov, const unsigned int iov_cnt,
           size_t offset, void *buf, size_t bytes)
{
    return iov_to_buf_full(iov, iov_cnt, offset, buf, bytes);
}

static inline ssize_t
iov_send(int sockfd, const struct iovec *iov, unsigned iov_cnt,
         size_t offset, size_t bytes)
{
    return iov_send_recv(sockfd, iov, iov_cnt, offset, bytes, true);
}

static inline ssize_t
iov_recv(int sockfd, const struct iovec *iov, unsigned iov_cnt,
         size_t offset, size_t bytes)
{
    return iov_send_recv(sockfd, iov, iov_cnt, offset, bytes, false);
}

static inline void qemu_iovec_init_buf(QEMUIOVector *qiov,
                                       void *buf, size_t len)
{
    *qiov = (QEMUIOVector) {
        .iov = &qiov->local_iov,
        .niov = 1,
        .nalloc = -1,
        .local_iov = {
            .iov_base = buf,
            .iov_len = len,
        },
    };
}

static inline void *qemu_iovec_buf(QEMUIOVector *qiov)
{
    /* Only supports embedded iov */
    assert(qiov->nalloc == -1 && qiov->iov == &qiov->local_iov);
    return qiov->local_iov.iov_base;
}

/*
 * Public in later upstream revisions (reference_c/revisions/).  Declared
 * here, after the inlines, so that every line above (among them the assert
 * of qemu_iovec_buf, whose __LINE__ a trap reports) stays where it was.
 */
/* QEMU 8.1 on: the static qiov_slice of QEMU 6.x, made public. */
struct iovec *qemu_iovec_slice(QEMUIOVector *qiov,
                               size_t offset, size_t len,
                               size_t *head, size_t *tail, int *niov);
/* QEMU 9.2 on: iov_send_recv with the flags of sendmsg/recvmsg
 * (iov_send_recv is this with 0; iov.c calls it before defining it). */
ssize_t iov_send_recv_with_flags(int sockfd, int sockflags,
                                 const struct iovec *_iov,
                                 unsigned iov_cnt, size_t offset,
                                 size_t bytes, bool do_send);

#endif /* IOVCONF_QEMU_IOV_H */
