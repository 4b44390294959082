/*
 * iovconf shim for QEMU's "qemu/cutils.h": buffer_is_zero and qemu_hexdump
 * (both in shim.c).  QEMU 6.x declared qemu_hexdump in "qemu-common.h"; from
 * 7.1 on util/iov.c no longer includes that header and gets it from here.
 */
#ifndef IOVCONF_QEMU_CUTILS_H
#define IOVCONF_QEMU_CUTILS_H

#ifdef IOVCONF_PARSE
#include "iovconf-parse.h"
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#endif

/* True for len 0 without reading buf; otherwise true iff every byte is 0. */
bool buffer_is_zero(const void *buf, size_t len);

/*
 * QEMU 6.x output: one "PREFIX: LINE\n" per 16 bytes, nothing for size 0.
 * See shim.c for the line format.
 */
void qemu_hexdump(FILE *fp, const char *prefix,
                  const void *bufptr, size_t size);

#endif /* IOVCONF_QEMU_CUTILS_H */
