/*
 * iovconf: the GLib allocation entry points util/iov.c uses (include/glib.h),
 * counted, with a table of live blocks (semantics in include/glib.h).
 *
 * Blocks come from one reserved pool, handed out by the same rule as the port's
 * heap (pyimpl.memory): each block at the pool's top, the top then moved past it
 * by REGION_GAP and aligned to 16; nothing is reused until the top is rewound
 * (when a memory is closed), and rewound pages are handed back zeroed.  So a case
 * gets the same heap addresses here and in the port, and the two heaps compare
 * byte for byte.  The sanitize flavour uses calloc/free instead, so that
 * AddressSanitizer sees every block.
 */
#include "qemu/osdep.h"
#include "shim.h"

#include <sys/mman.h>

/* ------------------------------------------------------------------ */
/* The counted GLib heap                                               */

/* Largest single request; beyond it GLib would run out of memory. */
#define MAX_HEAP_BLOCK ((size_t)1 << 32)

struct block {
    uintptr_t addr;
    size_t size;
    uint64_t serial;
};

static struct block *blocks;
static size_t n_blocks, cap_blocks;
static struct iovconf_heap_stats stats;

/* ------------------------------------------------------------------ */
/* The address space: arenas for the facade, then the heap pool        */

#define REGION_GAP 0x1000           /* pyimpl.memory.REGION_GAP */
#define SPACE_ARENAS ((size_t)64 << 20)
#define SPACE_HEAP ((size_t)64 << 30)

struct space {
    uintptr_t base, pool_base, pool_top, pool_high, pool_end;
};

/*
 * This build's address space, or another build's in this process (iovconf_space_share):
 * two builds of two sources then lay a case out at the same addresses (harness diff), so
 * their states compare as plain numbers.  Their memories open and close in turn.
 */
static struct space own_space, *sp = &own_space;

void *iovconf_space_state(void)
{
    return sp;
}

int iovconf_space_share(void *other)
{
    if (!other || own_space.base) {
        return 0;   /* this build's own space is in use already */
    }
    sp = other;
    return 1;
}

static void space_init(void)
{
#ifndef IOVCONF_SANITIZE
    void *p;

    if (sp->base) {
        return;
    }
    p = mmap(NULL, SPACE_ARENAS + SPACE_HEAP, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        return;         /* no pool: blocks come from calloc */
    }
    sp->base = (uintptr_t)p;
    sp->pool_base = sp->pool_top = sp->pool_high = sp->base + SPACE_ARENAS;
    sp->pool_end = sp->pool_base + SPACE_HEAP;
#endif
}

uintptr_t iovconf_space_arenas(size_t *size)
{
    space_init();
    *size = sp->base ? SPACE_ARENAS : 0;
    return sp->base;
}

uintptr_t iovconf_heap_top(void)
{
    space_init();
    return sp->pool_top;
}

void iovconf_heap_rewind(uintptr_t top)
{
    uintptr_t page = ((top + 4095) & ~(uintptr_t)4095);

    if (!sp->pool_base || top < sp->pool_base || top > sp->pool_top) {
        return;
    }
    /* hand the pages back zeroed, as a fresh pool would have them */
    if (sp->pool_high > top) {
        memset((void *)top, 0, (page < sp->pool_high ? page : sp->pool_high) - top);
        if (sp->pool_high > page) {
            madvise((void *)page, sp->pool_high - page, MADV_DONTNEED);
        }
    }
    sp->pool_top = sp->pool_high = top;
}

static void *block_alloc(size_t n)
{
    uintptr_t start;

    space_init();
    if (!sp->pool_base) {
        return calloc(1, n);
    }
    start = sp->pool_top;
    if (n > sp->pool_end - start || sp->pool_end - start - n < REGION_GAP + 16) {
        return NULL;
    }
    sp->pool_top = (start + n + REGION_GAP + 15) & ~(uintptr_t)15;
    if (sp->pool_top > sp->pool_high) {
        sp->pool_high = sp->pool_top;
    }
    return (void *)start;   /* zero: fresh or rewound pages */
}

static void block_free(void *p)
{
    if (!sp->pool_base) {
        free(p);
    }
    /* pool blocks are not reused before the pool is rewound */
}

static void reserve_block(void)
{
    if (n_blocks == cap_blocks) {
        size_t cap = cap_blocks ? 2 * cap_blocks : 64;
        struct block *grown = realloc(blocks, cap * sizeof(*grown));
        if (!grown) {
            iovconf_fatal("failed to allocate %zu bytes",
                          cap * sizeof(*grown));
        }
        blocks = grown;
        cap_blocks = cap;
    }
}

static struct block *find_block(const void *p)
{
    size_t i = n_blocks;

    while (i-- > 0) {
        if (blocks[i].addr == (uintptr_t)p) {
            return &blocks[i];
        }
    }
    return NULL;
}

static void drop_block(struct block *b)
{
    *b = blocks[--n_blocks];
}

static void *heap_alloc(size_t n)
{
    void *p;

    if (n == 0) {
        return NULL;
    }
    if (n > MAX_HEAP_BLOCK) {
        iovconf_fatal("failed to allocate %zu bytes", n);
    }
    reserve_block();
    p = block_alloc(n);   /* g_malloc zero-fills too: deterministic */
    if (!p) {
        iovconf_fatal("failed to allocate %zu bytes", n);
    }
    stats.allocs++;
    blocks[n_blocks++] = (struct block) {
        .addr = (uintptr_t)p, .size = n, .serial = ++stats.serial,
    };
    return p;
}

static size_t checked_mul(size_t n_blocks_, size_t n_block_bytes)
{
    if (n_block_bytes > 0 && n_blocks_ > SIZE_MAX / n_block_bytes) {
        iovconf_fatal("overflow allocating %zu*%zu bytes",
                      n_blocks_, n_block_bytes);
    }
    return n_blocks_ * n_block_bytes;
}

gpointer g_malloc(gsize n_bytes)
{
    return heap_alloc(n_bytes);
}

gpointer g_malloc0(gsize n_bytes)
{
    return heap_alloc(n_bytes);
}

gpointer g_malloc_n(gsize n_blocks_, gsize n_block_bytes)
{
    return heap_alloc(checked_mul(n_blocks_, n_block_bytes));
}

gpointer g_malloc0_n(gsize n_blocks_, gsize n_block_bytes)
{
    return heap_alloc(checked_mul(n_blocks_, n_block_bytes));
}

void g_free(gpointer mem)
{
    struct block *b;

    if (!mem) {
        return;
    }
    b = find_block(mem);
    if (!b) {
#ifdef IOVCONF_SANITIZE
        iovconf_ub("invalid-free", "g_free(%p): not a live heap block", mem);
#endif
        iovconf_bad_pointer("free(): invalid pointer");
    }
    block_free(mem);
    drop_block(b);
    stats.frees++;
}

gpointer g_realloc(gpointer mem, gsize n_bytes)
{
    struct block *b;
    void *p;

    if (!mem) {
        return heap_alloc(n_bytes);
    }
    if (n_bytes == 0) {
        g_free(mem);
        return NULL;
    }
    b = find_block(mem);
    if (!b) {
#ifdef IOVCONF_SANITIZE
        iovconf_ub("invalid-free", "g_realloc(%p): not a live heap block", mem);
#endif
        iovconf_bad_pointer("realloc(): invalid pointer");
    }
    if (n_bytes > MAX_HEAP_BLOCK) {
        iovconf_fatal("failed to allocate %zu bytes", n_bytes);
    }
    if (sp->pool_base) {   /* a new block, as the port's heap does it */
        p = block_alloc(n_bytes);
        if (!p) {
            iovconf_fatal("failed to allocate %zu bytes", n_bytes);
        }
        memcpy(p, mem, n_bytes < b->size ? n_bytes : b->size);
    } else {
        p = realloc(mem, n_bytes);
        if (!p) {
            iovconf_fatal("failed to allocate %zu bytes", n_bytes);
        }
        if (n_bytes > b->size) {
            memset((char *)p + b->size, 0, n_bytes - b->size);
        }
    }
    b->addr = (uintptr_t)p;
    b->size = n_bytes;
    stats.reallocs++;
    return p;
}

gpointer g_realloc_n(gpointer mem, gsize n_blocks_, gsize n_block_bytes)
{
    return g_realloc(mem, checked_mul(n_blocks_, n_block_bytes));
}

void iovconf_heap_get_stats(struct iovconf_heap_stats *out)
{
    *out = stats;
}

size_t iovconf_heap_live_since(uint64_t serial)
{
    size_t i, live = 0;

    for (i = 0; i < n_blocks; i++) {
        live += blocks[i].serial > serial;
    }
    return live;
}

int iovconf_heap_find(uintptr_t addr, uint64_t *serial, size_t *offset)
{
    size_t i;

    for (i = 0; i < n_blocks; i++) {
        if (addr >= blocks[i].addr && addr - blocks[i].addr < blocks[i].size) {
            *serial = blocks[i].serial;
            *offset = addr - blocks[i].addr;
            return 1;
        }
    }
    return 0;
}

size_t iovconf_heap_release_since(uint64_t serial)
{
    size_t i = 0, released = 0;

    while (i < n_blocks) {
        if (blocks[i].serial > serial) {
            block_free((void *)blocks[i].addr);
            drop_block(&blocks[i]);     /* the last one moves to i */
            released++;
        } else {
            i++;
        }
    }
    return released;
}


/* ------------------------------------------------------------------ */
/* One saved state of the heap, for batches of tests from one start    */

/* blocks up to this size are recorded (and restored) with their bytes */
#define RECORD_BYTES ((size_t)64 << 10)

static struct {
    int set;
    uintptr_t top;
    struct iovconf_heap_stats stats;
    size_t n;
    struct block *blocks;
    char **bytes;
} mark;

static void forget_mark(void)
{
    size_t i;

    for (i = 0; i < mark.n; i++) {
        free(mark.bytes[i]);
    }
    free(mark.bytes);
    free(mark.blocks);
    memset(&mark, 0, sizeof(mark));
}

void iovconf_heap_mark(void)
{
    size_t i;

    forget_mark();
    space_init();
    mark.top = sp->pool_top;
    mark.stats = stats;
    mark.n = n_blocks;
    mark.blocks = malloc((n_blocks ? n_blocks : 1) * sizeof(*mark.blocks));
    mark.bytes = calloc(n_blocks ? n_blocks : 1, sizeof(*mark.bytes));
    if (!mark.blocks || !mark.bytes) {
        iovconf_fatal("failed to allocate the heap mark");
    }
    for (i = 0; i < n_blocks; i++) {
        mark.blocks[i] = blocks[i];
        mark.bytes[i] = malloc(blocks[i].size);
        if (!mark.bytes[i]) {
            iovconf_fatal("failed to allocate the heap mark");
        }
        memcpy(mark.bytes[i], (void *)blocks[i].addr, blocks[i].size);
    }
    mark.set = 1;
}

int iovconf_heap_moved(void)
{
    return mark.set && memcmp(&stats, &mark.stats, sizeof(stats)) != 0;
}

void iovconf_heap_back(void)
{
    size_t i;

    if (!mark.set || !iovconf_heap_moved()) {
        return;
    }
    /* blocks allocated since: gone; blocks of the mark: as they were, where they were */
    for (i = 0; i < n_blocks; i++) {
        if (blocks[i].serial > mark.stats.serial) {
            block_free((void *)blocks[i].addr);
        }
    }
    n_blocks = 0;
    for (i = 0; i < mark.n; i++) {
        reserve_block();
        blocks[n_blocks++] = mark.blocks[i];
        memcpy((void *)mark.blocks[i].addr, mark.bytes[i], mark.blocks[i].size);
    }
    stats = mark.stats;
    if (sp->pool_base) {
        iovconf_heap_rewind(mark.top);
    }
}

static int by_addr(const void *a, const void *b)
{
    const struct block *x = *(const struct block *const *)a;
    const struct block *y = *(const struct block *const *)b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * The live blocks allocated since `serial0`, by address: for each, its address,
 * size and serial (counted from serial0) as three little-endian uint64, then
 * its bytes if it is at most RECORD_BYTES long.  The port's memory makes the
 * same record (pyimpl.memory.Memory.heap_record).  Returns the length, or
 * SIZE_MAX if it does not fit in `cap`.
 */
size_t iovconf_heap_record(uint64_t serial0, char *out, size_t cap)
{
    struct block **live = malloc((n_blocks ? n_blocks : 1) * sizeof(*live));
    size_t i, n = 0, len = 0;

    if (!live) {
        return SIZE_MAX;
    }
    for (i = 0; i < n_blocks; i++) {
        if (blocks[i].serial > serial0) {
            live[n++] = &blocks[i];
        }
    }
    qsort(live, n, sizeof(*live), by_addr);
    for (i = 0; i < n; i++) {
        uint64_t head[3] = { live[i]->addr, live[i]->size, live[i]->serial - serial0 };
        size_t body = live[i]->size <= RECORD_BYTES ? live[i]->size : 0;

        if (len + sizeof(head) + body > cap) {
            free(live);
            return SIZE_MAX;
        }
        memcpy(out + len, head, sizeof(head));
        memcpy(out + len + sizeof(head), (void *)live[i]->addr, body);
        len += sizeof(head) + body;
    }
    free(live);
    return len;
}

/* The serials of the live blocks allocated since `serial0`, in allocation order. */
size_t iovconf_heap_serials(uint64_t serial0, uint64_t *out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; i < n_blocks; i++) {
        if (blocks[i].serial > serial0 && n < cap) {
            out[n++] = blocks[i].serial - serial0;
        }
    }
    return n;
}
