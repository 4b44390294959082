/*
 * iovconf shim for QEMU's "qemu-common.h" (included by util/iov.c up to
 * QEMU 7.0): only qemu_hexdump, which qemu/cutils.h declares.
 */
#ifndef IOVCONF_QEMU_COMMON_H
#define IOVCONF_QEMU_COMMON_H

#include "qemu/cutils.h"

#endif /* IOVCONF_QEMU_COMMON_H */
