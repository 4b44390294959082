/*
 * iovconf: buffer_is_zero (include/qemu/cutils.h) and qemu_hexdump (QEMU 6.x output).
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu-common.h"
#include "shim.h"

#ifdef IOVCONF_SANITIZE
#include <sanitizer/asan_interface.h>

/* Past this many bytes the range is not scanned for poison: it is touched at its end. */
#define WHOLE_RANGE_SCAN ((size_t)1 << 32)
#endif

/* ------------------------------------------------------------------ */
/* qemu/cutils.h, qemu-common.h                                        */

bool buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t i;

#ifdef IOVCONF_SANITIZE
    /*
     * QEMU's buffer_is_zero may read any byte of [buf, buf + len) (its vector versions read
     * the first and last words first), so a range that leaves its object is undefined
     * whatever the bytes hold, as the port has it; the loop below stops at the first
     * nonzero byte, so the sanitizers would never see it.
     */
    if (len > WHOLE_RANGE_SCAN) {
        (void)*(const volatile unsigned char *)(p + len - 1);   /* far past any object */
    } else if (len && __asan_region_is_poisoned((void *)p, len)) {
        iovconf_ub("out-of-bounds", "buffer_is_zero(%p, %zu) reads outside its object",
                   buf, len);
    }
#endif

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

