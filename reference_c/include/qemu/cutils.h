/* iovconf shim for QEMU's "qemu/cutils.h": only buffer_is_zero (shim.c). */
#ifndef IOVCONF_QEMU_CUTILS_H
#define IOVCONF_QEMU_CUTILS_H

#include <stdbool.h>
#include <stddef.h>

/* True for len 0 without reading buf; otherwise true iff every byte is 0. */
bool buffer_is_zero(const void *buf, size_t len);

#endif /* IOVCONF_QEMU_CUTILS_H */
