enum { P_NULL, P_ARENA, P_HEAP, P_ABS };
enum { END_RETURNED, END_ASSERT, END_ABORT };

static volatile int call_no;       /* the call being made, from 1 */
static volatile int differences;
static volatile int last_errno;
static const char *volatile failed_expr, *volatile failed_func;
static sigjmp_buf repro_jmp;

static UNUSED int same_expr(const char *a, const char *b);

static void differ(const char *what, const char *fmt, ...)
{
    va_list ap;

    printf("  DIFFERENT %s: ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    differences++;
}

static UNUSED void check_u64(const char *what, unsigned long long got, unsigned long long want)
{
    if (got != want) {
        differ(what, "C %llu (%#llx), the port %llu (%#llx)", got, got, want, want);
    }
}

static UNUSED void check_ptr(const char *what, const void *p, int kind, long long a, long long b)
{
    uintptr_t u = (uintptr_t)p;
    long long off = (long long)(intptr_t)(u - (uintptr_t)A);
    uint64_t serial = 0;
    size_t offset = 0;

    switch (kind) {
    case P_NULL:
        if (p != NULL) {
            differ(what, "C %p, the port NULL", p);
        }
        break;
    case P_ARENA:
        if (off != a) {
            differ(what, "C A%+lld, the port A%+lld", off, a);
        }
        break;
    case P_HEAP:
        if (iovconf_heap_find(u, &serial, &offset)) {
            if ((long long)serial != a || (long long)offset != b) {
                differ(what, "C heap block %llu + %zu, the port heap block %lld + %lld",
                       (unsigned long long)serial, offset, a, b);
            }
        } else if (iovconf_heap_find(u - 1, &serial, &offset)) {
            if ((long long)serial != a || (long long)offset + 1 != b) {
                differ(what, "C heap block %llu + %zu, the port heap block %lld + %lld",
                       (unsigned long long)serial, offset + 1, a, b);
            }
        } else {
            differ(what, "C %p (no live heap block), the port heap block %lld + %lld", p, a, b);
        }
        break;
    default:
        if ((long long)u != a) {
            differ(what, "C %#llx, the port %#llx", (unsigned long long)u, (unsigned long long)a);
        }
    }
}

static UNUSED void check_bytes(const char *what, size_t at, const void *wanted, size_t n)
{
    const unsigned char *want = wanted;
    size_t first = n, last = 0, count = 0;

    for (size_t i = 0; i < n; i++) {
        if (A[at + i] != want[i]) {
            first = first < n ? first : i;
            last = i;
            count++;
        }
    }
    if (count) {
        differ(what, "byte %zu: C %02x, the port %02x (%zu of %zu bytes differ, the last at byte %zu)",
               first, A[at + first], want[first], count, n, last);
    }
}

/* the line number of byte at of text (from 1), and where that line starts */
static UNUSED size_t line_of(const char *text, size_t at, size_t *start)
{
    size_t line = 1;

    *start = 0;
    for (size_t i = 0; i < at; i++) {
        if (text[i] == '\n') {
            line++;
            *start = i + 1;
        }
    }
    return line;
}

static UNUSED int line_length(const char *text, size_t len, size_t start)
{
    const char *end = memchr(text + start, '\n', len - start);

    return (int)(end ? (size_t)(end - (text + start)) : len - start);
}

static UNUSED void check_text(const char *what, const char *got, size_t len,
                                                const char *want, size_t n)
{
    size_t k = 0, start;
    size_t line;

    while (k < len && k < n && got[k] == want[k]) {
        k++;
    }
    if (len == n && k == n) {
        return;
    }
    line = line_of(got, k, &start);
    differ(what, "line %zu differs (C wrote %zu bytes, the port %zu):\n    C:        %.*s\n"
           "    the port: %.*s", line, len, n, start < len ? line_length(got, len, start) : 0, got + start,
           start < n ? line_length(want, n, start) : 0, want + start);
}

/* got[0..got_len) against the port's want_len bytes, known by the CRC-32 of each block bytes */
static UNUSED void check_blocks(const char *what, const unsigned char *got, size_t got_len,
                                size_t want_len, const uint32_t *crcs, size_t block, int text)
{
    for (size_t at = 0; at < want_len; at += block) {
        size_t n = want_len - at < block ? want_len - at : block;

        if (at + n > got_len || repro_crc32(got + at, n) != crcs[at / block]) {
            if (text) {
                size_t start, line = line_of((const char *)got, at < got_len ? at : got_len, &start);

                differ(what, "C's text (%zu bytes, the port's %zu) differs in its bytes %zu to %zu (by "
                       "their CRC-32), from its line %zu:\n    C: %.*s", got_len, want_len, at, at + n,
                       line, start < got_len ? line_length((const char *)got, got_len, start) : 0,
                       (const char *)got + start);
            } else {
                differ(what, "bytes %zu to %zu differ from the port's (by their CRC-32)", at, at + n);
            }
            return;
        }
    }
    if (got_len != want_len) {
        differ(what, "C has %zu bytes, the port %zu", got_len, want_len);
    }
}

/* entries start..start+count of v: base (kind, a + i * da, b + i * db), length len + i * dlen */
static UNUSED void check_iovecs(const char *name, const struct iovec *v, size_t start, size_t count,
                                int kind, long long a, long long da, long long b, long long db,
                                unsigned long long len, unsigned long long dlen)
{
    char what[160];

    for (size_t i = 0; i < count; i++) {
        snprintf(what, sizeof(what), "%s[%zu].iov_base", name, start + i);
        check_ptr(what, v[start + i].iov_base, kind,
                  (long long)((unsigned long long)a + i * (unsigned long long)da),
                  (long long)((unsigned long long)b + i * (unsigned long long)db));
        snprintf(what, sizeof(what), "%s[%zu].iov_len", name, start + i);
        check_u64(what, v[start + i].iov_len, len + i * dlen);
    }
}

static void dump_arena(void)
{
    size_t shown = sizeof(A) < DUMP_BYTES ? sizeof(A) : DUMP_BYTES;

    for (size_t i = 0; i < shown; i += 16) {
        printf("%06zx:", i);
        for (size_t j = i; j < i + 16 && j < shown; j++) {
            printf(" %02x", A[j]);
        }
        printf("\n");
    }
    if (shown < sizeof(A)) {
        printf("... and %zu more bytes\n", sizeof(A) - shown);
    }
}
