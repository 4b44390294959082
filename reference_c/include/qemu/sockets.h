/*
 * iovconf shim for QEMU's "qemu/sockets.h".  iov.c needs sendmsg/recvmsg;
 * they go through shim/sockets.c, which passes them to the kernel and, in the abort
 * flavour, records their results in the forked child and replays them in the
 * parent (so the I/O happens once).
 */
#ifndef IOVCONF_QEMU_SOCKETS_H
#define IOVCONF_QEMU_SOCKETS_H

#ifdef IOVCONF_PARSE
#include "iovconf-parse.h"
#else
#include <sys/socket.h>
#include <sys/types.h>

ssize_t iovconf_sendmsg(int sockfd, const struct msghdr *msg, int flags);
ssize_t iovconf_recvmsg(int sockfd, struct msghdr *msg, int flags);
#define sendmsg iovconf_sendmsg
#define recvmsg iovconf_recvmsg
#endif

#endif /* IOVCONF_QEMU_SOCKETS_H */
