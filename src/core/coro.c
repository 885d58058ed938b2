/*
 * coro.c - create / resume / yield / status / close / wrap: Lua 5.4's
 * coroutine library, in C.
 *
 * The state machine (Lua 5.4 manual, 2.6):
 *
 *   create --> SUSPENDED --resume--> RUNNING --yield--> SUSPENDED
 *                                     |   ^
 *               resume another  <-----+   +----- that one yields/ends
 *               (this one: NORMAL)
 *   RUNNING --return / error--> DEAD;  SUSPENDED --close--> DEAD
 *
 * Invariants: exactly one coroutine per thread is RUNNING (thread->current);
 * the chain current -> resumer -> resumer ... consists of NORMAL coroutines
 * and ends at the main coroutine. The side that switches away sets every
 * field the other side reads (statuses, current, transfer), so the code
 * after a switch only reads.
 *
 * Misuse is checked before anything changes, so a refused call leaves every
 * coroutine as it was.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* The end of co, on its own stack: status is how its base scope ended (0,
 * CORO_EERROR or CORO__UNWIND_CLOSE) and result what the body returned.
 * Switches to the resumer for good. */
void coro__die(coro *co, int status, void *result)
{
    coro *r = co->resumer;
    coro__thread *t = co->thread;

    if (t->owner == co)
        t->owner = NULL; /* nothing on the shared stack to keep */
    else if (t->owner != NULL && coro__copy_needed(r))
        coro__copy_reserve_final(t, co, r);
    co->status = CORO_DEAD;
    co->transfer = NULL;
    if (status == CORO_EERROR) {
        co->flags |= CORO__F_ERRORED;
        co->transfer = co->err.value;
    } else if (status == 0) {
        co->transfer = result;
    }
    r->status = CORO_RUNNING;
    t->current = r;
    coro__switch_final(co, r);
}

/* Runs on co's own stack: the body inside its base scope, then death.
 * Errors and close never come back here: coro__throw ends the coroutine. */
void coro__body(void *arg)
{
    coro *co = arg;
    coro__frame base;
    void *result;

    coro__switch_started(co);
    co->flags |= CORO__F_STARTED;
    coro__scope_begin(co, &base, 1);
    result = co->fn(co->transfer);
    coro__scope_return(co, &base);
    coro__die(co, coro__scope_end(co, &base), result);
}

/* Whether a new coroutine runs in copy-stack mode: asked for, or the
 * build's default (make STACK=copy runs the whole suite that way). */
static int copy_mode(const coro_options *opt)
{
#ifdef CORO_DEFAULT_COPY_STACK
    return opt == NULL || !(opt->flags & CORO__OWN_STACK);
#else
    return opt != NULL && (opt->flags & CORO_COPY_STACK);
#endif
}

/* Every field of a new control block, one by one: a memset of the whole
 * block compiles to `rep stos`, whose start-up costs more than these
 * stores (a new field needs its line here). */
static void clear(coro *co)
{
    memset(&co->ctx, 0, sizeof co->ctx); /* one store on the assembly backends */
    co->status = 0;
    co->flags = 0;
    co->resumer = NULL;
    co->thread = NULL;
    co->transfer = NULL;
    co->fn = NULL;
    co->frame = NULL;
    co->defers = NULL;
    co->err.msg = NULL;
    co->err.value = NULL;
    co->err.owned = 0;
    co->name = NULL;
    co->user_data = NULL;
    co->id = 0;
    memset(&co->stack, 0, sizeof co->stack); /* the union's larger member */
#ifdef CORO__ASAN
    co->asan_fake = NULL;
    co->asan_lo = NULL;
    co->asan_size = 0;
#endif
#ifdef CORO__TSAN
    co->tsan_fiber = NULL;
#endif
}

static int make(coro **out, coro_fn fn, const coro_options *opt)
{
    coro__thread *t;
    coro *co;
    size_t size;
    int err;

    if (out == NULL || fn == NULL)
        return CORO_EINVAL;
    *out = NULL;
    size = coro__stack_round(opt != NULL ? opt->stack_size : 0);
    if (size == 0)
        return CORO_EINVAL;
    t = coro__thread_get();
    if (t == NULL)
        return CORO_ENOMEM;
    co = coro__block_get(t);
    if (co == NULL)
        return CORO_ENOMEM;
    clear(co);
    if (opt != NULL && opt->name != NULL && opt->name[0] != '\0') {
        co->name = coro__strdup(opt->name);
        if (co->name == NULL) {
            coro__free(co); /* failures give memory back, not to the cache */
            return CORO_ENOMEM;
        }
    }
    co->thread = t;
    if (copy_mode(opt))
        err = coro__copy_init(t, co); /* its first frame is built later */
    else
        err = coro__stack_get(&co->stack, size);
    if (err != 0) {
        coro__free(co->name);
        coro__free(co);
        return err;
    }
    co->status = CORO_SUSPENDED;
    co->fn = fn;
    co->user_data = opt != NULL ? opt->user_data : NULL;
    co->id = coro__next_id();
    coro__fiber_new(co);
    t->live++;
    if (co->flags & CORO__F_COPY) {
        t->copy_live++;
        *out = co;
        return 0;
    }
#ifdef CORO__ASAN
    co->asan_lo = co->stack.lo;
    co->asan_size = co->stack.size;
#endif
    coro__ctx_init(&co->ctx, co->stack.lo, co->stack.size, coro__body, co);
    *out = co;
    return 0;
}

int coro_create(coro **co, coro_fn fn, const coro_options *opt)
{
    return make(co, fn, opt);
}

int coro_wrap(coro **gen, coro_fn fn, const coro_options *opt)
{
    return make(gen, fn, opt);
}

/* Why co cannot be resumed by the calling thread, or 0 if it can. */
static int check_resume(const coro *co, const coro__thread *t)
{
    if (co == NULL)
        return CORO_EINVAL;
    if (co->thread != t)
        return CORO_ETHREAD;
    if (co->status == CORO_SUSPENDED)
        return 0;
    return co->status == CORO_DEAD ? CORO_EDEAD : CORO_ENOTSUSP;
}

/* Switches from the running coroutine to co, which becomes running, and
 * comes back when co yields or dies. */
static void enter(coro__thread *t, coro *co)
{
    coro *cur = t->current;

    co->resumer = cur;
    cur->status = CORO_NORMAL;
    co->status = CORO_RUNNING;
    t->current = co;
    coro__switch(cur, co);
}

/*
 * With the x86-64 fast paths, coro_resume, coro_yield and coro_call are assembly
 * (src/arch/x86_64.S) and the C versions below are their fallbacks for
 * every case but the common one; elsewhere the C versions are the API.
 */
#ifdef CORO__ASM_FASTPATH
#define resume_c coro__resume_slow
#define yield_c coro__yield_slow
#define call_c coro__call_slow
#else
#define resume_c coro_resume
#define yield_c coro_yield
#define call_c coro_call
#endif

#ifdef CORO__ASM_FASTPATH
/* The layout the assembly relies on (a C99 static assertion). */
typedef char coro__layout_check
    [(offsetof(coro, ctx) == CORO__OFF_SP && offsetof(coro, status) == CORO__OFF_STATUS &&
      offsetof(coro, flags) == CORO__OFF_FLAGS && offsetof(coro, resumer) == CORO__OFF_RESUMER &&
      offsetof(coro, thread) == CORO__OFF_THREAD &&
      offsetof(coro, transfer) == CORO__OFF_TRANSFER &&
      offsetof(coro__thread, current) == CORO__OFF_CURRENT &&
      offsetof(coro__thread, owner) == CORO__OFF_OWNER && CORO_SUSPENDED == CORO__S_SUSPENDED &&
      CORO_RUNNING == CORO__S_RUNNING && CORO_NORMAL == CORO__S_NORMAL)
         ? 1
         : -1];
#endif

/* After a resume: co died (returned or raised). Releases its stack. */
int coro__resume_dead(coro *co)
{
    if (!(co->flags & CORO__F_COPY))
        coro__stack_put(&co->stack);
    coro__copy_release(co);
    return (co->flags & CORO__F_ERRORED) ? CORO_EERROR : 0;
}

static int resume(coro *co, void *in, void **out, int worker_ok);

int resume_c(coro *co, void *in, void **out)
{
    return resume(co, in, out, 0);
}

/* The runtime's resume of a task's worker (public calls refuse those). */
int coro__resume_worker(coro *co, void *in)
{
    return resume(co, in, NULL, 1);
}

static int resume(coro *co, void *in, void **out, int worker_ok)
{
    coro__thread *t = coro__tls;
    int err = check_resume(co, t);

    if (CORO__UNLIKELY(err != 0))
        return err;
    if (CORO__UNLIKELY((co->flags & CORO__F_WORKER) && !worker_ok))
        return CORO_ETASKCO;
    err = coro__copy_reserve(t, t->current, co, in);
    if (err != 0)
        return err;
    co->transfer = in;
    enter(t, co);
    if (out != NULL)
        *out = co->transfer;
    if (CORO__LIKELY(co->status == CORO_SUSPENDED))
        return 1;
    return coro__resume_dead(co);
}

int yield_c(void *out, void **in)
{
    coro__thread *t = coro__tls;
    coro *cur, *r;

    if (t == NULL || (t->current->flags & CORO__F_MAIN))
        return CORO_EOUTSIDE;
    cur = t->current;
    if (cur->flags & CORO__F_NOYIELD)
        return CORO_ECBOUNDARY;
    r = cur->resumer;
    if (coro__copy_reserve(t, cur, r, out) != 0)
        return CORO_ENOMEM;
    cur->transfer = out;
    coro__switch_suspending(t, cur, r);
    if (in != NULL)
        *in = cur->transfer;
    return 0;
}

int coro_status(const coro *co)
{
    return co != NULL ? co->status : CORO_EINVAL;
}

const char *coro_status_name(int status)
{
    switch (status) {
    case CORO_SUSPENDED:
        return "suspended";
    case CORO_RUNNING:
        return "running";
    case CORO_NORMAL:
        return "normal";
    case CORO_DEAD:
        return "dead";
    default:
        return "invalid";
    }
}

coro *coro_running(int *ismain)
{
    coro__thread *t = coro__thread_get();

    if (t == NULL) {
        if (ismain != NULL)
            *ismain = 1;
        return NULL;
    }
    if (ismain != NULL)
        *ismain = (t->current->flags & CORO__F_MAIN) != 0;
    return t->current;
}

int coro_isyieldable(const coro *co)
{
    if (co == NULL) {
        coro__thread *t = coro__tls;
        if (t == NULL)
            return 0;
        co = t->current;
    }
    return !(co->flags & (CORO__F_MAIN | CORO__F_NOYIELD));
}

/* Unwinds a suspended, started coroutine on its own stack: coro_yield sees
 * CORO__F_CLOSING when it wakes up and throws to the body's base frame. */
static void unwind(coro__thread *t, coro *co)
{
    co->flags |= CORO__F_CLOSING | CORO__F_NOYIELD;
    enter(t, co);
    coro__assert(co->status == CORO_DEAD);
    co->flags &= ~CORO__F_NOYIELD; /* its cleanups are done: Lua's yieldable again */
}

/* Why co cannot be closed by the calling thread, or 0. */
static int check_close(const coro *co, const coro__thread *t)
{
    if (co == NULL)
        return CORO_EINVAL;
    if (co->thread != t)
        return CORO_ETHREAD;
    if (co->status == CORO_RUNNING)
        return CORO_ECLOSERUN;
    if (co->status == CORO_NORMAL)
        return CORO_ECLOSENORM;
    return 0;
}

int coro_close(coro *co)
{
    coro__thread *t = coro__tls;
    int err = check_close(co, t);

    if (err != 0)
        return err;
    if (co->flags & CORO__F_WORKER)
        return CORO_ETASKCO;
    if (co->flags & CORO__F_CLOSED)
        return 0; /* its error, if any, was reported by the first close */
    if (co->status == CORO_SUSPENDED) {
        if (co->flags & CORO__F_STARTED) {
            err = coro__copy_reserve(t, t->current, co, NULL);
            if (err != 0)
                return err;
            unwind(t, co);
        }
        co->status = CORO_DEAD;
    }
    if (!(co->flags & CORO__F_COPY))
        coro__stack_put(&co->stack);
    coro__copy_release(co);
    co->flags |= CORO__F_CLOSED;
    return (co->flags & CORO__F_ERRORED) ? CORO_EERROR : 0;
}

/* Frees what co holds and co itself; the caller's thread keeps the
 * control block and the stack for reuse. */
static void release(coro *co)
{
    if (co->flags & CORO__F_COPY) {
        coro__free(co->saved);
    } else {
        coro__stack_put(&co->stack);
    }
    coro__defer_free_all(co);
    coro__error_clear(co);
    coro__fiber_free(co);
    coro__free(co->name);
    coro__block_put(coro__tls, co);
}

/*
 * coro_destroy from a thread that is not co's. While co's thread lives,
 * only what that thread no longer looks at may go: a dead or never-started
 * coroutine with its own stack (a copy-mode one is in the thread's
 * shared-stack books). Once the thread has exited nothing can run co any
 * more, and a coroutine suspended mid-body is freed without its cleanups:
 * the alternative is a leak that nothing could ever end.
 */
static int destroy_foreign(coro *co)
{
    coro__thread *owner = co->thread;

    if (co->status == CORO_RUNNING || co->status == CORO_NORMAL)
        return CORO_ETHREAD;
    if (!coro__thread_exited(owner)) {
        if (co->flags & CORO__F_COPY)
            return CORO_ETHREAD;
        if (co->status == CORO_SUSPENDED && (co->flags & CORO__F_STARTED))
            return CORO_ETHREAD; /* its cleanups must run on its own thread */
    }
    release(co);
    coro__thread_unref(owner);
    return 0;
}

int coro_destroy(coro *co)
{
    coro__thread *t = coro__tls;
    int err;

    if (co == NULL)
        return CORO_EINVAL;
    if (co->flags & CORO__F_MAIN)
        return CORO_EMAINCO;
    if (co->flags & CORO__F_WORKER)
        return CORO_ETASKCO;
    if (co->thread != t)
        return destroy_foreign(co);
    err = check_close(co, t);
    if (err != 0)
        return err;
    if (co->status == CORO_SUSPENDED) {
        err = coro_close(co);
        if (err == CORO_ENOMEM)
            return err; /* still suspended, with its cleanups pending */
    }
    if (co->flags & CORO__F_COPY) {
        coro__copy_release(co);
        t->copy_live--;
    }
    release(co);
    t->live--;
    return 0;
}

/* gen raised an error inside coro_call: pass it on, as Lua's wrap does. */
static int pass_on(coro *gen)
{
    coro *cur;

    gen->flags |= CORO__F_CLOSED;
    cur = coro__tls->current;
    if (cur->frame == NULL)
        return CORO_EERROR; /* a main coroutine outside coro_pcall */
    coro__error_set(cur, gen->err.value, gen->err.msg);
    coro__throw(cur, CORO_EERROR);
}

/* coro_call could not resume gen (err: CORO_EDEAD, CORO_ENOTSUSP, ...):
 * Lua's wrap raises that too ("cannot resume dead coroutine"), in the
 * caller when something there can catch it; a main coroutine outside
 * coro_pcall gets the code. */
static int misuse(int err)
{
    coro *cur = coro__tls != NULL ? coro__tls->current : NULL;

    if (cur == NULL || cur->frame == NULL)
        return err;
    coro__error_set(cur, NULL, coro_strerror(err));
    coro__throw(cur, CORO_EERROR);
}

/* After a coro_call: gen died (see coro__resume_dead). */
int coro__call_dead(coro *gen)
{
    int r = coro__resume_dead(gen);

    return r == CORO_EERROR ? pass_on(gen) : r;
}

int call_c(coro *gen, void *in, void **out)
{
    int r = resume_c(gen, in, out);

    if (CORO__UNLIKELY(r < 0))
        return r == CORO_EERROR ? pass_on(gen) : misuse(r);
    return r;
}

const char *coro_name(const coro *co)
{
    if (co == NULL)
        return NULL;
    if (co->flags & CORO__F_MAIN)
        return "main";
    return co->name != NULL ? co->name : "";
}

unsigned long long coro_id(const coro *co)
{
    return co != NULL ? co->id : 0;
}

void *coro_userdata(const coro *co)
{
    return co != NULL ? co->user_data : NULL;
}

int coro_set_userdata(coro *co, void *user_data)
{
    if (co == NULL)
        return CORO_EINVAL;
    co->user_data = user_data;
    return 0;
}
