/*
 * internal.h - internal types and coro__ declarations shared by the sources.
 *
 * The object model: a coro is a control block (malloc'd) plus a stack
 * (mmap'd, pooled). Every thread has a coro__thread holding its main
 * coroutine, the pointer to the running coroutine and its stack pool. Nothing
 * is shared between threads except the id counter and the signal handler.
 */
#ifndef CORO_INTERNAL_H
#define CORO_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>

#include "coro.h"
#include "ctx.h"

#if defined(__GNUC__)
#define CORO__HIDDEN __attribute__((visibility("hidden")))
#define CORO__NORETURN __attribute__((noreturn))
#define CORO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CORO__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CORO__NOINLINE __attribute__((noinline))
#define CORO__ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define CORO__HIDDEN
#define CORO__NORETURN
#define CORO__LIKELY(x) (x)
#define CORO__UNLIKELY(x) (x)
#define CORO__NOINLINE
#define CORO__ALWAYS_INLINE inline
#endif

/* The cache line of every CPU coro targets, for laying out hot records. */
#define CORO__CACHE_LINE 64

/* Internal invariants: checked in test and debug builds (CORO_ASSERTS),
 * compiled out otherwise. */
#ifdef CORO_ASSERTS
#include <stdio.h>
#include <stdlib.h>
#define coro__assert(c)                                                                            \
    ((c) ? (void)0                                                                                 \
         : (fprintf(stderr, "coro: assertion failed: %s (%s:%d)\n", #c, __FILE__, __LINE__),       \
            abort()))
#else
#define coro__assert(c) ((void)0)
#endif

/* ---- stacks (stack.c) ---- */

typedef struct coro__stack {
    void *map;       /* start of the mapping: the guard region is here */
    size_t map_size; /* the whole mapping, guard included */
    void *lo;        /* lowest usable byte (just above the guard) */
    size_t size;     /* usable bytes */
    unsigned vg_id;  /* valgrind's stack id, 0 when not under valgrind */
} coro__stack;

CORO__HIDDEN int coro__stack_get(coro__stack *s, size_t size);
CORO__HIDDEN void coro__stack_put(coro__stack *s);
struct coro__thread;
CORO__HIDDEN void coro__stack_pool_drain(struct coro__thread *t);
CORO__HIDDEN size_t coro__stack_round(size_t size);
CORO__HIDDEN size_t coro__page_size(void);

/* ---- errors (error.c) ---- */

/* An error: its message and value. The holder whose `owned` is set frees
 * msg; a literal ("not enough memory") or a view lent to a cleanup is not
 * owned. */
typedef struct coro__err {
    char *msg; /* NULL when there is no error */
    void *value;
    int owned;
} coro__err;

CORO__HIDDEN void coro__err_free(coro__err *e);

/* Forgets e, freeing its message if e owns it. Inline: most scopes end with
 * no error at all. */
static inline void coro__err_drop(coro__err *e)
{
    if (e->msg != NULL || e->value != NULL)
        coro__err_free(e);
}
CORO__HIDDEN void coro__error_set(coro *co, void *value, const char *msg);

/* ---- protected scopes and cleanups (unwind.c) ---- */

/* A cleanup registered by coro_defer. Records live in a per-coroutine LIFO
 * list; a frame remembers the list's head when it began. */
typedef struct coro__defer {
    struct coro__defer *next;
    void (*fn)(void *arg);
    void *arg;
} coro__defer;

/* Frame status: 0 while running, else why it is unwinding. */
#define CORO__UNWIND_CLOSE 1 /* coro_close: not an error, no pcall stops it */

/* A landing place for errors: a coro_pcall, or the base of a body.
 * Frames are linked on the coroutine's own stack, innermost first. */
typedef struct coro__frame {
    jmp_buf *jb;         /* where a pcall's frame lands; NULL for a base frame, */
                         /*   which keeps a copy-mode coroutine's live stack small */
    jmp_buf *cleanup_jb; /* while its cleanups run: where one that raises */
                         /*   lands, so that the next runs at the same depth */
    struct coro__frame *prev;
    coro__defer *defers; /* the cleanup list's head when the frame began */
    int status;          /* 0, CORO_EERROR or CORO__UNWIND_CLOSE */
    int base;            /* a body's outermost frame: dies, never jumps */
    coro__err err;       /* the error in flight to this frame (owned) */
    coro__err saved;     /* the coroutine's error when the frame began */
} coro__frame;

CORO__HIDDEN void coro__scope_begin(coro *co, coro__frame *f, int base);
CORO__HIDDEN void coro__scope_cleanups(coro *co, coro__frame *f);
CORO__HIDDEN int coro__scope_end(coro *co, coro__frame *f);
CORO__HIDDEN CORO__NORETURN void coro__throw(coro *co, int status);
CORO__HIDDEN void coro__defer_free_all(coro *co);

/* ---- the control block (coro.c) ---- */

/* coro_options.flags bit for coro's own callers: an own stack even in a
 * build whose default is copy-stack (make STACK=copy, which tests the core
 * that way; the runtime's tasks keep the default of the API). */
#define CORO__OWN_STACK 0x80000000u

/* Flags: CORO__F_* in config.h. */

struct coro__thread;

/* clear() in coro.c sets every field of a new one: a new field needs its
 * line there. */
struct coro {
    coro__ctx ctx;               /* saved context while not running */
    int status;                  /* CORO_SUSPENDED .. CORO_DEAD */
    unsigned flags;              /* CORO__F_* */
    struct coro *resumer;        /* who resumed it; valid while running/normal */
    struct coro__thread *thread; /* the owning thread; never changes */
    void *transfer;              /* the value in flight through resume/yield */
    coro_fn fn;                  /* the body */
    coro__frame *frame;          /* innermost landing frame; NULL if none */
    coro__defer *defers;         /* pending cleanups, innermost first */
    coro__err err;               /* see coro_errmsg; may be lent by a frame */
    char *name;                  /* malloc'd copy, or NULL for "" */
    void *user_data;
    unsigned long long id;
    union {
        coro__stack stack;      /* own stack; map == NULL when none (main, dead) */
        struct {                /* copy mode (CORO__F_COPY): its live stack while */
            void *saved;        /*   another uses the shared stack: saved_len */
            unsigned saved_len; /* bytes below the top, in a buffer of */
            unsigned saved_cap; /* saved_cap bytes */
        };
    };
#ifdef CORO__ASAN
    void *asan_fake;     /* ASan's fake stack while switched out */
    const void *asan_lo; /* the stack bounds ASan is told about; for */
    size_t asan_size;    /*   a main coroutine learned on first switch */
#endif
#ifdef CORO__TSAN
    void *tsan_fiber; /* TSan's fiber (switch.c), from create to destroy; */
                      /*   the thread's own for a main coroutine */
#endif
};

/* Forgets co's error (see coro__err_drop). */
static inline void coro__error_clear(coro *co)
{
    coro__err_drop(&co->err);
}

/* The scope's function returned: errors caught inside are done with, and
 * the cleanups run (one that raises unwinds to f like any error). Inline:
 * after every task, which mostly has none. */
static inline void coro__scope_return(coro *co, coro__frame *f)
{
    coro__error_clear(co);
    if (co->defers != f->defers)
        coro__scope_cleanups(co, f);
}

/* ---- per-thread state (thread.c) ---- */

/* The stack pool's bounds, per thread: past them freed stacks are unmapped. */
#define CORO__POOL_MAX 64
#define CORO__POOL_MAX_BYTES ((size_t)64 << 20)

typedef struct coro__thread {
    coro *current;  /* the running coroutine; &main when none */
    coro *owner;    /* the copy-mode coroutine whose frames are on the shared
                     * stack (copystack.c); beside current for the fast path */
    coro main;      /* this thread's main coroutine */
    void *altstack; /* signal stack for overflow reports; NULL if not ours */
    size_t altstack_size;
    coro__stack shared; /* the copy-mode stack; map NULL until needed */
    coro *copier;       /* runs the copies, on a stack of its own */
    coro *copy_to;      /* what the copier is to switch to */
    void *reserve;      /* a buffer the copier may need (coro__copy_reserve) */
    size_t reserve_cap;
    size_t copy_live; /* copy-mode coroutines not yet destroyed */
    /* The state outlives its thread while coroutines refer to it, so that
     * its address is not reused by a new thread while a foreign coroutine
     * could still be taken for one of that thread's (see thread.c). */
    long live;    /* created minus destroyed by this thread */
    long foreign; /* destroyed by other threads (atomic) */
    int exited;   /* the thread is gone (atomic) */
    int freed;    /* claimed by whoever frees the state (atomic) */
    coro *spare;  /* freed control blocks, linked by resumer, for reuse */
    size_t spare_len;
    coro__stack pool[CORO__POOL_MAX]; /* freed stacks, newest last */
    size_t pool_len;
    size_t pool_bytes; /* usable bytes of the pooled stacks (guards aside) */
} coro__thread;

CORO__HIDDEN extern __thread coro__thread *coro__tls __attribute__((tls_model("initial-exec")));
CORO__HIDDEN coro__thread *coro__thread_init(void);

/* The calling thread's state, created on first use; NULL if out of memory. */
static inline coro__thread *coro__thread_get(void)
{
    coro__thread *t = coro__tls;
    return CORO__LIKELY(t != NULL) ? t : coro__thread_init();
}

CORO__HIDDEN int coro__thread_exited(coro__thread *t);
CORO__HIDDEN void coro__thread_unref(coro__thread *t);
CORO__HIDDEN extern __thread unsigned long long coro__id_next
    __attribute__((tls_model("initial-exec")));
CORO__HIDDEN extern __thread unsigned long long coro__id_end
    __attribute__((tls_model("initial-exec")));
CORO__HIDDEN unsigned long long coro__next_id_block(void);
/* A new id (inline: on every spawn and create; see thread.c). */
static inline unsigned long long coro__next_id(void)
{
    if (CORO__UNLIKELY(coro__id_next == coro__id_end))
        return coro__next_id_block();
    return coro__id_next++;
}
CORO__HIDDEN coro *coro__block_get(coro__thread *t);
CORO__HIDDEN void coro__block_put(coro__thread *t, coro *co);
CORO__HIDDEN void coro__block_drain(coro__thread *t);
/* Frees what the calling thread keeps for reuse: its pooled stacks, its
 * spare control blocks and, with no copy-stack coroutine alive, its shared
 * stack and copier (thread exit, and tests that count what is live). */
CORO__HIDDEN void coro__spares_drain(void);

/* ---- switching (switch.c) ---- */

/* ---- copy-stack mode (copystack.c) ---- */

CORO__HIDDEN int coro__copy_init(coro__thread *t, coro *co);
CORO__HIDDEN int coro__copy_reserve(coro__thread *t, coro *from, coro *to, void *value);
CORO__HIDDEN void coro__copy_reserve_final(coro__thread *t, coro *dying, coro *to);
CORO__HIDDEN void coro__copy_switch(coro *from, coro *to);
CORO__HIDDEN void coro__copy_release(coro *co);
CORO__HIDDEN void *coro__copy_addr(const coro *co, void *p);
CORO__HIDDEN void coro__copy_thread_exit(coro__thread *t);
CORO__HIDDEN const coro__stack *coro__stack_of(const coro *co);

/* 1 if switching to `to` needs its stack copied back first. */
static inline int coro__copy_needed(const coro *to)
{
    return (to->flags & CORO__F_COPY) && to->thread->owner != to;
}

/* A switch: the backend's, with the copier in between when `to` is a
 * copy-mode coroutine whose frames are not on the shared stack. Without a
 * sanitizer to tell (CORO__ANNOUNCE) it is inlined into resume and yield. */
CORO__HIDDEN void coro__switch_plain(coro *from, coro *to);
CORO__HIDDEN void coro__switch_jump(coro *from, coro *to);
#ifdef CORO__ANNOUNCE
CORO__HIDDEN void coro__switch(coro *from, coro *to);
#else
static inline void coro__switch(coro *from, coro *to)
{
    if (CORO__UNLIKELY(coro__copy_needed(to)))
        coro__copy_switch(from, to);
    else
        coro__ctx_switch(&from->ctx, &to->ctx);
}
#endif
CORO__HIDDEN CORO__NORETURN void coro__switch_final(coro *from, coro *to);
CORO__HIDDEN void coro__switch_started(coro *co);

/* ThreadSanitizer's fibers (switch.c): a new coroutine (or the copier)
 * gets one, named after it; a thread's main coroutine takes the thread's
 * own; a control block's is destroyed when the block is released. Without
 * TSan they are nothing. */
#ifdef CORO__TSAN
CORO__HIDDEN void coro__fiber_new(coro *co);
CORO__HIDDEN void coro__fiber_main(coro *co);
CORO__HIDDEN void coro__fiber_name(coro *co);
CORO__HIDDEN void coro__fiber_free(coro *co);
#else
static inline void coro__fiber_new(coro *co)
{
    (void)co;
}
static inline void coro__fiber_main(coro *co)
{
    (void)co;
}
static inline void coro__fiber_name(coro *co)
{
    (void)co;
}
static inline void coro__fiber_free(coro *co)
{
    (void)co;
}
#endif

/* The running coroutine `from` of thread t is to suspend and `to` to run:
 * their statuses and t's current, before the switch. */
static inline void coro__hand_over(coro__thread *t, coro *from, coro *to)
{
    from->status = CORO_SUSPENDED;
    to->status = CORO_RUNNING;
    t->current = to;
}

/* After a switch, when `from` runs again: it unwinds if it is being
 * closed. */
static inline void coro__switched_back(coro *from)
{
    if (CORO__UNLIKELY(from->flags & CORO__F_CLOSING))
        coro__throw(from, CORO__UNWIND_CLOSE);
}

/* The running coroutine `from` of thread t suspends and `to` runs; when
 * from runs again, it unwinds if it is being closed. */
static inline void coro__switch_suspending(coro__thread *t, coro *from, coro *to)
{
    coro__hand_over(t, from, to);
    coro__switch(from, to);
    coro__switched_back(from);
}

/*
 * A symmetric switch for the runtime: the running coroutine `from` is
 * suspended and `to` (suspended, of this thread) runs in its place, with
 * from's resumer as its own, as if from had yielded to its resumer and
 * that had resumed `to`, in one switch. `value` reaches `to` as a resume's
 * would. coro__transfer_begin does all of it but the switch, which its
 * caller makes (then calls coro__switched_back): 0, or CORO_ENOMEM (copy
 * mode) with nothing changed. Inline: under every handoff of the loop.
 */
static inline int coro__transfer_begin(coro *from, coro *to, void *value)
{
    coro__thread *t = from->thread;

    coro__assert(t->current == from && to->status == CORO_SUSPENDED && to->thread == t);
    if ((t->owner != NULL || (to->flags & CORO__F_COPY)) &&
        coro__copy_reserve(t, from, to, value) != 0)
        return CORO_ENOMEM;
    to->transfer = value;
    to->resumer = from->resumer;
    coro__hand_over(t, from, to);
    return 0;
}

/* All of it: 0 when from is switched to again, or CORO_ENOMEM. */
static inline int coro__transfer(coro *from, coro *to, void *value)
{
    if (coro__transfer_begin(from, to, value) != 0)
        return CORO_ENOMEM;
    coro__switch(from, to);
    coro__switched_back(from);
    return 0;
}

/* ---- the C halves of the x86-64 fast paths (coro.c) ---- */

CORO__HIDDEN void coro__body(void *arg);
CORO__HIDDEN CORO__NORETURN void coro__die(coro *co, int status, void *result);
CORO__HIDDEN int coro__resume_dead(coro *co);
CORO__HIDDEN int coro__resume_worker(coro *co, void *in);

/* The runtime's view of a worker coroutine (inline: on every spawn). */

/* What co's last switch out carried: a yield's value, or at death its
 * result (or error value). */
static inline void *coro__transfer_value(const coro *co)
{
    return co->transfer;
}

static inline void coro__set_transfer(coro *co, void *value)
{
    co->transfer = value;
}

/* Marks co a runtime worker (on) or frees it for the runtime's own
 * coro_close / coro_destroy (off). */
static inline void coro__set_worker(coro *co, int on)
{
    if (on)
        co->flags |= CORO__F_WORKER;
    else
        co->flags &= ~CORO__F_WORKER;
}

/* A worker takes the name (borrowed: reset to NULL before destroy) and the
 * id of the task it runs. */
static inline void coro__set_identity(coro *co, const char *name, unsigned long long id)
{
    co->name = (char *)name;
    co->id = id;
    coro__fiber_name(co);
}
CORO__HIDDEN int coro__call_dead(coro *gen);
#ifdef CORO__ASM_FASTPATH
CORO__HIDDEN int coro__resume_slow(coro *co, void *in, void **out);
CORO__HIDDEN int coro__yield_slow(void *out, void **in);
CORO__HIDDEN int coro__call_slow(coro *gen, void *in, void **out);
#endif

/* ---- stack overflow reports (overflow.c) ---- */

CORO__HIDDEN int coro__overflow_install(coro__thread *t);
CORO__HIDDEN void coro__overflow_thread_exit(coro__thread *t);

/* ---- allocation with fault injection (alloc.c) ---- */

CORO__HIDDEN void *coro__malloc(size_t n);
/* coro__malloc on an `align` boundary (a power of two, a multiple of
 * sizeof(void *)); freed by coro__free. */
CORO__HIDDEN void *coro__malloc_aligned(size_t n, size_t align);
CORO__HIDDEN void coro__free(void *p);
CORO__HIDDEN char *coro__strdup(const char *s);
CORO__HIDDEN void *coro__mmap(size_t len);
CORO__HIDDEN int coro__mprotect_none(void *p, size_t len);
CORO__HIDDEN void coro__munmap(void *p, size_t len);

/* Fault injection and leak counts for tests: fault.h. */
#include "fault.h"

#endif /* CORO_INTERNAL_H */
