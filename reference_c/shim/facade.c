/*
 * iovconf: what only the Python facade calls: raw loads and stores under the
 * crash guard, raw blocks for arenas, and memory streams for iov_hexdump's FILE *.
 */
#include "qemu/osdep.h"
#include "shim.h"

/* ------------------------------------------------------------------ */
/* Raw memory for the facade (not the counted heap)                    */

int iovconf_load(char *dst, uintptr_t src, size_t n)
{
    if (sigsetjmp(iovconf_jmp, 0)) {
        return iovconf_trapped();
    }
    iovconf_enter(0);
    memcpy(dst, (const void *)src, n);
    iovconf_leave(0);
    return IOVCONF_OK;
}

int iovconf_store(uintptr_t dst, const char *src, size_t n)
{
    if (sigsetjmp(iovconf_jmp, 0)) {
        return iovconf_trapped();
    }
    iovconf_enter(0);
    memcpy((void *)dst, src, n);
    iovconf_leave(0);
    return IOVCONF_OK;
}

uintptr_t iovconf_raw_alloc(size_t n)
{
    return (uintptr_t)calloc(1, n ? n : 1);
}

void iovconf_raw_free(uintptr_t p)
{
    free((void *)p);
}


/* ------------------------------------------------------------------ */
/* Streams for iov_hexdump's FILE *                                    */

struct iovconf_stream *iovconf_stream_open(void)
{
    struct iovconf_stream *s = calloc(1, sizeof(*s));

    if (s) {
        s->fp = open_memstream(&s->text, &s->len);
        if (!s->fp) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

int iovconf_stream_close(struct iovconf_stream *s)
{
    int ret = fclose(s->fp);

    s->fp = NULL;
    return ret;
}

void iovconf_stream_free(struct iovconf_stream *s)
{
    if (s->fp) {
        fclose(s->fp);
    }
    free(s->text);
    free(s);
}

