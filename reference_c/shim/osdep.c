/*
 * iovconf: the traps of qemu/osdep.h (see shim.h): a failed assert, a fatal GLib
 * error, a missing function, a fatal signal or the CPU timer jumps back to the
 * wrapper that is running; and, in the sanitize flavour, the checks of our own
 * for undefined behaviour the sanitizers are silent about by design.
 *
 * Written for iovconf; see README ("The reference") for the semantics.
 */
#include "qemu/osdep.h"
#include "shim.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/time.h>

struct iovconf_trap iovconf_trap;
sigjmp_buf iovconf_jmp;

/* ------------------------------------------------------------------ */
/* Traps                                                               */

/* A wrapper is running C code on active_thread and owns iovconf_jmp. */
static volatile sig_atomic_t active;
static pthread_t active_thread;

static long long timeout_usec = 2000000;
static volatile sig_atomic_t timer_armed;

static const int guarded_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                       SIGPROF };
#define N_GUARDED (sizeof(guarded_signals) / sizeof(guarded_signals[0]))
static struct sigaction previous[N_GUARDED];
static int installed;

#define ALTSTACK_SIZE (64 * 1024)
static __thread int altstack_ready;

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void arm_timer(void)
{
    if (timeout_usec > 0) {
        struct itimerval it = {
            .it_interval = { 0, 0 },
            .it_value = { (time_t)(timeout_usec / 1000000),
                          (suseconds_t)(timeout_usec % 1000000) },
        };
        timer_armed = 1;
        setitimer(ITIMER_PROF, &it, NULL);
    }
}

static void disarm_timer(void)
{
    if (timer_armed) {
        static const struct itimerval zero;
        setitimer(ITIMER_PROF, &zero, NULL);
        timer_armed = 0;
    }
}

static void setup_altstack(void)
{
    stack_t cur, ss;

    altstack_ready = 1;
    /* Keep an alternate stack this thread already has (faulthandler's). */
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) {
        return;
    }
    ss.ss_sp = malloc(ALTSTACK_SIZE);   /* lives as long as the thread */
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (ss.ss_sp) {
        sigaltstack(&ss, NULL);
    }
}

void iovconf_enter(int call)
{
    if (!altstack_ready) {
        setup_altstack();
    }
    active_thread = pthread_self();
    iovconf_trap.status = IOVCONF_OK;
    iovconf_trap.message[0] = '\0';
    active = 1;
    if (call) {
        arm_timer();
        errno = 0;
    }
}

void iovconf_leave(int call)
{
    int err = errno;

    active = 0;
    if (call) {
        iovconf_trap.err = err;
        disarm_timer();
    }
}

int iovconf_trapped(void)
{
    disarm_timer();
    if (iovconf_trap.status == IOVCONF_CRASH ||
        iovconf_trap.status == IOVCONF_TIMEOUT) {
        /* sigsetjmp(.., 0) did not save the mask: unblock what the
         * handler we left had blocked. */
        sigset_t set;
        size_t i;
        sigemptyset(&set);
        for (i = 0; i < N_GUARDED; i++) {
            sigaddset(&set, guarded_signals[i]);
        }
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    }
    return iovconf_trap.status;
}

/* Jump back to the running wrapper with `status` (already recorded). */
static void __attribute__((noreturn)) trap_out(int status, int err)
{
    iovconf_trap.status = status;
    iovconf_trap.err = err;
    active = 0;
    siglongjmp(iovconf_jmp, 1);
}

static int trapping(void)
{
    return active && pthread_equal(pthread_self(), active_thread);
}

/* Abort flavour: nonzero while the parent replays a call (see _forked.py). */
int iovconf_replaying;

/* Whether a fatal GLib error or a bad free traps, or aborts as it would. */
static int fatal_traps(void)
{
#ifdef IOVCONF_ABORT_MODE
    return iovconf_replaying && trapping();
#else
    return trapping();
#endif
}

void iovconf_assert_fail(const char *expr, const char *file,
                         unsigned int line, const char *func)
{
    int err = errno;

    if (!trapping()) {
        fprintf(stderr, "%s:%u: %s: Assertion `%s' failed.\n",
                file, line, func, expr);
        abort();
    }
    iovconf_trap.expr = expr;
    iovconf_trap.func = func;
    iovconf_trap.file = basename_of(file);
    iovconf_trap.line = (int)line;
    trap_out(IOVCONF_ASSERT, err);
}

void iovconf_fatal(const char *fmt, ...)
{
    int err = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(iovconf_trap.message, sizeof(iovconf_trap.message), fmt, ap);
    va_end(ap);
    if (fatal_traps()) {
        trap_out(IOVCONF_FATAL, err);
    }
    /* What GLib does: log the error and abort the process. */
    fprintf(stderr, "GLib-ERROR **: %s\n", iovconf_trap.message);
    errno = err;
    abort();
}

void iovconf_missing(const char *name)
{
    int err = errno;

    snprintf(iovconf_trap.message, sizeof(iovconf_trap.message), "%s", name);
    if (trapping()) {
        trap_out(IOVCONF_MISSING, err);
    }
    fprintf(stderr, "iovconf: %s is not defined by the C source\n", name);
    abort();
}

/* What the C library does on a bad free: report and abort (SIGABRT).
 * Trapped as a crash so the real heap is never handed a bad pointer. */
void iovconf_bad_pointer(const char *what)
{
    int err = errno;

    snprintf(iovconf_trap.message, sizeof(iovconf_trap.message), "%s", what);
    if (fatal_traps()) {
        iovconf_trap.signum = SIGABRT;
        trap_out(IOVCONF_CRASH, err);
    }
    fprintf(stderr, "%s\n", what);
    errno = err;
    abort();
}

static void chain(int idx, int sig, siginfo_t *info, void *ctx)
{
    const struct sigaction *prev = &previous[idx];

    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) {
            prev->sa_sigaction(sig, info, ctx);
        }
        return;
    }
    if (prev->sa_handler == SIG_IGN) {
        return;
    }
    if (prev->sa_handler != SIG_DFL) {
        prev->sa_handler(sig);
        return;
    }
    if (sig == SIGPROF) {
        return;     /* a late tick of our own timer after the call ended */
    }
    /* Default action: restore it and deliver the signal again; the
     * process dies as it would have without us. */
    sigaction(sig, prev, NULL);
    raise(sig);
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    size_t i;

    if (trapping()) {
        iovconf_trap.signum = sig;
        trap_out(sig == SIGPROF ? IOVCONF_TIMEOUT : IOVCONF_CRASH, errno);
    }
    if (sig == SIGPROF && active) {
        /* The process timer fired on another thread: pass it on. */
        pthread_kill(active_thread, sig);
        return;
    }
    for (i = 0; i < N_GUARDED; i++) {
        if (guarded_signals[i] == sig) {
            chain((int)i, sig, info, ctx);
            return;
        }
    }
}

void iovconf_install(void)
{
    struct sigaction act;
    size_t i;

    if (installed) {
        return;
    }
#ifdef IOVCONF_SANITIZE
    /* The sanitizers report faults themselves; a guard would hide them. */
    installed = 1;
    return;
#endif
    memset(&act, 0, sizeof(act));
    act.sa_sigaction = on_signal;
    act.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&act.sa_mask);
    for (i = 0; i < N_GUARDED; i++) {
        sigaction(guarded_signals[i], &act, &previous[i]);
    }
    installed = 1;
}

void iovconf_set_timeout_usec(long long usec)
{
    timeout_usec = usec > 0 ? usec : 0;
}

long long iovconf_get_timeout_usec(void)
{
    return timeout_usec;
}

const struct iovconf_trap *iovconf_last(void)
{
    return &iovconf_trap;
}


/* ------------------------------------------------------------------ */
/* Checks of our own (sanitize flavour): undefined behaviour that ISO C */
/* names and the sanitizers let pass by design                          */

void iovconf_ub(const char *kind, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "iovconf: undefined behaviour: %s: ", kind);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

#undef memcpy
#undef memset

/* ISO C 7.24.2.1: copying between overlapping objects is undefined, identical
 * ones included (AddressSanitizer does not report dst == src); 7.1.4 and
 * 7.24.1: a NULL argument is undefined even for a count of 0. */
void *iovconf_checked_memcpy(void *dst, const void *src, size_t n,
                             const char *func, int line)
{
    /* in exact arithmetic, as the port computes it: no wrapping of d + n */
    unsigned __int128 d = (uintptr_t)dst, s = (uintptr_t)src;

    if (!dst || !src) {
        iovconf_ub("null-pointer", "memcpy(%p, %p, %zu) in %s at line %d",
                   dst, src, n, func, line);
    }
    if (n && d < s + n && s < d + n) {
        iovconf_ub("overlapping-memcpy", "memcpy(%p, %p, %zu) in %s at line %d",
                   dst, src, n, func, line);
    }
    return memcpy(dst, src, n);
}

void *iovconf_checked_memset(void *dst, int c, size_t n,
                             const char *func, int line)
{
    if (!dst) {
        iovconf_ub("null-pointer", "memset(%p, %d, %zu) in %s at line %d",
                   dst, c, n, func, line);
    }
    return memset(dst, c, n);
}

#ifdef IOVCONF_COVERAGE
/*
 * Coverage flavour: write this process's gcov counters now.  libgcov writes them at
 * exit(); a process that leaves through _exit() (every forked campaign worker does)
 * would lose them.  Default visibility, so Python finds it with ctypes.
 */
extern void __gcov_dump(void);

__attribute__((visibility("default"))) void iovconf_coverage_dump(void)
{
    __gcov_dump();
}
#endif
