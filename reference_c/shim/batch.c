/*
 * iovconf: a batch of tests in one crossing from Python.
 *
 * Every test starts from the same state: the arena's bytes as Python gave them
 * (arena0) and the heap as it was when the batch began (iovconf_heap_mark).  A
 * test's calls run in order through iovconf_dispatch (the generated table of
 * wrappers, one per function of the source) until one does not return; then
 * the arena's bytes and a record of the heap are copied out for Python to
 * compare with the port's.  A crash ends the batch: the process is not trusted
 * to run more C.
 */
#include "qemu/osdep.h"
#include "shim.h"

int iovconf_dispatch(uint32_t fn, const uint64_t *a, uint64_t *o);

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

size_t iovconf_batch(const struct iovconf_call *calls, size_t ncalls, size_t ntests,
                     uintptr_t arena, const char *arena0, size_t arena_len,
                     uint64_t serial0, struct iovconf_callres *cres,
                     struct iovconf_testres *tres, char *arenas_out,
                     char *heaps_out, size_t heap_cap)
{
    size_t t, i = 0, ran = 0;

    iovconf_heap_mark();
    for (t = 0; t < ntests; t++) {
        struct iovconf_testres *r = &tres[t];
        struct iovconf_heap_stats now;
        size_t len;
        int crashed = 0;

        iovconf_heap_back();
        memcpy((void *)arena, arena0, arena_len);
        r->calls = 0;
        while (i < ncalls && calls[i].test == t) {
            struct iovconf_callres *c = &cres[i];
            int status;

            if (r->calls == 0 || cres[i - 1].status == IOVCONF_OK) {
                status = iovconf_dispatch(calls[i].fn, calls[i].a, c->o);
                c->status = status;
                c->err = iovconf_trap.err;
                if (status != IOVCONF_OK) {
                    c->line = iovconf_trap.line;
                    c->signum = iovconf_trap.signum;
                    c->expr = iovconf_trap.expr;
                    c->func = iovconf_trap.func;
                    c->file = iovconf_trap.file;
                    copy_text(c->message, sizeof(c->message), iovconf_trap.message);
                    crashed = status == IOVCONF_CRASH || status == IOVCONF_TIMEOUT;
                }
                r->calls++;
            } else {
                c->status = -1;   /* not reached */
            }
            i++;
        }
        memcpy(arenas_out + t * arena_len, (const void *)arena, arena_len);
        len = iovconf_heap_record(serial0, heaps_out + t * heap_cap, heap_cap);
        r->heap_len = len == SIZE_MAX ? UINT32_MAX : (uint32_t)len;
        iovconf_heap_get_stats(&now);
        r->allocs = now.allocs;
        r->reallocs = now.reallocs;
        r->frees = now.frees;
        r->live = iovconf_heap_live_since(serial0);
        ran++;
        if (crashed) {
            return ran;     /* C wrote wild memory: no more C here */
        }
    }
    iovconf_heap_back();
    memcpy((void *)arena, arena0, arena_len);
    return ran;
}
