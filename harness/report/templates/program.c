${prelude}${source_prelude}#include "iov.c"
#include "shim.h"

static unsigned char A[${total}] __attribute__((aligned(16)));
${offsets}#define UNUSED __attribute__((unused))
static UNUSED unsigned char W[${scratch}];  /* the port's bytes of a long value */
#define DUMP_BYTES ${dump_bytes}

${streams}${compact_helpers}${helpers}
static void check_final(void)
{
${final_checks}}

static void repro_end(int how) __attribute__((noreturn));
static void repro_end(int how)
{
    int made = call_no;

    ASAN_UNPOISON_MEMORY_REGION(A, sizeof(A));
${how_it_ended}    check_final();
    printf("arena at the end:\n");
    dump_arena();
${undecided}    if (differences) {
        printf("DIFFERENT: %d difference%s from the port\n", differences,
               differences == 1 ? "" : "s");
        exit(${differ});
    }
    printf("AGREE: C does what the port says\n");
    exit(${agree});
}

static int same_expr(const char *a, const char *b)
{
    /* the C library's text of an expression is the source's, maybe spaced otherwise */
    for (;;) {
        while (*a == ' ') a++;
        while (*b == ' ') b++;
        if (*a != *b) return 0;
        if (!*a) return 1;
        a++, b++;
    }
}

static void repro_assert_fail(const char *expr, const char *file, unsigned int line,
                              const char *func)
{
    fprintf(stderr, "%s:%u: %s: Assertion `%s' failed.\n", file, line, func, expr);
    failed_expr = expr;
    failed_func = func;
    repro_end(END_ASSERT);
}

static void on_abort(int sig)
{
    (void)sig;
    siglongjmp(repro_jmp, 1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGABRT, on_abort);
    if (sigsetjmp(repro_jmp, 1)) {
        repro_end(END_ABORT);  /* a fatal GLib error (or another abort) */
    }
${calls}    repro_end(END_RETURNED);
}
