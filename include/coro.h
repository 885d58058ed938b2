/*
 * coro.h - Lua 5.4 coroutines for C.
 *
 * The only public header of the coro library. Asymmetric, stackful coroutines
 * with the semantics of Lua 5.4's coroutine library: create, resume, yield,
 * status, running, isyieldable, wrap and close; errors raised inside a
 * coroutine are caught by resume and returned as values; cleanups run on
 * return, on error and on close.
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
      "(sysctl -w vm.max_map_count=N)")

/* The error codes: CORO_EINVAL, CORO_ENOMEM, CORO_EDEAD, ... */
enum coro_error_code {
#define CORO_X_(name, value, msg) CORO_##name = (value),
    CORO_ERRNO_MAP(CORO_X_)
#undef CORO_X_
        CORO_OK = 0
};

/* The message for an error code ("cannot resume dead coroutine"), or
 * "unknown error" for a value that is not one. Never NULL. */
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
     * pages; values below CORO_STACK_MIN are raised to it. */
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
 * live stack (a buffer that never shrinks; one that a copy-stack coroutine
 * needed when it itself resumed or yielded to another copy-stack coroutine
 * has 4 KiB of headroom, as its exact depth at the switch is not known
 * beforehand). stack_size is ignored. Switching between a copy-mode
 * coroutine and one with its own stack (the main coroutine, say) copies
 * nothing; switching between two copy-mode coroutines copies both ways.
 *
 * The one rule it imposes: a pointer into a copy-mode coroutine's stack (the
 * address of one of its locals) must not be used while that coroutine is
 * switched out, by anyone: its bytes are then elsewhere, and another
 * coroutine's frames occupy those addresses. Pass such data by value, or in
 * memory that is not on the stack. coro checks the values passed through
 * resume and yield and aborts with a message naming the coroutine when one
 * points into the shared stack and is handed to a copy-mode coroutine that
 * will run over those bytes.
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
 * enough for printf-family calls (a few KiB each) and moderate recursion;
 * below it sits one guard page, so an overflow is caught and reported. The
 * minimum keeps room for the library's own frames and a signal frame.
 */
#define CORO_STACK_DEFAULT ((size_t)256 * 1024)
#define CORO_STACK_MIN ((size_t)16 * 1024)

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
 * Returns 0, CORO_EINVAL (co or fn NULL, or a stack_size too large for the
 * address space), CORO_ENOMEM, or CORO_EMAPS (the
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
 * (the last error wins; coro_errmsg(co) has it). Returns CORO_ECLOSERUN /
 * CORO_ECLOSENORM for a running / normal coroutine, CORO_ECLOSED if co was
 * already closed (unlike Lua, whose close of a closed coroutine returns true
 * again: in C a second close usually means a handle used after its owner
 * was done with it, which deserves an error), CORO_ETHREAD, CORO_EINVAL,
 * or CORO_ENOMEM (copy-stack mode, see CORO_COPY_STACK; nothing changed).
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
 * coro_call returns CORO_EERROR with coro_errmsg(gen). Misuse returns the
 * same codes as coro_resume(); calling a finished generator gives CORO_EDEAD.
 * Suspends the caller until gen yields or finishes.
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

#ifdef __cplusplus
}
#endif

#endif /* CORO_H */
