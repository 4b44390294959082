/*
 * iovconf: what the system headers and qemu/osdep.h give util/iov.c, in the
 * plain C that pycparser reads.  Only reference_c/csource.py uses it: it
 * preprocesses with -DIOVCONF_PARSE -nostdinc, and under that define our
 * shim headers include this file instead of any system header.  Nothing is
 * compiled from it; the declarations only have to make the source parse.
 */
#ifndef IOVCONF_PARSE_H
#define IOVCONF_PARSE_H

#ifndef IOVCONF_PARSE
#error "iovconf-parse.h is for reference_c/csource.py only (-DIOVCONF_PARSE)"
#endif

/* <stddef.h>, <stdint.h>, <stdbool.h>, <limits.h>, <sys/types.h> (LP64) */
typedef unsigned long size_t;
typedef long ssize_t;
typedef long ptrdiff_t;
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;
typedef long off_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)
#define SIZE_MAX ((size_t)-1)
#define IOV_MAX 1024

/* <errno.h> */
extern int errno;
#define EINTR 4
#define EAGAIN 11
#define EINVAL 22

/* <stdio.h>, <stdlib.h>, <string.h> */
typedef struct iovconf_parse_file FILE;
void *memcpy(void *dest, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
int memcmp(const void *s1, const void *s2, size_t n);
void qsort(void *base, size_t nmemb, size_t size,
           int (*compar)(const void *, const void *));

/* <sys/uio.h>, <sys/socket.h> */
struct iovec {
    void *iov_base;
    size_t iov_len;
};
struct msghdr {
    void *msg_name;
    unsigned int msg_namelen;
    struct iovec *msg_iov;
    size_t msg_iovlen;
    void *msg_control;
    size_t msg_controllen;
    int msg_flags;
};
ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags);
ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags);
ssize_t send(int sockfd, const void *buf, size_t len, int flags);
ssize_t recv(int sockfd, void *buf, size_t len, int flags);

/* qemu/osdep.h: MIN/MAX as plain ternaries (the statement expressions of
 * the build are GNU C), and assert as a call that carries the expression
 * text and the line, so each site can be read from the syntax tree. */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
void iovconf_assert_site(const char *expr, int line);
#define assert(e) ((e) ? (void)0 : iovconf_assert_site(#e, __LINE__))

#endif /* IOVCONF_PARSE_H */
