"""The C functions behind the same API as pyimpl (written by reference_c/facade_gen.py).

Each takes a :class:`~reference_c.reference.CMemory` first, then the C arguments in C
order; pointers are int addresses (NULL is 0).  Functions with C out parameters
(the static helpers) return (return value, out values...).  ``__all__`` lists the
public functions; the static helpers are importable but not part of the API.
(No ``from __future__ import annotations``: help() shows the types, not strings.)
"""

from .reference import CMemory, TextSink, call, hexdump

__all__ = [
    "iov_from_buf_full",
    "iov_to_buf_full",
    "iov_memset",
    "iov_size",
    "iov_send_recv",
    "iov_send_recv_with_flags",
    "iov_hexdump",
    "iov_copy",
    "qemu_iovec_init",
    "qemu_iovec_init_external",
    "qemu_iovec_add",
    "qemu_iovec_concat_iov",
    "qemu_iovec_concat",
    "qemu_iovec_slice",
    "qemu_iovec_subvec_niov",
    "qemu_iovec_init_extended",
    "qemu_iovec_is_zero",
    "qemu_iovec_init_slice",
    "qemu_iovec_destroy",
    "qemu_iovec_reset",
    "qemu_iovec_to_buf",
    "qemu_iovec_from_buf",
    "qemu_iovec_memset",
    "qemu_iovec_compare",
    "qemu_iovec_clone",
    "iov_discard_undo",
    "iov_discard_front_undoable",
    "iov_discard_front",
    "iov_discard_back_undoable",
    "iov_discard_back",
    "qemu_iovec_discard_back",
    "iov_from_buf",
    "iov_to_buf",
    "iov_send",
    "iov_recv",
    "qemu_iovec_init_buf",
    "qemu_iovec_buf",
]


def iov_from_buf_full(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    offset: int,
    buf: int,
    bytes_: int,
) -> int:
    """iov.c:25 (public)::

    size_t iov_from_buf_full(const struct iovec *iov, unsigned int iov_cnt, size_t offset, const
        void *buf, size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_from_buf_full",
            iov,
            iov_cnt,
            offset,
            buf,
            bytes_,
        )
    )


def iov_to_buf_full(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    offset: int,
    buf: int,
    bytes_: int,
) -> int:
    """iov.c:44 (public)::

    size_t iov_to_buf_full(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, void
        *buf, size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_to_buf_full",
            iov,
            iov_cnt,
            offset,
            buf,
            bytes_,
        )
    )


def iov_memset(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    offset: int,
    fillc: int,
    bytes_: int,
) -> int:
    """iov.c:63 (public)::

    size_t iov_memset(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, int fillc,
        size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_memset",
            iov,
            iov_cnt,
            offset,
            fillc,
            bytes_,
        )
    )


def iov_size(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
) -> int:
    """iov.c:82 (public)::

    size_t iov_size(const struct iovec *iov, const unsigned int iov_cnt)
    """
    return int(
        call(
            mem,
            "iov_size",
            iov,
            iov_cnt,
        )
    )


def do_send_recv(
    mem: CMemory,
    sockfd: int,
    iov: int,
    iov_cnt: int,
    do_send: bool,
) -> int:
    """iov.c:96 (static)::

    ssize_t do_send_recv(int sockfd, struct iovec *iov, unsigned iov_cnt, bool do_send)
    """
    return int(
        call(
            mem,
            "do_send_recv",
            sockfd,
            iov,
            iov_cnt,
            do_send,
        )
    )


def iov_send_recv(
    mem: CMemory,
    sockfd: int,
    _iov: int,
    iov_cnt: int,
    offset: int,
    bytes_: int,
    do_send: bool,
) -> int:
    """iov.c:139 (public)::

    ssize_t iov_send_recv(int sockfd, const struct iovec *_iov, unsigned iov_cnt, size_t offset,
        size_t bytes, bool do_send)
    """
    return int(
        call(
            mem,
            "iov_send_recv",
            sockfd,
            _iov,
            iov_cnt,
            offset,
            bytes_,
            do_send,
        )
    )


def iov_send_recv_with_flags(
    mem: CMemory,
    sockfd: int,
    sockflags: int,
    _iov: int,
    iov_cnt: int,
    offset: int,
    bytes_: int,
    do_send: bool,
) -> int:
    """v9.2.0:154 (public)::

    ssize_t iov_send_recv_with_flags(int sockfd, int sockflags, const struct iovec *_iov, unsigned
        iov_cnt, size_t offset, size_t bytes, bool do_send)
    """
    return int(
        call(
            mem,
            "iov_send_recv_with_flags",
            sockfd,
            sockflags,
            _iov,
            iov_cnt,
            offset,
            bytes_,
            do_send,
        )
    )


def iov_hexdump(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    fp: TextSink | None,
    prefix: str | None,
    limit: int,
) -> None:
    """iov.c:227 (public)::

    void iov_hexdump(const struct iovec *iov, const unsigned int iov_cnt, FILE *fp, const char
        *prefix, size_t limit)
    """
    hexdump(
        mem,
        iov,
        iov_cnt,
        fp,
        prefix,
        limit,
    )


def iov_copy(
    mem: CMemory,
    dst_iov: int,
    dst_iov_cnt: int,
    iov: int,
    iov_cnt: int,
    offset: int,
    bytes_: int,
) -> int:
    """iov.c:244 (public)::

    unsigned iov_copy(struct iovec *dst_iov, unsigned int dst_iov_cnt, const struct iovec *iov,
        unsigned int iov_cnt, size_t offset, size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_copy",
            dst_iov,
            dst_iov_cnt,
            iov,
            iov_cnt,
            offset,
            bytes_,
        )
    )


def qemu_iovec_init(
    mem: CMemory,
    qiov: int,
    alloc_hint: int,
) -> None:
    """iov.c:270 (public)::

    void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint)
    """
    call(
        mem,
        "qemu_iovec_init",
        qiov,
        alloc_hint,
    )


def qemu_iovec_init_external(
    mem: CMemory,
    qiov: int,
    iov: int,
    niov: int,
) -> None:
    """iov.c:278 (public)::

    void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov, int niov)
    """
    call(
        mem,
        "qemu_iovec_init_external",
        qiov,
        iov,
        niov,
    )


def qemu_iovec_add(
    mem: CMemory,
    qiov: int,
    base: int,
    len_: int,
) -> None:
    """iov.c:290 (public)::

    void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len)
    """
    call(
        mem,
        "qemu_iovec_add",
        qiov,
        base,
        len_,
    )


def qemu_iovec_concat_iov(
    mem: CMemory,
    dst: int,
    src_iov: int,
    src_cnt: int,
    soffset: int,
    sbytes: int,
) -> int:
    """iov.c:314 (public)::

    size_t qemu_iovec_concat_iov(QEMUIOVector *dst, struct iovec *src_iov, unsigned int src_cnt,
        size_t soffset, size_t sbytes)
    """
    return int(
        call(
            mem,
            "qemu_iovec_concat_iov",
            dst,
            src_iov,
            src_cnt,
            soffset,
            sbytes,
        )
    )


def qemu_iovec_concat(
    mem: CMemory,
    dst: int,
    src: int,
    soffset: int,
    sbytes: int,
) -> None:
    """iov.c:350 (public)::

    void qemu_iovec_concat(QEMUIOVector *dst, QEMUIOVector *src, size_t soffset, size_t sbytes)
    """
    call(
        mem,
        "qemu_iovec_concat",
        dst,
        src,
        soffset,
        sbytes,
    )


def iov_skip_offset(
    mem: CMemory,
    iov: int,
    offset: int,
) -> tuple[int, int]:
    """iov.c:363 (static)::

    struct iovec *iov_skip_offset(struct iovec *iov, size_t offset, size_t *remaining_offset)
    """
    ret = call(
        mem,
        "iov_skip_offset",
        iov,
        offset,
    )
    return tuple(int(v) for v in ret)  # type: ignore[return-value]


def qiov_slice(
    mem: CMemory,
    qiov: int,
    offset: int,
    len_: int,
) -> tuple[int, int, int, int]:
    """iov.c:382 (static)::

    struct iovec *qiov_slice(QEMUIOVector *qiov, size_t offset, size_t len, size_t *head, size_t
        *tail, int *niov)
    """
    ret = call(
        mem,
        "qiov_slice",
        qiov,
        offset,
        len_,
    )
    return tuple(int(v) for v in ret)  # type: ignore[return-value]


def qemu_iovec_slice(
    mem: CMemory,
    qiov: int,
    offset: int,
    len_: int,
) -> tuple[int, int, int, int]:
    """v8.1.0:387 (public)::

    struct iovec *qemu_iovec_slice(QEMUIOVector *qiov, size_t offset, size_t len, size_t *head,
        size_t *tail, int *niov)
    """
    ret = call(
        mem,
        "qemu_iovec_slice",
        qiov,
        offset,
        len_,
    )
    return tuple(int(v) for v in ret)  # type: ignore[return-value]


def qemu_iovec_subvec_niov(
    mem: CMemory,
    qiov: int,
    offset: int,
    len_: int,
) -> int:
    """iov.c:404 (public)::

    int qemu_iovec_subvec_niov(QEMUIOVector *qiov, size_t offset, size_t len)
    """
    return int(
        call(
            mem,
            "qemu_iovec_subvec_niov",
            qiov,
            offset,
            len_,
        )
    )


def qemu_iovec_init_extended(
    mem: CMemory,
    qiov: int,
    head_buf: int,
    head_len: int,
    mid_qiov: int,
    mid_offset: int,
    mid_len: int,
    tail_buf: int,
    tail_len: int,
) -> int:
    """iov.c:418 (public)::

    int qemu_iovec_init_extended(QEMUIOVector *qiov, void *head_buf, size_t head_len, QEMUIOVector
        *mid_qiov, size_t mid_offset, size_t mid_len, void *tail_buf, size_t tail_len)
    """
    return int(
        call(
            mem,
            "qemu_iovec_init_extended",
            qiov,
            head_buf,
            head_len,
            mid_qiov,
            mid_offset,
            mid_len,
            tail_buf,
            tail_len,
        )
    )


def qemu_iovec_is_zero(
    mem: CMemory,
    qiov: int,
    offset: int,
    bytes_: int,
) -> bool:
    """iov.c:481 (public)::

    bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes)
    """
    return bool(
        call(
            mem,
            "qemu_iovec_is_zero",
            qiov,
            offset,
            bytes_,
        )
    )


def qemu_iovec_init_slice(
    mem: CMemory,
    qiov: int,
    source: int,
    offset: int,
    len_: int,
) -> None:
    """iov.c:506 (public)::

    void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source, size_t offset, size_t len)
    """
    call(
        mem,
        "qemu_iovec_init_slice",
        qiov,
        source,
        offset,
        len_,
    )


def qemu_iovec_destroy(
    mem: CMemory,
    qiov: int,
) -> None:
    """iov.c:519 (public)::

    void qemu_iovec_destroy(QEMUIOVector *qiov)
    """
    call(
        mem,
        "qemu_iovec_destroy",
        qiov,
    )


def qemu_iovec_reset(
    mem: CMemory,
    qiov: int,
) -> None:
    """iov.c:528 (public)::

    void qemu_iovec_reset(QEMUIOVector *qiov)
    """
    call(
        mem,
        "qemu_iovec_reset",
        qiov,
    )


def qemu_iovec_to_buf(
    mem: CMemory,
    qiov: int,
    offset: int,
    buf: int,
    bytes_: int,
) -> int:
    """iov.c:536 (public)::

    size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset, void *buf, size_t bytes)
    """
    return int(
        call(
            mem,
            "qemu_iovec_to_buf",
            qiov,
            offset,
            buf,
            bytes_,
        )
    )


def qemu_iovec_from_buf(
    mem: CMemory,
    qiov: int,
    offset: int,
    buf: int,
    bytes_: int,
) -> int:
    """iov.c:542 (public)::

    size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset, const void *buf, size_t bytes)
    """
    return int(
        call(
            mem,
            "qemu_iovec_from_buf",
            qiov,
            offset,
            buf,
            bytes_,
        )
    )


def qemu_iovec_memset(
    mem: CMemory,
    qiov: int,
    offset: int,
    fillc: int,
    bytes_: int,
) -> int:
    """iov.c:548 (public)::

    size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset, int fillc, size_t bytes)
    """
    return int(
        call(
            mem,
            "qemu_iovec_memset",
            qiov,
            offset,
            fillc,
            bytes_,
        )
    )


def qemu_iovec_compare(
    mem: CMemory,
    a: int,
    b: int,
) -> int:
    """iov.c:564 (public)::

    ssize_t qemu_iovec_compare(QEMUIOVector *a, QEMUIOVector *b)
    """
    return int(
        call(
            mem,
            "qemu_iovec_compare",
            a,
            b,
        )
    )


def sortelem_cmp_src_base(
    mem: CMemory,
    a: int,
    b: int,
) -> int:
    """iov.c:595 (static)::

    int sortelem_cmp_src_base(const void *a, const void *b)
    """
    return int(
        call(
            mem,
            "sortelem_cmp_src_base",
            a,
            b,
        )
    )


def sortelem_cmp_src_index(
    mem: CMemory,
    a: int,
    b: int,
) -> int:
    """iov.c:610 (static)::

    int sortelem_cmp_src_index(const void *a, const void *b)
    """
    return int(
        call(
            mem,
            "sortelem_cmp_src_index",
            a,
            b,
        )
    )


def qemu_iovec_clone(
    mem: CMemory,
    dest: int,
    src: int,
    buf: int,
) -> None:
    """iov.c:624 (public)::

    void qemu_iovec_clone(QEMUIOVector *dest, const QEMUIOVector *src, void *buf)
    """
    call(
        mem,
        "qemu_iovec_clone",
        dest,
        src,
        buf,
    )


def iov_discard_undo(
    mem: CMemory,
    undo: int,
) -> None:
    """iov.c:660 (public)::

    void iov_discard_undo(IOVDiscardUndo *undo)
    """
    call(
        mem,
        "iov_discard_undo",
        undo,
    )


def iov_discard_front_undoable(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    bytes_: int,
    undo: int,
) -> int:
    """iov.c:668 (public)::

    size_t iov_discard_front_undoable(struct iovec **iov, unsigned int *iov_cnt, size_t bytes,
        IOVDiscardUndo *undo)
    """
    return int(
        call(
            mem,
            "iov_discard_front_undoable",
            iov,
            iov_cnt,
            bytes_,
            undo,
        )
    )


def iov_discard_front(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    bytes_: int,
) -> int:
    """iov.c:702 (public)::

    size_t iov_discard_front(struct iovec **iov, unsigned int *iov_cnt, size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_discard_front",
            iov,
            iov_cnt,
            bytes_,
        )
    )


def iov_discard_back_undoable(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    bytes_: int,
    undo: int,
) -> int:
    """iov.c:708 (public)::

    size_t iov_discard_back_undoable(struct iovec *iov, unsigned int *iov_cnt, size_t bytes,
        IOVDiscardUndo *undo)
    """
    return int(
        call(
            mem,
            "iov_discard_back_undoable",
            iov,
            iov_cnt,
            bytes_,
            undo,
        )
    )


def iov_discard_back(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    bytes_: int,
) -> int:
    """iov.c:747 (public)::

    size_t iov_discard_back(struct iovec *iov, unsigned int *iov_cnt, size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_discard_back",
            iov,
            iov_cnt,
            bytes_,
        )
    )


def qemu_iovec_discard_back(
    mem: CMemory,
    qiov: int,
    bytes_: int,
) -> None:
    """iov.c:753 (public)::

    void qemu_iovec_discard_back(QEMUIOVector *qiov, size_t bytes)
    """
    call(
        mem,
        "qemu_iovec_discard_back",
        qiov,
        bytes_,
    )


def iov_from_buf(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    offset: int,
    buf: int,
    bytes_: int,
) -> int:
    """qemu/iov.h:108 (inline)::

    size_t iov_from_buf(const struct iovec *iov, unsigned int iov_cnt, size_t offset, const void
        *buf, size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_from_buf",
            iov,
            iov_cnt,
            offset,
            buf,
            bytes_,
        )
    )


def iov_to_buf(
    mem: CMemory,
    iov: int,
    iov_cnt: int,
    offset: int,
    buf: int,
    bytes_: int,
) -> int:
    """qemu/iov.h:115 (inline)::

    size_t iov_to_buf(const struct iovec *iov, const unsigned int iov_cnt, size_t offset, void *buf,
        size_t bytes)
    """
    return int(
        call(
            mem,
            "iov_to_buf",
            iov,
            iov_cnt,
            offset,
            buf,
            bytes_,
        )
    )


def iov_send(
    mem: CMemory,
    sockfd: int,
    iov: int,
    iov_cnt: int,
    offset: int,
    bytes_: int,
) -> int:
    """qemu/iov.h:122 (inline)::

    ssize_t iov_send(int sockfd, const struct iovec *iov, unsigned iov_cnt, size_t offset, size_t
        bytes)
    """
    return int(
        call(
            mem,
            "iov_send",
            sockfd,
            iov,
            iov_cnt,
            offset,
            bytes_,
        )
    )


def iov_recv(
    mem: CMemory,
    sockfd: int,
    iov: int,
    iov_cnt: int,
    offset: int,
    bytes_: int,
) -> int:
    """qemu/iov.h:129 (inline)::

    ssize_t iov_recv(int sockfd, const struct iovec *iov, unsigned iov_cnt, size_t offset, size_t
        bytes)
    """
    return int(
        call(
            mem,
            "iov_recv",
            sockfd,
            iov,
            iov_cnt,
            offset,
            bytes_,
        )
    )


def qemu_iovec_init_buf(
    mem: CMemory,
    qiov: int,
    buf: int,
    len_: int,
) -> None:
    """qemu/iov.h:135 (inline)::

    void qemu_iovec_init_buf(QEMUIOVector *qiov, void *buf, size_t len)
    """
    call(
        mem,
        "qemu_iovec_init_buf",
        qiov,
        buf,
        len_,
    )


def qemu_iovec_buf(
    mem: CMemory,
    qiov: int,
) -> int:
    """qemu/iov.h:149 (inline)::

    void *qemu_iovec_buf(QEMUIOVector *qiov)
    """
    return int(
        call(
            mem,
            "qemu_iovec_buf",
            qiov,
        )
    )
