/*
 * coro.h - Lua 5.4 coroutines for C.
 *
 * The only public header of the coro library. Asymmetric, stackful coroutines
 * with the semantics of Lua 5.4's coroutine library: create, resume, yield,
 * status, running, isyieldable, wrap and close; errors raised inside a
 * coroutine are caught by resume and returned as values; cleanups run on
 * return, on error and on close. And a runtime over them (second half of
 * this file): an event loop running coroutines as tasks, with timers,
 * channels, select, locks, cancellation and task groups.
 *
 * Conventions used by every call:
 *   - Functions returning int return a value >= 0 on success and a negative
 *     CORO_E* code on failure. coro_strerror() gives the message (Lua's
 *     wording where Lua has one), coro_errname() the code's name.
 *   - Misuse of the API (a NULL handle, resuming a dead coroutine, yielding
 *     outside a coroutine, ...) returns an error code and changes nothing.
 *   - A coroutine belongs to the thread that created it; every thread has its
 *     own main coroutine, created on first use.
 *   - "May suspend" marks calls that can switch to another coroutine.
 *
 * MIT licensed; see LICENSE.
 */
#ifndef CORO_H
#define CORO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CORO_VERSION_MAJOR 0
#define CORO_VERSION_MINOR 1
#define CORO_VERSION_PATCH 0
#define CORO_VERSION "0.1.0"

#if defined(__GNUC__) && __GNUC__ >= 4
#define CORO_API __attribute__((visibility("default")))
#define CORO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CORO_API
#define CORO_PRINTF(f, a)
#endif

/*
 * Error codes. X(NAME, value, message). Where a POSIX errno fits, the value is
 * its negation (Linux numbering); the others count down from -1000.
 */
#define CORO_ERRNO_MAP(X)                                                                          \
    X(EINVAL, -22, "invalid argument")                                                             \
    X(ENOMEM, -12, "not enough memory")                                                            \
    X(EDEAD, -1000, "cannot resume dead coroutine")                                                \
    X(ENOTSUSP, -1001, "cannot resume non-suspended coroutine")                                    \
    X(EOUTSIDE, -1002, "attempt to yield from outside a coroutine")                                \
    X(ECBOUNDARY, -1003, "attempt to yield across a C-call boundary")                              \
    X(ECLOSERUN, -1004, "cannot close a running coroutine")                                        \
    X(ECLOSENORM, -1005, "cannot close a normal coroutine")                                        \
    X(ECLOSED, -1006, "cannot close a closed coroutine")                                           \
    X(ETHREAD, -1007, "cannot use a coroutine from another thread")                                \
    X(EERROR, -1008, "error raised in coroutine")                                                  \
    X(ENOHANDLER, -1009, "error raised outside a coroutine or protected call")                     \
    X(EMAINCO, -1010, "cannot destroy the main coroutine")                                         \
    X(EMAPS, -1011,                                                                                \
      "too many memory mappings for guarded stacks: raise vm.max_map_count "                       \
      "(sysctl -w vm.max_map_count=N)")                                                            \
    X(ETIMEDOUT, -110, "timed out")                                                                \
    X(ECANCELED, -125, "canceled")                                                                 \
    X(EAGAIN, -11, "would block")                                                                  \
    X(EPERM, -1, "operation not permitted")                                                        \
    X(EBUSY, -16, "busy")                                                                          \
    X(EDEADLK, -35, "deadlock: every task is blocked and nothing can wake one")                    \
    X(ECHCLOSED, -1012, "channel is closed")                                                       \
    X(ENOLOOP, -1013, "not called from a task of a running loop")                                  \
    X(ESELF, -1014, "a task cannot await itself")                                                  \
    X(ETASKCO, -1015, "a task's coroutine is resumed and freed by its loop only")                  \
    X(ETASKCANCELED, -1016, "the awaited task was canceled")                                       \
    X(EENDED, -1017, "the loop has ended")                                                         \
    X(EBADF, -9, "bad file descriptor (or closed while waited on)")                                \
    X(ENOENT, -2, "no such file or directory")                                                     \
    X(EIO, -5, "input/output error")                                                               \
    X(EACCES, -13, "permission denied")                                                            \
    X(ENFILE, -23, "too many open files in the system")                                            \
    X(EMFILE, -24, "too many open files")                                                          \
    X(EPIPE, -32, "broken pipe")                                                                   \
    X(ENOTSOCK, -88, "not a socket")                                                               \
    X(EADDRINUSE, -98, "address already in use")                                                   \
    X(EADDRNOTAVAIL, -99, "address not available")                                                 \
    X(ENETUNREACH, -101, "network unreachable")                                                    \
    X(ECONNABORTED, -103, "connection aborted")                                                    \
    X(ECONNRESET, -104, "connection reset by peer")                                                \
    X(ENOTCONN, -107, "not connected")                                                             \
    X(ECONNREFUSED, -111, "connection refused")                                                    \
    X(EHOSTUNREACH, -113, "host unreachable")                                                      \
    X(ENOSYS, -38, "not supported here")

/* The error codes: CORO_EINVAL, CORO_ENOMEM, CORO_EDEAD, ... */
enum coro_error_code {
#define CORO_X_(name, value, msg) CORO_##name = (value),
    CORO_ERRNO_MAP(CORO_X_)
#undef CORO_X_
        CORO_OK = 0
};

/* The message for an error code ("cannot resume dead coroutine"); for
 * another negative errno code passed on by an I/O call (-EISDIR ...) the
 * system's message (strerror); "unknown error" for a value that is none of
 * these. Never NULL. */
CORO_API const char *coro_strerror(int err);

/* The name of an error code ("CORO_EDEAD"), or "CORO_UNKNOWN". Never NULL. */
CORO_API const char *coro_errname(int err);

/* A coroutine. Opaque; created by coro_create() or coro_wrap(), freed by
 * coro_destroy(). Each thread also has a main coroutine (see coro_running). */
typedef struct coro coro;

/* A coroutine body. It receives the value passed to the first resume and
 * returns the value that the last resume receives. */
typedef void *(*coro_fn)(void *arg);

/* Options for coro_create() and coro_wrap(); a NULL pointer or a zeroed
 * struct gives the defaults. Initialise with CORO_OPTIONS_INIT or = {0}. */
typedef struct coro_options {
    /* Usable stack bytes; 0 means CORO_STACK_DEFAULT. Rounded up to whole
     * pages; values below CORO_STACK_MIN are raised to it, values above
     * CORO_STACK_MAX refused (see CORO_STACK_DEFAULT). */
    size_t stack_size;
    /* A name for diagnostics (stack overflow reports, dumps). The string is
     * copied; NULL means "" (the id still identifies the coroutine). */
    const char *name;
    /* Anything the caller wants to keep with the coroutine; see
     * coro_userdata(). */
    void *user_data;
    /* CORO_COPY_STACK or 0. */
    unsigned flags;
} coro_options;

#define CORO_OPTIONS_INIT                                                                          \
    {                                                                                              \
        0, NULL, NULL, 0                                                                           \
    }

/*
 * CORO_COPY_STACK: massive concurrency mode, for millions of mostly idle
 * coroutines. The coroutine runs on its thread's shared stack (one per
 * thread, CORO_SHARED_STACK_SIZE bytes, guard-paged like any other, so an
 * overflow is still reported by name); when another coroutine needs the
 * shared stack, the live bytes of the one using it (from its stack pointer
 * to the top) are copied to a right-sized buffer and copied back when it
 * runs again. A suspended coroutine then costs its control block plus its
 * live stack, in a buffer of the size it had at the deepest switch so far
 * (it does not shrink). stack_size is ignored. Switching between a copy-mode
 * coroutine and one with its own stack (the main coroutine, say) copies
 * nothing; switching between two copy-mode coroutines copies both ways.
 *
 * The one rule it imposes: a pointer into a copy-mode coroutine's stack (the
 * address of one of its locals) must not be used while that coroutine is
 * switched out, by anyone: its bytes are then elsewhere, and another
 * coroutine's frames occupy those addresses. Pass such data by value, or in
 * memory that is not on the stack. (A pointer handed back to the coroutine
 * whose stack it points into is fine: its bytes are back before it runs.)
 * coro checks the values passed through resume and yield and aborts with a
 * message naming the coroutine when one points into the shared stack and is
 * handed to a copy-mode coroutine that will run over those bytes: below
 * that coroutine's own frames, or into the live frames of the copy-mode
 * coroutine passing it. (Whose frames a pointer means cannot always be told
 * from its address, so this check finds most such mistakes, not all.)
 *
 * Resume, yield, close and destroy may return CORO_ENOMEM in this mode (a
 * buffer for the outgoing coroutine's stack cannot be grown); nothing
 * changes then. One switch cannot be refused: when a coroutine ends and its
 * resumer's frames must be copied back over those of a copy-stack coroutine
 * that switched to an own-stack one, and there is no memory for the latter's
 * bytes, coro prints which coroutines were involved and aborts rather than
 * lose them.
 * Not available with the ucontext backend on architectures coro has no
 * register map for: coro_create returns CORO_EINVAL.
 */
#define CORO_COPY_STACK 0x1u
#define CORO_SHARED_STACK_SIZE ((size_t)1024 * 1024)

/*
 * The default stack: 256 KiB of address space, committed lazily by the
 * kernel, so a coroutine that touches 8 KiB costs 8 KiB of memory. It is deep
 * enough for printf-family calls (a few KiB each) and moderate recursion.
 * The minimum keeps room for the library's own frames and a signal frame;
 * the maximum is far beyond any real need (a larger stack_size is refused
 * with CORO_EINVAL, one the system cannot map with CORO_ENOMEM).
 *
 * Below every stack lies a guard region of CORO_STACK_GUARD bytes that is
 * never accessible (address space only: it costs no memory). A coroutine
 * that overflows its stack faults there, and coro reports it by name and
 * aborts:
 *     coro: stack overflow in coroutine "parser" (id 7, stack 262144 bytes)
 * A single frame larger than the guard (a big array, alloca, a VLA) can
 * jump past it into whatever is mapped below, another coroutine's stack
 * perhaps, and corrupt it silently. Code with such frames must be built
 * with -fstack-clash-protection (gcc, clang: every page of a large frame
 * is touched in order, so the guard is hit whatever the frame's size), or
 * run on a stack large enough for them.
 */
#define CORO_STACK_DEFAULT ((size_t)256 * 1024)
#define CORO_STACK_MIN ((size_t)16 * 1024)
#define CORO_STACK_MAX ((size_t)1 << (sizeof(size_t) >= 8 ? 40 : 30))
#define CORO_STACK_GUARD ((size_t)256 * 1024)

/* A coroutine's status, as returned by coro_status(). */
enum coro_status_code {
    CORO_SUSPENDED = 0, /* created and not started, or stopped in yield */
    CORO_RUNNING = 1,   /* it is the one running now */
    CORO_NORMAL = 2,    /* alive, but it resumed another coroutine */
    CORO_DEAD = 3       /* its body returned or raised an error, or closed */
};

/*
 * Creates a coroutine that will run fn. It starts suspended; the first
 * coro_resume() calls fn with the value passed to that resume.
 * opt may be NULL for the defaults. Stores the handle in *co.
 * Returns 0, CORO_EINVAL (co or fn NULL, or a stack_size above
 * CORO_STACK_MAX), CORO_ENOMEM, or CORO_EMAPS (the
 * kernel's limit on memory mappings is reached). Does not suspend.
 */
CORO_API int coro_create(coro **co, coro_fn fn, const coro_options *opt);

/*
 * Starts or continues co, passing it `in`: the body's argument on the first
 * resume, coro_yield()'s received value after that. Runs co until it yields
 * or finishes, and stores in *out (if out is not NULL) the value it yielded
 * or returned. The caller becomes "normal" while co runs.
 *
 * Returns 1 if co yielded (it is suspended and can be resumed again), 0 if
 * its body returned (it is dead), or a negative code:
 *   CORO_EERROR   co raised an error; it is dead, its cleanups have run; the
 *                 message is coro_errmsg(co) and *out receives the error
 *                 value (coro_errvalue(co)).
 *   CORO_EDEAD    co is dead ("cannot resume dead coroutine").
 *   CORO_ENOTSUSP co is running, normal, or a main coroutine.
 *   CORO_ETHREAD  co belongs to another thread.
 *   CORO_EINVAL   co is NULL.
 * Suspends the caller until co yields or finishes.
 */
CORO_API int coro_resume(coro *co, void *in, void **out);

/*
 * Suspends the running coroutine, making coro_resume() in its resumer return
 * 1 with `out`. When the coroutine is resumed again, stores that resume's
 * value in *in (if in is not NULL) and returns 0.
 * Returns CORO_EOUTSIDE when called from a main coroutine, CORO_ECBOUNDARY
 * from a cleanup run by coro_close(); nothing is suspended then.
 */
CORO_API int coro_yield(void *out, void **in);

/*
 * The status of co: CORO_SUSPENDED, CORO_RUNNING, CORO_NORMAL or CORO_DEAD,
 * or CORO_EINVAL if co is NULL. A coroutine that has yielded is suspended.
 */
CORO_API int coro_status(const coro *co);

/* "suspended", "running", "normal" or "dead" for a status; "invalid" for
 * anything else. Never NULL. */
CORO_API const char *coro_status_name(int status);

/*
 * The running coroutine of the calling thread: the thread's main coroutine
 * when no coroutine is running. If ismain is not NULL, stores 1 there when
 * the result is the main coroutine, else 0. Never NULL (returns NULL only if
 * the thread's state cannot be allocated).
 */
CORO_API coro *coro_running(int *ismain);

/*
 * 1 if co can yield now, else 0: a coroutine can yield when it is not a main
 * coroutine and is not running a cleanup on behalf of coro_close(). NULL
 * means the running coroutine, as in Lua.
 */
CORO_API int coro_isyieldable(const coro *co);

/*
 * Closes co, as Lua 5.4's coroutine.close. co must be suspended or dead.
 * A suspended coroutine is unwound: its pending cleanups run, in LIFO order,
 * on its own stack (they may use its locals) and may not yield. Its stack is
 * released; the handle stays valid (status dead) until coro_destroy().
 * Returns 0, or CORO_EERROR when co died by an error or a cleanup raised one
 * (the last error wins; coro_errmsg(co) has it). As in Lua, the error is
 * reported by the first close only: closing a closed coroutine again
 * returns 0 and changes nothing (coro_errmsg(co) keeps the message).
 * Returns CORO_ECLOSERUN / CORO_ECLOSENORM for a running / normal
 * coroutine, CORO_ETHREAD, CORO_EINVAL, or CORO_ENOMEM (copy-stack mode,
 * see CORO_COPY_STACK; nothing changed). (CORO_ECLOSED is no longer
 * returned; the code stays for programs that name it.)
 * May run cleanups on co's stack; never suspends the caller.
 */
CORO_API int coro_close(coro *co);

/*
 * Closes co if it is not closed yet (see coro_close(), whose result is not
 * reported) and frees it; the handle is invalid afterwards. Returns 0, or
 * CORO_ECLOSERUN / CORO_ECLOSENORM / CORO_EMAINCO / CORO_EINVAL, or
 * CORO_ENOMEM when the close needed memory it could not get (copy-stack
 * mode only); then it frees nothing and co keeps its pending cleanups.
 *
 * From another thread: while co's thread lives, a coroutine that is dead or
 * was never started may be destroyed; one suspended mid-body has cleanups
 * that must run on its own thread, so that is refused with CORO_ETHREAD, as
 * is any copy-stack coroutine (CORO_COPY_STACK) and one that is running or
 * normal. Once co's thread has exited, any coroutine it left suspended may
 * be destroyed from any thread; its pending cleanups do not run (there is
 * no thread left to run them). A thread's coro state stays allocated until
 * the last coroutine it created is destroyed.
 */
CORO_API int coro_destroy(coro *co);

/*
 * Creates a generator, as Lua's coroutine.wrap: a coroutine meant to be
 * driven by coro_call(). Same arguments and results as coro_create().
 */
CORO_API int coro_wrap(coro **gen, coro_fn fn, const coro_options *opt);

/*
 * Calls the generator gen (resumes it with `in`), storing the value it
 * yields or returns in *out. Returns 1 if it yielded, 0 if it returned.
 * An error inside gen propagates, as with Lua's wrap: gen is closed, and the
 * error (message and value) is raised again in the caller when the caller
 * can catch it (it is a coroutine or inside coro_pcall); otherwise
 * coro_call returns CORO_EERROR with coro_errmsg(gen). A call that cannot
 * resume gen (a finished generator, one that is running or normal, NULL,
 * another thread's: coro_resume()'s codes) is raised in the same way, with
 * coro_resume's message ("cannot resume dead coroutine", as Lua's wrap
 * raises it), and returned as the code from a main coroutine outside
 * coro_pcall. Suspends the caller until gen yields or finishes.
 */
CORO_API int coro_call(coro *gen, void *in, void **out);

/*
 * Raises an error with a printf-style message (Lua's error()). The running
 * coroutine unwinds to its innermost coro_pcall() or, without one, to its
 * body, which ends: its resumer gets CORO_EERROR. Cleanups run on the way,
 * LIFO. Does not return when there is a handler; on a main coroutine outside
 * any coro_pcall it returns CORO_ENOHANDLER and raises nothing. fmt may be
 * NULL (the message is then "(error object is not a string)").
 */
CORO_API int coro_error(const char *fmt, ...) CORO_PRINTF(1, 2);

/* As coro_error(), also carrying a value of the caller's (an error object);
 * it reaches coro_errvalue() and resume's *out. */
CORO_API int coro_error_value(void *value, const char *fmt, ...) CORO_PRINTF(2, 3);

/*
 * Calls fn(arg) in protected mode (Lua's pcall), on the running coroutine
 * (or the main one). fn may yield. Errors raised below it stop there: it
 * returns CORO_EERROR, stores the error value in *out, and
 * coro_errmsg(coro_running(NULL)) gives the message until the next error.
 * On success stores fn's result in *out and returns 0, and the coroutine's
 * error (an earlier caught one, or one being unwound when the pcall runs in
 * a cleanup) is left as it was. Cleanups registered by coro_defer() inside
 * fn run when fn ends, either way. coro_close()
 * unwinds through a protected call without stopping. out may be NULL.
 * May suspend the caller if fn does.
 */
CORO_API int coro_pcall(coro_fn fn, void *arg, void **out);

/*
 * Registers fn(arg) to run when the innermost enclosing scope ends: the body
 * of the running coroutine, or the function run by coro_pcall(). Cleanups
 * run in LIFO order on return, on error (unwinding) and on coro_close(); a
 * cleanup that raises an error replaces the error in flight, and the
 * remaining cleanups still run. While unwinding an error, a cleanup sees it
 * with coro_errmsg(coro_running(NULL)). On error and on close, cleanups run
 * before any stack frame is unwound, so they may use the locals of every
 * frame still live at that point. On a normal return they run after the
 * body or fn has returned: they must not then point at its locals, nor at
 * those of any function that returned before the scope ended. On a main coroutine outside any
 * coro_pcall, cleanups have no scope: returns CORO_ENOHANDLER. Returns 0, CORO_EINVAL (fn NULL), or
 * CORO_ENOMEM; in both error cases fn is not registered.
 */
CORO_API int coro_defer(void (*fn)(void *arg), void *arg);

/*
 * The message of co's error: the one it died with (after coro_resume or
 * coro_close returned CORO_EERROR), the one caught by its latest failed
 * coro_pcall, or the one being unwound while its cleanups run. An error
 * caught inside a scope (a body or a coro_pcall's fn) that then ends well is
 * forgotten when the scope ends: a coroutine that caught an error and
 * returned normally has none. NULL when there is none or co is NULL. The
 * string is valid until co's next error, the end of that scope, or destroy.
 */
CORO_API const char *coro_errmsg(const coro *co);

/* The value carried with co's error (see coro_errmsg); NULL if none. */
CORO_API void *coro_errvalue(const coro *co);

/* co's name ("" when it has none, "main" for a main coroutine), NULL if co
 * is NULL. */
CORO_API const char *coro_name(const coro *co);

/* co's numeric id: unique in the process, never reused; 0 if co is NULL.
 * Main coroutines have ids too. */
CORO_API unsigned long long coro_id(const coro *co);

/* The user_data given at creation (NULL if co is NULL). */
CORO_API void *coro_userdata(const coro *co);

/* Stores user_data in co. Returns 0 or CORO_EINVAL. */
CORO_API int coro_set_userdata(coro *co, void *user_data);

/* ======================================================================
 * The runtime: an event loop running coroutines as tasks.
 *
 * coro_run() runs a main function as the first task of a loop on the
 * calling thread and returns when it and every task it started are done.
 * Tasks are coroutines the loop resumes; a task suspends in a blocking call
 * (sleep, channel, lock, await, ...) and the loop runs another. One loop per
 * thread; tasks and groups belong to the loop they were made on and are
 * used from its tasks only. Channels, select, mutexes, semaphores, wait
 * groups and events may be used by the tasks of every loop of one run
 * (coro_run_options.loops), with the same semantics; never by two runs.
 *
 * Blocking calls ("may suspend") have an _until form taking an absolute
 * deadline on the loop's clock (coro_now); a deadline that has passed times
 * out at once when the call cannot complete at once. They return
 * CORO_ETIMEDOUT at the deadline, CORO_ECANCELED when the task is canceled
 * (then every later blocking call of that task returns it at once, even
 * one that could complete, so that it can only wind down; try forms are
 * not blocking calls and still work), CORO_ENOLOOP outside a task (or in a
 * coroutine a task resumed: only the task itself can block), CORO_ENOMEM
 * when a deadline cannot be armed. They check in that order: the loop, then
 * their arguments (CORO_EINVAL, CORO_EBADF), then the cancellation, then
 * whether they can complete at once. In a cleanup run while a deadlocked
 * loop shuts down, a call that would wait returns CORO_ECBOUNDARY; file
 * operations, coro_offload and coro_getaddrinfo do their work right there,
 * on the loop's thread. Channels, locks, wait groups and events
 * belong to their loop's thread: closing, freeing or waking them from
 * another thread while tasks wait on them is refused with CORO_ETHREAD. A
 * task's coroutine (coro_running() in a task) is the loop's: coro_resume,
 * coro_call, coro_close and coro_destroy refuse it with CORO_ETASKCO. coro_yield() inside a task
 * lets the other ready tasks run and returns 0.
 * ====================================================================== */

/* A point in time or a duration, in nanoseconds of the loop's monotonic
 * clock. */
typedef long long coro_time;

/* No deadline. */
#define CORO_NEVER ((coro_time)0x7fffffffffffffffLL)
#define CORO_USEC(n) ((coro_time)(n)*1000LL)
#define CORO_MSEC(n) ((coro_time)(n)*1000000LL)
#define CORO_SEC(n) ((coro_time)(n)*1000000000LL)

/* The loop's clock: CLOCK_MONOTONIC, or the virtual clock (see
 * CORO_RUN_VIRTUAL_CLOCK). Outside a loop, CLOCK_MONOTONIC. */
CORO_API coro_time coro_now(void);

/* coro_now() + d, saturating at CORO_NEVER: the deadline d from now. */
CORO_API coro_time coro_after(coro_time d);

/* A task. Its handle, from coro_spawn(), is valid on the spawner's loop
 * until coro_await() returns its end (0 or an error other than
 * CORO_ETIMEDOUT / CORO_ECANCELED / CORO_EBUSY) or until the task that
 * spawned it finishes; the handle from coro_task_self(), on the task's
 * loop until then, or until the task ends if it is detached or runs on
 * another loop than its spawner. Afterwards, or elsewhere, the calls given
 * it return CORO_EINVAL (see coro_await). A handle is an opaque value, not
 * the task's address. */
typedef struct coro_task coro_task;

/* A task group (trio's nursery, Kotlin's coroutineScope): see
 * coro_group_open(). */
typedef struct coro_group coro_group;

/* Options for coro_run(); NULL or zeroed gives the defaults. Until
 * version 1.0 an options struct may gain fields at its end (zero keeps the
 * old behaviour): rebuild against the header of the library you link. */
typedef struct coro_run_options {
    /* CORO_RUN_VIRTUAL_CLOCK, CORO_RUN_SEEDED, CORO_RUN_READ_AHEAD. */
    unsigned flags;
    /* With CORO_RUN_SEEDED: the seed of the order among ready tasks. */
    unsigned long long seed;
    /* Above 0: report (stderr) a task that runs this long without
     * suspending, by name; a watchdog thread watches. */
    coro_time watchdog;
    /* Above 0: busy polling. When every task waits and some wait for I/O,
     * the loop looks for ready fds without sleeping for up to this long
     * (never past the next timer) before it sleeps in the poller. An fd
     * that becomes ready meanwhile is served without waking the thread,
     * a cost that falls on whoever makes it ready (a few microseconds in
     * a VM) and adds to the latency; the price is the CPU time spent
     * looking. For a server whose clients wait for each answer, 10-50 us
     * (CORO_USEC(20)) is typical. 0: off (the default); below 0:
     * coro_run returns CORO_EINVAL. Ignored with CORO_RUN_VIRTUAL_CLOCK. */
    coro_time busy_poll;
    /* How many loops, each on its own thread (thread per core): 0 or 1, one
     * (this thread's; the default); n > 1, n: the first on this thread, the
     * others on threads coro_run starts and joins; CORO_LOOPS_PER_CPU, one
     * per online CPU. Each loop runs its own tasks; a task stays on the loop
     * it started on (see coro_task_options.loop). With more than one,
     * CORO_RUN_VIRTUAL_CLOCK and CORO_RUN_SEEDED are refused (CORO_EINVAL):
     * the order of events across threads cannot be replayed. Below 0 and
     * not CORO_LOOPS_PER_CPU, or above 1024: CORO_EINVAL. */
    int loops;
    /* The most threads each loop's offload pool grows to (coro_offload):
     * 1 to 1024; 0, the environment's CORO_OFFLOAD_THREADS, else 64.
     * Otherwise CORO_EINVAL. */
    int offload_threads;
} coro_run_options;

#define CORO_LOOPS_PER_CPU (-1)

/* Time does not pass while tasks run; when every task is blocked it jumps
 * to the next deadline (trio's MockClock with autojump): an hour of sleeps
 * takes no time. It starts at 0. */
#define CORO_RUN_VIRTUAL_CLOCK 0x1u
/* The next task to run is a pseudo-random choice among the ready ones,
 * from `seed`: one seed gives one interleaving, to replay a failing one.
 * Without it, ready tasks run in FIFO order. */
#define CORO_RUN_SEEDED 0x2u
/* Receive ahead: the TCP sockets that coro accepts or connects get their
 * bytes put into the loop's buffers by the kernel as they arrive, through
 * io_uring (one multishot receive per socket, for its whole life), and
 * coro_read / coro_readv take them from there without a system call. The
 * loop then waits in io_uring, and a request costs one system call (its
 * answer's write) instead of two: about 5% less CPU per request for a
 * busy server (bench/README.md). Where the kernel lacks what it needs
 * (Linux before 6.1, a seccomp filter, CORO_IO_URING=0) the flag changes
 * nothing. The rule that comes with it, as with any buffered reader: read
 * such a socket only with coro_read / coro_readv, never read() or recv()
 * (its next bytes may be in the loop already), and close it with
 * coro_fd_close. A socket that coro_fd_wait(fd, CORO_READ) waits on before
 * coro first reads it is left alone (its reader may use read()). Memory:
 * 8 MiB of buffers per loop (touched as they are used); a socket's
 * receive pauses once it holds 16 KiB (a burst that comes at once may add
 * more) until its task reads, and a socket that finds no buffer free is
 * read with read() until half of them are free again. The environment
 * variable CORO_READ_AHEAD=1 or =0 forces it on or off for every loop. */
#define CORO_RUN_READ_AHEAD 0x4u
/* With several loops: loop i's thread is pinned to the i-th CPU the
 * process may run on (modulo their number), the calling thread too for the
 * run's duration (its affinity is restored after). */
#define CORO_RUN_PIN 0x8u

/*
 * Runs fn(arg) as the main task of a new loop on this thread and returns
 * when it and every task it started are done (Python's asyncio.run). Stores
 * fn's result in *result (may be NULL). Returns 0; CORO_EERROR when the
 * main task failed (an error it raised, or one of a task it started that
 * nobody awaited): the message is then coro_errmsg(coro_running(NULL)) and
 * *result the error's value; CORO_EDEADLK when every task is blocked and
 * nothing can wake one (each is reported on stderr with its name and what
 * it waits on, like Go's "all goroutines are asleep"); CORO_EBUSY when a
 * loop already runs on this thread; CORO_EINVAL, CORO_ENOMEM. Tasks that
 * never finished (a deadlock) are reported, closed (their cleanups run)
 * and freed before it returns.
 *
 * With opt->loops above 1, fn runs on loop 0, on this thread, and every
 * other loop on a thread of its own; coro_run returns once every task of
 * every loop is done, with the main task's result. A deadlock is then every
 * loop blocked with nothing in flight between them and no remote open: it
 * is reported with each task's loop, and every loop closes its own tasks.
 * What may cross loops: a task spawned onto another loop (its handle stays
 * with the spawner's loop), channels, select and the sync objects below,
 * coro_post through a remote; what may not: a task's coroutine, a group
 * handle (its members may be on any loop), an fd a loop adopted.
 * An error a task posted to another loop dies with fails the run as on
 * loop 0 (CORO_EERROR, even after the main task ended).
 */
CORO_API int coro_run(coro_fn fn, void *arg, void **result, const coro_run_options *opt);

/* What coro_run's result rc means, as a message: the main task's error
 * message for CORO_EERROR (valid until the calling coroutine's next
 * error), coro_strerror(rc) otherwise. Never NULL. */
CORO_API const char *coro_run_error(int rc);

/* A loop of a run: see coro_run_options.loops. */
typedef struct coro_loop coro_loop;

/* The calling task's loop; NULL outside a task. */
CORO_API coro_loop *coro_loop_self(void);
/* Loop i (0 is the one coro_run was called on) of the calling task's run;
 * NULL when there is no such loop or no run. */
CORO_API coro_loop *coro_loop_at(int i);
/* How many loops the calling task's run has; 0 outside a task. */
CORO_API int coro_loop_count(void);
/* l's index in its run; -1 if l is NULL. A handle is valid until its run
 * ends: one kept from an ended run must not be used. */
CORO_API int coro_loop_index(const coro_loop *l);

/* Options for coro_spawn(); NULL or zeroed gives the defaults. */
typedef struct coro_task_options {
    const char *name;  /* for reports and dumps; copied */
    size_t stack_size; /* as coro_options.stack_size */
    coro_group *group; /* the group to join; NULL: the spawning task's own */
    unsigned flags;    /* 0: the task has its own stack (in every build), so
                        * tasks may share pointers to their locals, as
                        * structured code does. CORO_COPY_STACK: for
                        * millions of mostly parked tasks, with that
                        * mode's rule (see CORO_COPY_STACK); values sent
                        * by channels to a parked copy-stack task are
                        * written where its stack bytes are kept meanwhile.
                        * CORO_ANY_LOOP: see loop */
    coro_loop *loop;   /* where the task runs: NULL, the spawning task's
                        * loop; another loop of the run, that one; with
                        * CORO_ANY_LOOP in flags, the loop with the fewest
                        * tasks running or about to start there (this
                        * field is ignored). A task on another
                        * loop is owned, awaited and canceled as any other
                        * (a group's rules hold across loops); it runs on
                        * that loop's thread from start to end. Its
                        * function, arg and result pass between threads:
                        * what they point to must be safe to use from the
                        * other loop (not on a copy-stack task's stack). */
} coro_task_options;

/* coro_task_options.flags: place the task on the least loaded loop. */
#define CORO_ANY_LOOP 0x100u

/*
 * Starts fn(arg) as a new task (it runs when the caller next suspends).
 * Every task is owned: by the group in opt->group, else by the task that
 * spawned it, which does not finish before it (no orphans) and whose
 * cancellation cancels it. With t non-NULL the handle goes to *t, and
 * coro_await(*t) gets the task's end; without (t NULL) the task is
 * detached, and an error it dies with fails its owner: the owner is
 * canceled and finishes with that error (as does a task awaited by nobody
 * before its owner ended). A group's members may spawn into it while its
 * owner waits (the wait then covers them too). Returns 0, CORO_ENOLOOP,
 * CORO_EINVAL (fn NULL, a group of another loop, opt->loop not a loop of
 * this run), CORO_ECANCELED (during a deadlock's shutdown), CORO_ENOMEM,
 * CORO_EMAPS. A task placed on another loop may still fail to start there
 * (no memory): its handle then ends with CORO_EERROR and a message that
 * says so. So may a task spawned in a burst: when 64 tasks are ready to
 * run before it and no worker is idle, a task with the default stack gets
 * its coroutine and stack when it starts (usually the one a task that
 * ended left), so that queued tasks hold no stack; if none can be had
 * then, fn is never called (so what arg owns is not freed by it), and the
 * task ends with CORO_EERROR as if fn had raised it: its awaiter, its
 * group or its owner hears of it (a task canceled before it started ends
 * canceled instead).
 * coro_spawn records the caller's file and line for dumps.
 */
CORO_API int coro_spawn_at(coro_task **t, coro_fn fn, void *arg, const coro_task_options *opt,
                           const char *file, int line);
/* coro_spawn(t, fn, arg, opt): variadic so that a compound literal with
 * commas can be the options. */
#define coro_spawn(...) coro_spawn_at(__VA_ARGS__, __FILE__, __LINE__)

/*
 * Waits for task t to end and stores its result in *result (may be NULL).
 * Returns 0; CORO_EERROR when t died by an error (its message is then
 * coro_errmsg(coro_running(NULL)), its value in *result);
 * CORO_ETASKCANCELED when t was canceled (*result still gets what it
 * returned). These end the handle. t may run on another loop; the handle
 * is used on the loop that spawned it. The handle stays with CORO_ETIMEDOUT
 * (the _until form), CORO_ECANCELED (the caller itself is canceled; t
 * still runs), CORO_ESELF, CORO_EBUSY (another task awaits t), CORO_EINVAL,
 * CORO_ENOLOOP. A handle that has ended (above, or its spawner finished),
 * every handle of a run once coro_run returned, and a handle used on
 * another loop or thread stay safe to pass: coro_await and coro_cancel
 * return CORO_EINVAL, coro_task_name NULL and coro_task_id 0, in this run
 * or any later one (handles name slots of a table that is never freed,
 * with a 32-bit generation; 8 bits where pointers have 32).
 * May suspend.
 */
CORO_API int coro_await(coro_task *t, void **result);
CORO_API int coro_await_until(coro_task *t, void **result, coro_time deadline);

/* Cancels t and every task it owns (its groups' too): their current or
 * next blocking call returns CORO_ECANCELED. Returns 0, CORO_EINVAL,
 * CORO_ENOLOOP. Never suspends. */
CORO_API int coro_cancel(coro_task *t);

/* The running task, or NULL outside one. Inside a task, coro_running()
 * is the coroutine the task runs on (a worker the loop reuses from task to
 * task), with the task's name and id while the task runs. */
CORO_API coro_task *coro_task_self(void);

/* t's name ("" if none), NULL if t is NULL, has ended or is another
 * loop's (see coro_await); its id (that of its coroutine), 0 likewise. */
CORO_API const char *coro_task_name(const coro_task *t);
CORO_API unsigned long long coro_task_id(const coro_task *t);

/* Suspends the running task for d nanoseconds / until the deadline (a
 * d <= 0 or a past deadline returns 0 at once, without letting others
 * run: use coro_yield for that). Returns 0, CORO_ECANCELED, CORO_ENOLOOP,
 * CORO_ENOMEM. May suspend. */
CORO_API int coro_sleep(coro_time d);
CORO_API int coro_sleep_until(coro_time deadline);

/*
 * Writes a line per task of this thread's loop to f: id, name, state,
 * what it waits on, and where it was spawned. In a run of several loops,
 * each line names its loop, and called by a task, every loop's tasks are
 * written: each other loop writes its own when a message asks it (the task
 * waits for each, as long as that loop takes to look at its messages);
 * outside a task, this loop's only. A task placed on another loop appears
 * on the spawner's as "running on another loop". Returns the number of
 * tasks, or CORO_ENOLOOP. May suspend (several loops).
 */
CORO_API int coro_dump(void *f /* FILE * */);

/* ---- task groups ---- */

/*
 * Opens a group owned by the running task. Tasks join it with
 * coro_task_options.group. The first of them to fail cancels the others,
 * and coro_group_wait() reports that error. Canceling the owner cancels
 * the group. A group the owner never waits for is waited for when the
 * owner's body ends. Returns 0, CORO_ENOLOOP, CORO_ENOMEM.
 */
CORO_API int coro_group_open(coro_group **g);

/* Sets (or moves) g's deadline: at it, g is canceled and coro_group_wait
 * returns CORO_ETIMEDOUT. Nested deadlines: the earlier one wins. Returns
 * 0, CORO_EINVAL, CORO_ENOMEM, CORO_ECANCELED (in a cleanup run by a
 * deadlock's shutdown, when no timer will fire again). */
CORO_API int coro_group_deadline(coro_group *g, coro_time deadline);

/* Cancels every task of g, and those it spawns later (they start and see
 * the cancellation at their first blocking call). Returns 0, CORO_EINVAL. */
CORO_API int coro_group_cancel(coro_group *g);

/*
 * Waits until every task of g has finished, then frees g (and the handles
 * of its tasks nobody awaited). Returns 0; CORO_EERROR with the first
 * failure's message in coro_errmsg(coro_running(NULL)); CORO_ETIMEDOUT
 * when its deadline passed; CORO_ECANCELED when it was canceled otherwise.
 * Only the owner may wait (CORO_EPERM). It waits even when the caller is
 * canceled: no task outlives its group. May suspend.
 */
CORO_API int coro_group_wait(coro_group *g);

/* coro_group_wait with a deadline: the group's deadline becomes the earlier
 * of its own and this one, then it waits (for the canceled members too). */
CORO_API int coro_group_wait_until(coro_group *g, coro_time deadline);

/* ---- channels ---- */

/*
 * A channel of fixed-size elements, copied in and out (Go's chan).
 *
 * Across loops: the tasks of every loop of the run a channel was opened in
 * may use it, with Go's semantics (order, close, select's fairness). It
 * belongs to the loop that opened it and costs there what it costs on one
 * loop (no lock, no atomic) until a task of another loop first uses it;
 * that task then waits for the channel's loop to hand it over (once per
 * channel: a message there and back, even in the try forms, which are then
 * not free of suspension), and from then on every operation takes the
 * channel's lock (a spin of a few dozen instructions). A task of another
 * loop is woken by a message to its loop. A channel of another run, or of
 * a run that has ended, is refused with CORO_ETHREAD by every call from a
 * loop but coro_chan_len and coro_chan_cap (once its run has ended, a
 * thread without a loop frees it).
 */
typedef struct coro_chan coro_chan;

/* Opens a channel of elements of elem_size bytes (1 or more) with a buffer
 * of capacity elements; 0 makes it unbuffered: a send waits for a receiver
 * (rendezvous). Returns 0, CORO_EINVAL, CORO_ENOMEM, CORO_ENOLOOP. */
CORO_API int coro_chan_open(coro_chan **ch, size_t elem_size, size_t capacity);

/*
 * Sends a copy of *elem: into the buffer, or straight to a waiting
 * receiver; waits (backpressure) while the buffer is full. Waiters are
 * served first come, first served. Returns 0, CORO_ECHCLOSED (closed
 * before or while waiting; nothing sent), CORO_ETIMEDOUT, CORO_ECANCELED,
 * CORO_EAGAIN (try form: would wait), CORO_EINVAL, CORO_ENOLOOP,
 * CORO_ETHREAD (a channel of another run, or of one that ended), CORO_ENOMEM
 * (a copy-stack task waiting on a channel shared with another loop, for an
 * element over 12 bytes: the value's heap copy). May suspend.
 */
CORO_API int coro_chan_send(coro_chan *ch, const void *elem);
CORO_API int coro_chan_send_until(coro_chan *ch, const void *elem, coro_time deadline);
CORO_API int coro_chan_try_send(coro_chan *ch, const void *elem);

/* Receives the oldest element into *elem, waiting while there is none.
 * After close, receivers drain what is buffered and then get
 * CORO_ECHCLOSED. Other results as coro_chan_send. May suspend. */
CORO_API int coro_chan_recv(coro_chan *ch, void *elem);
CORO_API int coro_chan_recv_until(coro_chan *ch, void *elem, coro_time deadline);
CORO_API int coro_chan_try_recv(coro_chan *ch, void *elem);

/* Closes ch: waiting senders and receivers wake with CORO_ECHCLOSED
 * (receivers after the buffer is drained), on every loop. Returns 0, or
 * CORO_ECHCLOSED when already closed, CORO_EINVAL, CORO_ETHREAD (a thread
 * without a loop while tasks wait on it; a channel of another run). A
 * thread without a loop may close a channel only once its run has ended
 * (while it runs, post the close to a loop through a remote). Never
 * suspends, but for the handover above. */
CORO_API int coro_chan_close(coro_chan *ch);

/* Frees ch, from any loop of its run, or from any thread once its run has
 * ended. Returns 0, or CORO_EBUSY while tasks wait on it (nothing is
 * freed; CORO_ETHREAD from a thread without a loop), CORO_EINVAL. */
CORO_API int coro_chan_free(coro_chan *ch);

/* Elements buffered now; the capacity. 0 for NULL. */
CORO_API size_t coro_chan_len(const coro_chan *ch);
CORO_API size_t coro_chan_cap(const coro_chan *ch);

/* ---- select ---- */

#define CORO_SEND 1
#define CORO_RECV 2

/* One case of a select: send *data on chan, or receive into *data. */
typedef struct coro_case {
    coro_chan *chan;
    int op;     /* CORO_SEND or CORO_RECV */
    void *data; /* the element to send / where to receive */
    int result; /* set for the chosen case: 0, or CORO_ECHCLOSED */
} coro_case;

#define CORO_CASE_SEND(ch, p)                                                                      \
    {                                                                                              \
        (ch), CORO_SEND, (void *)(p), 0                                                            \
    }
#define CORO_CASE_RECV(ch, p)                                                                      \
    {                                                                                              \
        (ch), CORO_RECV, (void *)(p), 0                                                            \
    }

/*
 * Waits until one of the n cases can proceed, does it, and returns its
 * index (Go's select). Among cases ready at once the choice is uniformly
 * random; one channel may appear in several cases. A case on a closed
 * channel is ready: it is chosen with result CORO_ECHCLOSED. The cases
 * may be on channels of different loops (each is then handed over as for
 * a send, and the select locks them all while it looks). Returns the
 * index, CORO_ETIMEDOUT, CORO_ECANCELED, CORO_EINVAL, CORO_ENOMEM,
 * CORO_ENOLOOP, CORO_ETHREAD. May suspend.
 */
CORO_API int coro_select(coro_case *cases, int n);
CORO_API int coro_select_until(coro_case *cases, int n, coro_time deadline);

/* The select with a default case: the index of a ready case, or CORO_EAGAIN
 * when none is ready. Never suspends. */
CORO_API int coro_try_select(coro_case *cases, int n);

/* ---- synchronisation: values in caller storage, statically initialisable ---- */

/* Each of these may be used by the tasks of every loop of a run: in a run
 * of several loops every call takes the object's lock (a spin of a few
 * dozen instructions) and a task of another loop is woken by a message to
 * its loop; with one loop there is no lock and no atomic. Never share one
 * between two runs. */

/* A FIFO queue of waiting tasks (internal; zero is empty). */
typedef struct coro_waitq {
    struct coro__waiter *first, *last;
} coro_waitq;

/* A mutex: at most one task holds it; waiters get it in FIFO order. */
typedef struct coro_mutex {
    coro_task *holder; /* the holding task's handle, NULL if none */
    coro_waitq q;
    int lock; /* internal: taken in a run of several loops */
} coro_mutex;
#define CORO_MUTEX_INIT                                                                            \
    {                                                                                              \
        NULL, {NULL, NULL}, 0                                                                      \
    }

/* Initialises m (the same as CORO_MUTEX_INIT). */
CORO_API void coro_mutex_init(coro_mutex *m);

/* Locks m, waiting while another task holds it. Returns 0, CORO_EBUSY
 * (try form, or the caller already holds it: not recursive),
 * CORO_ETIMEDOUT, CORO_ECANCELED, CORO_EINVAL, CORO_ENOLOOP. May suspend. */
CORO_API int coro_mutex_lock(coro_mutex *m);
CORO_API int coro_mutex_lock_until(coro_mutex *m, coro_time deadline);
CORO_API int coro_mutex_trylock(coro_mutex *m);

/* Unlocks m, handing it to the first waiter. CORO_EPERM if the caller does
 * not hold it. Never suspends. */
CORO_API int coro_mutex_unlock(coro_mutex *m);

/* A counting semaphore. */
typedef struct coro_sem {
    long count;
    coro_waitq q;
    int lock; /* internal: taken in a run of several loops */
} coro_sem;
#define CORO_SEM_INIT(n)                                                                           \
    {                                                                                              \
        (n), {NULL, NULL}, 0                                                                       \
    }

/* Initialises s with count permits (>= 0). 0 or CORO_EINVAL. */
CORO_API int coro_sem_init(coro_sem *s, long count);

/* Takes a permit, waiting while there is none. Results as the mutex's,
 * with CORO_EAGAIN for the try form. May suspend. */
CORO_API int coro_sem_acquire(coro_sem *s);
CORO_API int coro_sem_acquire_until(coro_sem *s, coro_time deadline);
CORO_API int coro_sem_tryacquire(coro_sem *s);

/* Gives a permit back (to the first waiter if any). Never suspends. */
CORO_API int coro_sem_release(coro_sem *s);

/* A wait group (Go's sync.WaitGroup): wait until a count drops to 0. */
typedef struct coro_wg {
    long count;
    coro_waitq q;
    int lock; /* internal: taken in a run of several loops */
} coro_wg;
#define CORO_WG_INIT                                                                               \
    {                                                                                              \
        0, {NULL, NULL}, 0                                                                         \
    }

CORO_API void coro_wg_init(coro_wg *wg);

/* Adds n (may be negative) to the count; at 0 the waiters wake. CORO_EINVAL
 * if the count would drop below 0 or overflow (nothing changes). Never
 * suspends. */
CORO_API int coro_wg_add(coro_wg *wg, long n);

/* coro_wg_add(wg, -1). */
CORO_API int coro_wg_done(coro_wg *wg);

/* Waits until the count is 0. Results as the mutex's. May suspend. */
CORO_API int coro_wg_wait(coro_wg *wg);
CORO_API int coro_wg_wait_until(coro_wg *wg, coro_time deadline);

/* An event: a flag tasks wait on (Python's asyncio.Event). */
typedef struct coro_event {
    int set;
    coro_waitq q;
    int lock; /* internal: taken in a run of several loops */
} coro_event;
#define CORO_EVENT_INIT                                                                            \
    {                                                                                              \
        0, {NULL, NULL}, 0                                                                         \
    }

CORO_API void coro_event_init(coro_event *e);

/* Sets the flag and wakes every waiter; clears it; reads it. */
CORO_API int coro_event_set(coro_event *e);
CORO_API int coro_event_clear(coro_event *e);
CORO_API int coro_event_is_set(const coro_event *e);

/* Waits until the flag is set (returns at once if it is). Results as the
 * mutex's. May suspend. */
CORO_API int coro_event_wait(coro_event *e);
CORO_API int coro_event_wait_until(coro_event *e, coro_time deadline);

/* ---- non-blocking I/O: fds, sockets ---- */

/*
 * Reads, writes, accepts and connects that suspend only the calling task:
 * the code reads like blocking code while other tasks run. An fd is
 * adopted on its first use by these calls (made non-blocking and watched by
 * the loop's poller, epoll, for as long as it is open), so close fds that
 * tasks have used with coro_fd_close(): it also wakes the tasks waiting on
 * the fd, with CORO_EBADF. Several tasks may wait on one fd: when it is
 * ready, every one waiting in that direction is woken and retries, in the
 * order they came. Every call has an _until form; they return the
 * blocking-call errors (CORO_ETIMEDOUT, CORO_ECANCELED, CORO_ENOLOOP) and
 * errno values as negative codes (CORO_ECONNRESET, CORO_EPIPE, ...; never
 * errno itself), and retry on EINTR. Writes to sockets never raise
 * SIGPIPE (CORO_EPIPE instead); writes to pipes do, as write(2) does.
 */
#define CORO_READ 1u
#define CORO_WRITE 2u

/* Waits until fd is readable (CORO_READ) or writable (CORO_WRITE), or has
 * an error or hang-up (then the I/O call reports it). Returns 0, CORO_EBADF
 * (fd < 0, or closed by coro_fd_close while waiting), CORO_EINVAL (events
 * not exactly one of the two), or a blocking-call error. May suspend. */
CORO_API int coro_fd_wait(int fd, unsigned events);
CORO_API int coro_fd_wait_until(int fd, unsigned events, coro_time deadline);

/* Closes fd, first waking its waiting tasks with CORO_EBADF and forgetting
 * it. 0 or a negative errno code. Never suspends. */
CORO_API int coro_fd_close(int fd);

/* Reads up to n bytes: the count (> 0), 0 at end of file, or an error.
 * Suspends while nothing can be read. */
CORO_API long coro_read(int fd, void *buf, size_t n);
CORO_API long coro_read_until(int fd, void *buf, size_t n, coro_time deadline);

/* Writes up to n bytes: the count written (may be short), or an error.
 * Suspends while nothing can be written. */
CORO_API long coro_write(int fd, const void *buf, size_t n);
CORO_API long coro_write_until(int fd, const void *buf, size_t n, coro_time deadline);

/* Writes all n bytes, through short writes. 0 or an error; *written (may
 * be NULL) gets what was written before it. May suspend. */
CORO_API int coro_write_all(int fd, const void *buf, size_t n);
CORO_API int coro_write_all_until(int fd, const void *buf, size_t n, coro_time deadline,
                                  size_t *written);

struct iovec;

/* readv / writev: as coro_read / coro_write, over n (1..IOV_MAX) buffers
 * (CORO_EINVAL if their lengths add up past SSIZE_MAX). May suspend. */
CORO_API long coro_readv(int fd, const struct iovec *iov, int n);
CORO_API long coro_readv_until(int fd, const struct iovec *iov, int n, coro_time deadline);
CORO_API long coro_writev(int fd, const struct iovec *iov, int n);
CORO_API long coro_writev_until(int fd, const struct iovec *iov, int n, coro_time deadline);

/* sendfile(2) from in_fd (a regular file, read from *offset, which
 * advances; NULL: its file position) to out_fd (a socket): the bytes sent
 * (may be fewer than count), or an error. May suspend while out_fd is
 * full. */
CORO_API long coro_sendfile(int out_fd, int in_fd, long long *offset, size_t count);
CORO_API long coro_sendfile_until(int out_fd, int in_fd, long long *offset, size_t count,
                                  coro_time deadline);

/* A UDP socket bound to host:port (numeric; NULL host: any; port 0: the
 * system picks, see coro_socket_port). The fd, or an error. */
CORO_API int coro_udp_bind(const char *host, int port);

/* Sends one datagram of n bytes to host:port (numeric): n, or an error.
 * May suspend while the socket's buffer is full. */
CORO_API long coro_udp_send(int fd, const void *buf, size_t n, const char *host, int port);

/* Receives one datagram into buf (truncated to n): its length, or an error;
 * the sender's address into host (a buffer of host_len bytes, at least 46)
 * and *port, each when not NULL. May suspend. */
CORO_API long coro_udp_recv(int fd, void *buf, size_t n, char *host, size_t host_len, int *port);
CORO_API long coro_udp_recv_until(int fd, void *buf, size_t n, char *host, size_t host_len,
                                  int *port, coro_time deadline);

/* A listening TCP socket on host (a numeric IPv4 or IPv6 address; NULL
 * for any) and port (0: the system picks; see coro_socket_port), with
 * SO_REUSEADDR; backlog <= 0 means SOMAXCONN. The fd, or CORO_EINVAL
 * (not a numeric address or port), CORO_EADDRINUSE, ... Never suspends. */
CORO_API int coro_tcp_listen(const char *host, int port, int backlog);

/* A listening Unix-domain stream socket at path. As coro_tcp_listen. */
CORO_API int coro_unix_listen(const char *path, int backlog);

/* The local port of a TCP socket, or an error. */
CORO_API int coro_socket_port(int fd);

/* Accepts a connection on a listening socket: its fd (non-blocking;
 * TCP_NODELAY set on TCP connections, as Go does), or an
 * error (CORO_EMFILE / CORO_ENFILE when out of fds: back off, the
 * connection waits in the backlog). May suspend. */
CORO_API int coro_accept(int lfd);
CORO_API int coro_accept_until(int lfd, coro_time deadline);

/* Connects to host:port (numeric, as coro_tcp_listen; TCP_NODELAY set):
 * the fd, or CORO_ECONNREFUSED, CORO_ETIMEDOUT, ... May suspend. */
CORO_API int coro_tcp_connect(const char *host, int port);
CORO_API int coro_tcp_connect_until(const char *host, int port, coro_time deadline);

/* Connects to the Unix-domain stream socket at path. While the listener's
 * backlog is full, tries again after a pause (1 ms, doubling to 100 ms)
 * until the deadline. May suspend. */
CORO_API int coro_unix_connect(const char *path);
CORO_API int coro_unix_connect_until(const char *path, coro_time deadline);

#define CORO_SHUT_RD 0
#define CORO_SHUT_WR 1
#define CORO_SHUT_RDWR 2

/* ---- servers ---- */

/* Handles one connection (fd, closed by coro_serve when this returns). */
typedef void (*coro_serve_fn)(int fd, void *ctx);

typedef struct coro_serve_options {
    int max_conns;  /* > 0: at most this many connections at once (per
                     * loop with CORO_SERVE_EVERY_LOOP); the rest wait in
                     * the listen backlog */
    unsigned flags; /* CORO_SERVE_EVERY_LOOP */
} coro_serve_options;

/* Accept on every loop of the run (thread per core): lfd, a TCP listener,
 * gets SO_REUSEPORT, and every other loop a listening socket of its own on
 * lfd's address, so that the kernel spreads new connections across the
 * loops; each loop accepts, and runs the handlers of the connections it
 * accepted, on its own thread. So handler and ctx are used from several
 * threads at once. Where the kernel refuses a second socket on the address,
 * that loop accepts on lfd itself. With one loop it changes nothing. */
#define CORO_SERVE_EVERY_LOOP 0x1u

/*
 * Accepts connections on lfd forever, each handled by handler(fd, ctx) in
 * a task of its own (named "connection") that the server owns. Out of fds
 * (EMFILE / ENFILE) it waits for one of its connections to close, or backs
 * off from 1 ms to 1 s when it has none, instead of spinning; at max_conns
 * it waits for a connection to close. An error raised in a handler ends
 * that connection only. Returns when accepting fails otherwise, or when the
 * calling task is canceled (CORO_ECANCELED), after canceling and waiting
 * for its connections (on every loop). lfd stays open. Returns CORO_EINVAL
 * for handler NULL, lfd < 0 or max_conns < 0, and, with
 * CORO_SERVE_EVERY_LOOP on several loops, for an lfd that is not a TCP
 * listener. May suspend.
 */
CORO_API int coro_serve(int lfd, coro_serve_fn handler, void *ctx, const coro_serve_options *opt);

/* ---- remotes: work handed to a loop from other threads ---- */

/* A loop's door for other threads: any thread (one coro did not create
 * too, such as a library's callback thread) may post work through it. */
typedef struct coro_remote coro_remote;

/*
 * Opens a remote onto the calling task's loop in *r. While any remote of a
 * loop is open, something outside may yet hand it work, so a loop whose
 * tasks all wait sleeps instead of reporting a deadlock: close a remote as
 * soon as nothing will post through it any more. A remote may outlive its
 * loop (its posts are then refused); coro_remote_close frees it either way.
 * Returns 0, CORO_ENOLOOP (not called from a task), CORO_EENDED (the loop
 * is ending: its main task has finished), CORO_EINVAL (r NULL),
 * CORO_ENOMEM, or a negative errno code (the loop's wake-up eventfd could
 * not be made). Never suspends.
 */
CORO_API int coro_remote_open(coro_remote **r);

/* Frees r (NULL: nothing). From any thread, but not while another thread
 * posts through r. Closing a loop's last remote wakes the loop if it
 * sleeps, so that it can report a deadlock or end. */
CORO_API void coro_remote_close(coro_remote *r);

/*
 * Runs fn(arg) as a new task on r's loop, as if the loop's main task had
 * spawned it detached (coro_spawn with no handle): the run waits for it,
 * and an error it dies with fails the run. From any thread, and from any
 * number of threads at once. The posts of one thread start in the order
 * it made them. A loop that is awake takes them without a system call; a
 * sleeping one is woken by one eventfd write for however many posts came.
 * Returns 0 once the loop has the function: it will run, even if the main
 * task finishes meanwhile (the run then waits for it, so a thread that
 * never stops posting keeps the run going). CORO_EAGAIN: CORO_POST_MAX
 * posts already wait for the loop to take them (it is that far behind:
 * post again later, this is back-pressure, not a failure); CORO_EENDED: the
 * loop takes no more posts (fn will never run): its main task and what it
 * waits for have finished (on a loop other than 0 of a run: its root task,
 * at the run's end, or ended by an error of a task posted there);
 * CORO_EINVAL (r or fn NULL), CORO_ENOMEM. Never suspends.
 * coro_post records the caller's file and line for dumps.
 */
#define CORO_POST_MAX 65536
CORO_API int coro_post_at(coro_remote *r, coro_fn fn, void *arg, const char *file, int line);
#define coro_post(r, fn, arg) coro_post_at((r), (fn), (arg), __FILE__, __LINE__)

/* ---- offload: blocking work on a thread pool ---- */

/*
 * Runs fn(arg) on a thread of the loop's pool and suspends only the calling
 * task until it returns. The pool starts with one thread on first use and
 * grows by one whenever a job finds every thread busy, up to
 * coro_run_options.offload_threads, else the environment's
 * CORO_OFFLOAD_THREADS (a number from 1 to 1024; otherwise, or when unset,
 * 64), so that a long job, or one abandoned at its
 * deadline, holds up no other; its threads are joined when coro_run
 * returns. *result (may be NULL) gets fn's return value. For
 * CPU-heavy work and blocking library calls. fn runs on another thread: it
 * must not call coro functions. Returns 0, or CORO_ETIMEDOUT /
 * CORO_ECANCELED when the caller gave up: fn still runs to its end on its
 * thread and its result is dropped, so arg must stay valid until fn has
 * returned (not on the caller's stack, then). CORO_EINVAL (fn NULL, or arg
 * on the stack of a copy-stack task, which is not where the task's bytes
 * are while it waits), CORO_ENOMEM, CORO_ENOLOOP. May suspend.
 */
CORO_API int coro_offload(coro_fn fn, void *arg, void **result);
CORO_API int coro_offload_until(coro_fn fn, void *arg, void **result, coro_time deadline);

/* ---- regular files ---- */

/*
 * open(2), pread(2) / read(2), pwrite(2) / write(2) and fsync(2) that
 * suspend only the calling task: a task waiting for the disk lets the
 * others run. They go through an io_uring (one per loop) where the library
 * was built with liburing and the kernel allows it, else through the loop's
 * offload pool; the choice is made at run time, on the loop's first file
 * call, and the environment variable CORO_IO_URING=0 forces the pool.
 * offset < 0 reads or writes at the file position. They return what the
 * system call does (an fd, a byte count, 0) or a negative errno code, and
 * CORO_ECANCELED (the task was canceled before the call), CORO_ENOLOOP,
 * CORO_EINVAL, CORO_EBADF. Once started they are not cancelable and have no
 * deadline: a thread uses the caller's buffer until the call ends. Close a
 * file with close(2) (or coro_fd_close). May suspend.
 */
CORO_API int coro_file_open(const char *path, int flags, int mode);
CORO_API long coro_file_read(int fd, void *buf, size_t n, long long offset);
CORO_API long coro_file_write(int fd, const void *buf, size_t n, long long offset);
CORO_API int coro_file_fsync(int fd);

struct addrinfo;

/*
 * getaddrinfo(3) on the offload pool, with a deadline: name resolution
 * that suspends only the calling task. 0 with *res (free it with
 * freeaddrinfo), CORO_ENOENT (no such name), CORO_EIO (another resolver
 * error), CORO_ETIMEDOUT (the lookup goes on in the background and is freed
 * when it ends), CORO_ECANCELED, CORO_EINVAL, CORO_ENOMEM, CORO_ENOLOOP.
 * May suspend.
 */
CORO_API int coro_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                              struct addrinfo **res, coro_time deadline);

/* shutdown(2): CORO_SHUT_WR sends end-of-file and keeps reading (a
 * half-closed connection). 0 or an error. Never suspends. */
CORO_API int coro_shutdown(int fd, int how);

#ifdef __cplusplus
}
#endif

#endif /* CORO_H */
