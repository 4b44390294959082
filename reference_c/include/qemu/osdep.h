/*
 * iovconf shim for QEMU's "qemu/osdep.h": the system headers util/iov.c
 * needs, GLib, MIN/MAX, and the trapped assert().
 *
 * Build with -D_GNU_SOURCE (IOV_MAX comes from <limits.h>) and
 * -DCONFIG_POSIX (the sendmsg/recvmsg path of do_send_recv).
 */
#ifndef IOVCONF_QEMU_OSDEP_H
#define IOVCONF_QEMU_OSDEP_H

#ifdef IOVCONF_PARSE
/* reference_c/csource.py: no system header, no GNU C (iovconf-parse.h) */
#include "iovconf-parse.h"
#include <glib.h>
#else

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <assert.h>

#include <glib.h>

#ifndef IOV_MAX
#error "IOV_MAX is not defined: build with -D_GNU_SOURCE"
#endif
#if IOV_MAX != 1024
#error "IOV_MAX is expected to be 1024"
#endif

/*
 * MIN/MAX evaluate each argument exactly once; the comparison and the
 * result use the usual arithmetic conversions of the two arguments, so
 * MIN(ptrdiff_t, size_t) compares (and yields) size_t.
 */
#undef MIN
#define MIN(a, b)                                        \
    __extension__({                                      \
        __auto_type iovconf_min_a_ = (a);                \
        __auto_type iovconf_min_b_ = (b);                \
        iovconf_min_a_ < iovconf_min_b_ ? iovconf_min_a_ \
                                        : iovconf_min_b_; \
    })
#undef MAX
#define MAX(a, b)                                        \
    __extension__({                                      \
        __auto_type iovconf_max_a_ = (a);                \
        __auto_type iovconf_max_b_ = (b);                \
        iovconf_max_a_ > iovconf_max_b_ ? iovconf_max_a_ \
                                        : iovconf_max_b_; \
    })

/*
 * assert().  Like the C library's it vanishes under NDEBUG, so the build
 * passes -UNDEBUG last.
 *
 * "trap" flavour: a failure records the expression text, line, function and
 * file and jumps back to the wrapper that called into C (shim/osdep.c).
 *
 * "abort" flavour (-DIOVCONF_ABORT_MODE): a failure calls the C library's
 * __assert_fail with exactly what its assert macro passes, so the process
 * prints "FILE:LINE: FUNC: Assertion `EXPR' failed." and aborts.  That is
 * what runs in the forked child of each call.  Only while the parent process
 * replays the call (to reproduce the child's side effects, see
 * reference_c/_forked.py) does a failure trap instead.
 */
void iovconf_assert_fail(const char *expr, const char *file,
                         unsigned int line, const char *func)
    __attribute__((noreturn));
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#elif defined(IOVCONF_ABORT_MODE)
extern int iovconf_replaying;
#define assert(e)                                                         \
    ((e) ? (void)0                                                        \
         : iovconf_replaying                                              \
             ? iovconf_assert_fail(#e, __FILE__, __LINE__, __func__)      \
             : __assert_fail(#e, __FILE__, __LINE__, __func__))
#else
#define assert(e) \
    ((e) ? (void)0 : iovconf_assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#endif /* IOVCONF_PARSE */

/*
 * The helpers of QEMU's osdep.h and compiler.h that a patch to iov.c is most
 * likely to use (no released iov.c does yet); each is written here from its
 * documented meaning.  ROUND_UP and QEMU_ALIGN_UP differ as in QEMU: the
 * first wants a power of two, the second any multiple.
 */
#ifdef IOVCONF_PARSE
#define likely(x) (x)
#define unlikely(x) (x)
#else
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#define QEMU_BUILD_BUG_ON(x) _Static_assert(!(x), "not expecting: " #x)
#define QEMU_ALIGN_DOWN(n, m) ((n) / (m) * (m))
#define QEMU_ALIGN_UP(n, m) QEMU_ALIGN_DOWN((n) + (m) - 1, (m))
#define QEMU_IS_ALIGNED(n, m) (((n) % (m)) == 0)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ROUND_DOWN(n, d) ((n) & -(0 ? (n) : (d)))
#define ROUND_UP(n, d) ROUND_DOWN((n) + (d) - 1, (d))
#define MIN_NON_ZERO(a, b) ((a) == 0 ? (b) : ((b) == 0 ? (a) : MIN((a), (b))))
/* GLib's assertion macros, failing as assert() does here */
#define g_assert(e) assert(e)
#define g_assert_not_reached() assert(!"g_assert_not_reached")

/*
 * Sanitize flavour: memcpy and memset go through checks of our own first
 * (shim/osdep.c), for what ISO C leaves undefined and the sanitizers let pass:
 * overlapping copies between identical objects and NULL arguments with a
 * count of 0.  Other flavours call the C library directly.
 */
#ifdef IOVCONF_SANITIZE
void *iovconf_checked_memcpy(void *dst, const void *src, size_t n,
                             const char *func, int line);
void *iovconf_checked_memset(void *dst, int c, size_t n,
                             const char *func, int line);
#undef memcpy
#define memcpy(d, s, n) iovconf_checked_memcpy((d), (s), (n), __func__, __LINE__)
#undef memset
#define memset(d, c, n) iovconf_checked_memset((d), (c), (n), __func__, __LINE__)
#endif

#endif /* IOVCONF_QEMU_OSDEP_H */
