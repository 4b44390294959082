/* iovconf shim for QEMU's "qemu-common.h": only qemu_hexdump (shim.c). */
#ifndef IOVCONF_QEMU_COMMON_H
#define IOVCONF_QEMU_COMMON_H

#include <stddef.h>
#include <stdio.h>

/*
 * QEMU 6.x output: one "PREFIX: LINE\n" per 16 bytes, nothing for size 0.
 * See shim.c for the line format.
 */
void qemu_hexdump(FILE *fp, const char *prefix,
                  const void *bufptr, size_t size);

#endif /* IOVCONF_QEMU_COMMON_H */
