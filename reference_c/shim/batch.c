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
 *
 * What Python compares in bulk is laid out as plain 64-bit words:
 *   words[5 * call]  status (IOVCONF_*, -1: not reached), then four words: the out
 *                    values and the return value (OK, zero where unused), or the
 *                    assert's expression, function and file (their addresses: static
 *                    strings) and line (ASSERT), or zeros;
 *   tests[6 * test]  calls made, heap record length (UINT32_MAX: it did not fit in
 *                    heap_cap), allocs, reallocs, frees, blocks live since serial0;
 * the arenas one after another, and the heap records one after another (packed).
 * The full record of a call that did not return (its message) is in cres.
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
                     uint64_t *words, uint64_t *tests, char *arenas_out,
                     char *heaps_out, size_t heap_cap)
{
    size_t t, i = 0, ran = 0, heap_at = 0;

    iovconf_heap_mark();
    for (t = 0; t < ntests; t++) {
        uint64_t *r = &tests[6 * t];
        struct iovconf_heap_stats now;
        size_t len;
        uint64_t made = 0;
        int crashed = 0, stopped = 0;

        iovconf_heap_back();
        memcpy((void *)arena, arena0, arena_len);
        while (i < ncalls && calls[i].test == t) {
            uint64_t *w = &words[5 * i];

            w[1] = w[2] = w[3] = w[4] = 0;
            if (!stopped) {
                int status = iovconf_dispatch(calls[i].fn, calls[i].a, &w[1]);

                w[0] = (uint64_t)(int64_t)status;
                made++;
                if (status != IOVCONF_OK) {
                    struct iovconf_callres *c = &cres[i];

                    stopped = 1;
                    c->status = status;
                    c->err = iovconf_trap.err;
                    c->line = iovconf_trap.line;
                    c->signum = iovconf_trap.signum;
                    c->expr = iovconf_trap.expr;
                    c->func = iovconf_trap.func;
                    c->file = iovconf_trap.file;
                    copy_text(c->message, sizeof(c->message), iovconf_trap.message);
                    if (status == IOVCONF_ASSERT) {
                        w[1] = (uint64_t)(uintptr_t)iovconf_trap.expr;
                        w[2] = (uint64_t)(uintptr_t)iovconf_trap.func;
                        w[3] = (uint64_t)(uintptr_t)iovconf_trap.file;
                        w[4] = (uint64_t)(int64_t)iovconf_trap.line;
                    } else {
                        w[1] = w[2] = w[3] = w[4] = 0;
                    }
                    crashed = status == IOVCONF_CRASH || status == IOVCONF_TIMEOUT;
                }
            } else {
                w[0] = UINT64_MAX;   /* not reached */
            }
            i++;
        }
        memcpy(arenas_out + t * arena_len, (const void *)arena, arena_len);
        len = iovconf_heap_record(serial0, heaps_out + heap_at, heap_cap);
        if (len == SIZE_MAX) {
            r[1] = UINT32_MAX;
        } else {
            r[1] = len;
            heap_at += len;
        }
        iovconf_heap_get_stats(&now);
        r[0] = made;
        r[2] = now.allocs;
        r[3] = now.reallocs;
        r[4] = now.frees;
        r[5] = iovconf_heap_live_since(serial0);
        ran++;
        if (crashed) {
            return ran;     /* C wrote wild memory: no more C here */
        }
    }
    iovconf_heap_back();
    memcpy((void *)arena, arena0, arena_len);
    return ran;
}
