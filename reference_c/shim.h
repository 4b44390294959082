/*
 * iovconf: the machinery around the C code under test (see the files in shim/,
 * one per header they stand in for).
 *
 * Every entry point Python can call is a small wrapper that sets
 * iovconf_jmp with sigsetjmp, calls into C and returns a status.  A failed
 * assert, a fatal GLib error, a missing function, a fatal signal or the CPU
 * timer jumps back to that wrapper, which then returns the status recorded
 * in iovconf_trap.  Nothing ever unwinds across Python or cffi frames.
 * Calls are serialised by the Python facade.
 */
#ifndef IOVCONF_SHIM_H
#define IOVCONF_SHIM_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    IOVCONF_OK = 0,
    IOVCONF_ASSERT = 1,
    IOVCONF_FATAL = 2,
    IOVCONF_CRASH = 3,
    IOVCONF_TIMEOUT = 4,
    IOVCONF_MISSING = 5,
};

struct iovconf_trap {
    int status;       /* IOVCONF_* of the last trapped call */
    int signum;       /* CRASH/TIMEOUT: the signal */
    int line;         /* ASSERT: __LINE__ */
    int err;          /* errno right after the last call (or at its trap) */
    const char *expr; /* ASSERT: the expression as written */
    const char *func; /* ASSERT: __func__ */
    const char *file; /* ASSERT: basename of __FILE__ */
    char message[256];/* FATAL: GLib's message; MISSING: the function name;
                         CRASH: what the allocator detected, if anything */
};

struct iovconf_heap_stats {
    uint64_t allocs;
    uint64_t reallocs;
    uint64_t frees;
    uint64_t serial;  /* serial number of the last block allocated */
};

struct iovconf_stream {
    FILE *fp;
    char *text;
    size_t len;
};

/* A batch (shim/batch.c): tests against one arena, each from the same start. */
struct iovconf_call {
    uint32_t fn;      /* the entry's index (iovconf_dispatch) */
    uint32_t test;    /* the test it belongs to: a test's calls are consecutive */
    uint64_t a[8];    /* the C arguments, converted like the facade converts them */
};

struct iovconf_callres {
    int32_t status;   /* IOVCONF_* */
    int32_t err;      /* errno after the call */
    uint64_t o[4];    /* the out values, then the return value */
    int32_t line;     /* ASSERT */
    int32_t signum;   /* CRASH/TIMEOUT */
    const char *expr; /* ASSERT */
    const char *func;
    const char *file;
    char message[128];/* FATAL, MISSING, CRASH */
};

extern struct iovconf_trap iovconf_trap;
extern sigjmp_buf iovconf_jmp;

/* Used by the wrappers: enter after sigsetjmp, leave after the call.
 * `call` is 1 around C code under test (CPU timer, errno captured). */
void iovconf_enter(int call);
void iovconf_leave(int call);
int iovconf_trapped(void);

void iovconf_fatal(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
void iovconf_missing(const char *name) __attribute__((noreturn));
/* A bad pointer handed to free/realloc: a trapped crash, or abort. */
void iovconf_bad_pointer(const char *what) __attribute__((noreturn));
/* Abort flavour: nonzero while the parent replays a call (see _forked.py). */
extern int iovconf_replaying;
/* Sanitize flavour: report undefined behaviour of `kind` and abort. */
void iovconf_ub(const char *kind, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

/* For Python (build.py reads the cffi cdef from here to the end). */
void iovconf_install(void);
void iovconf_set_timeout_usec(long long usec);
long long iovconf_get_timeout_usec(void);
const struct iovconf_trap *iovconf_last(void);
int iovconf_load(char *dst, uintptr_t src, size_t n);
int iovconf_store(uintptr_t dst, const char *src, size_t n);
uintptr_t iovconf_raw_alloc(size_t n);
void iovconf_raw_free(uintptr_t p);
void iovconf_heap_get_stats(struct iovconf_heap_stats *out);
size_t iovconf_heap_live_since(uint64_t serial);
int iovconf_heap_find(uintptr_t addr, uint64_t *serial, size_t *offset);
size_t iovconf_heap_release_since(uint64_t serial);
/* a batch of tests: returns how many ran (fewer: the C code crashed in the last) */
size_t iovconf_batch(const struct iovconf_call *calls, size_t ncalls, size_t ntests,
                     uintptr_t arena, const char *arena0, size_t arena_len,
                     uint64_t serial0, struct iovconf_callres *cres,
                     uint64_t *words, uint64_t *tests, char *arenas_out,
                     char *heaps_out, size_t heap_cap);
/* the heap's state now is where heap_back returns (one mark at a time) */
void iovconf_heap_mark(void);
void iovconf_heap_back(void);
int iovconf_heap_moved(void);
size_t iovconf_heap_record(uint64_t serial0, char *out, size_t cap);
size_t iovconf_heap_serials(uint64_t serial0, uint64_t *out, size_t cap);
/* the address space (shim/glib.c): the arenas' area, the heap pool's top */
uintptr_t iovconf_space_arenas(size_t *size);
/* another build's address space shared (before this build uses its own): 1 if taken */
void *iovconf_space_state(void);
int iovconf_space_share(void *other);
uintptr_t iovconf_heap_top(void);
void iovconf_heap_rewind(uintptr_t top);
struct iovconf_stream *iovconf_stream_open(void);
int iovconf_stream_close(struct iovconf_stream *s);
void iovconf_stream_free(struct iovconf_stream *s);
/* abort flavour: the forked child records socket I/O, the parent replays */
void iovconf_child_begin(int fd);
void iovconf_child_end(int status);
void iovconf_replay_begin(const char *log, size_t len);
int iovconf_replay_end(void);

#endif /* IOVCONF_SHIM_H */
