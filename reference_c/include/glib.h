/*
 * iovconf: the few GLib allocation entry points that util/iov.c uses,
 * and g_autofree.
 *
 * Implemented in reference_c/shim.c with counters and a table of live
 * blocks.  Semantics (kept identical to pyimpl.memory.Memory):
 *  - a request for 0 bytes returns NULL and counts nothing;
 *  - n * size overflowing size_t is fatal: "overflow allocating N*S bytes";
 *  - a single request above 2**32 bytes is fatal: "failed to allocate N bytes";
 *  - every block is zero-filled (g_realloc zero-fills the part it adds);
 *  - g_free(NULL) is a no-op; g_realloc(p, 0) frees p and returns NULL.
 * A fatal error returns control to the Python wrapper (trap flavour) or
 * aborts the process (abort flavour), as GLib would.
 */
#ifndef IOVCONF_GLIB_H
#define IOVCONF_GLIB_H

#ifdef IOVCONF_PARSE
#include "iovconf-parse.h"
#else
#include <stddef.h>
#endif

typedef void *gpointer;
typedef size_t gsize;

gpointer g_malloc(gsize n_bytes);
gpointer g_malloc0(gsize n_bytes);
gpointer g_realloc(gpointer mem, gsize n_bytes);
gpointer g_malloc_n(gsize n_blocks, gsize n_block_bytes);
gpointer g_malloc0_n(gsize n_blocks, gsize n_block_bytes);
gpointer g_realloc_n(gpointer mem, gsize n_blocks, gsize n_block_bytes);
void g_free(gpointer mem);

/* The count converts to gsize first, so a negative int becomes huge. */
#define g_new(struct_type, n_structs) \
    ((struct_type *)g_malloc_n((n_structs), sizeof(struct_type)))
#define g_new0(struct_type, n_structs) \
    ((struct_type *)g_malloc0_n((n_structs), sizeof(struct_type)))
#define g_renew(struct_type, mem, n_structs) \
    ((struct_type *)g_realloc_n((mem), (n_structs), sizeof(struct_type)))

/*
 * g_autofree (util/iov.c from QEMU 8.2 on): the pointer variable it marks is
 * passed to g_free when it goes out of scope, through the cleanup attribute,
 * as GLib does on gcc and clang.
 */
#ifdef IOVCONF_PARSE
#define g_autofree
#else
static inline void iovconf_autofree_cleanup(void *pointer_to_pointer)
{
    g_free(*(gpointer *)pointer_to_pointer);
}
#define g_autofree __attribute__((cleanup(iovconf_autofree_cleanup)))
#endif

#endif /* IOVCONF_GLIB_H */
