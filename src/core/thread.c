/*
 * thread.c - per-thread state: the main coroutine, the running-coroutine
 * pointer, the stack pool and the signal stack, created on a thread's first
 * use of coro and freed when the thread exits.
 *
 * The state is reached through one initial-exec TLS pointer, which costs a
 * single %fs-relative load on x86-64 (no __tls_get_addr call even in the
 * shared library). A pthread key exists only for its destructor.
 */
#include <pthread.h>
#include <string.h>

#include "internal.h"

__thread coro__thread *coro__tls __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;
static unsigned long long last_id;

/* Ids are unique in the process and never reused. Each thread takes them
 * from the global counter in blocks, so creating a coroutine costs no
 * atomic operation in steady state; ids then increase per thread, not in
 * global creation order. */
#define ID_BLOCK 1024

__thread unsigned long long coro__id_next __attribute__((tls_model("initial-exec")));
__thread unsigned long long coro__id_end __attribute__((tls_model("initial-exec")));

unsigned long long coro__next_id_block(void)
{
    coro__id_next = __atomic_fetch_add(&last_id, ID_BLOCK, __ATOMIC_RELAXED) + 1;
    coro__id_end = coro__id_next + ID_BLOCK;
    return coro__id_next++;
}

/* Control blocks are recycled per thread, like stacks (at most as many as
 * the stack pool holds), so that create/destroy in steady state calls no
 * allocator. */
coro *coro__block_get(coro__thread *t)
{
    coro *co = t->spare;

    if (co == NULL)
        return coro__malloc(sizeof *co);
    t->spare = co->resumer;
    t->spare_len--;
    return co;
}

void coro__block_put(coro__thread *t, coro *co)
{
    if (t == NULL || t->spare_len >= CORO__POOL_MAX) {
        coro__free(co);
        return;
    }
    co->resumer = t->spare;
    t->spare = co;
    t->spare_len++;
}

void coro__block_drain(coro__thread *t)
{
    while (t->spare != NULL) {
        coro *co = t->spare;
        t->spare = co->resumer;
        coro__free(co);
    }
    t->spare_len = 0;
}

/*
 * The state's lifetime. Its own thread counts coroutines in `live` with
 * plain arithmetic (the common case costs nothing); other threads count the
 * ones they destroy in `foreign`, atomically. The state is freed when the
 * thread has exited and the two counts meet. The exiting thread and a
 * foreign destroyer each publish their write before reading the other's
 * (sequentially consistent), so at least one of them sees both; `freed`
 * makes sure only one frees.
 */
int coro__thread_exited(coro__thread *t)
{
    return __atomic_load_n(&t->exited, __ATOMIC_SEQ_CST);
}

static void maybe_free(coro__thread *t)
{
    if (coro__thread_exited(t) && t->live == __atomic_load_n(&t->foreign, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&t->freed, 1, __ATOMIC_SEQ_CST) == 0)
        coro__free(t);
}

/* Another thread destroyed one of t's coroutines. */
void coro__thread_unref(coro__thread *t)
{
    __atomic_add_fetch(&t->foreign, 1, __ATOMIC_SEQ_CST);
    maybe_free(t);
}

void coro__spares_drain(void)
{
    coro__thread *t = coro__tls;

    if (t == NULL)
        return;
    if (t->copy_live == 0)
        coro__copy_thread_exit(t); /* the shared stack and the copier */
    coro__block_drain(t);
    coro__stack_pool_drain(t);
}

/* Thread exit: release what the thread's state owns. Coroutines still alive
 * on this thread cannot run any more; any thread may destroy them (see
 * coro_destroy), and the last destroy frees the state. */
static void thread_exit(void *arg)
{
    coro__thread *t = arg;

    coro__copy_thread_exit(t);
    coro__spares_drain();
    coro__overflow_thread_exit(t);
    coro__error_clear(&t->main);
    coro__tls = NULL;
    (void)__atomic_exchange_n(&t->exited, 1, __ATOMIC_SEQ_CST); /* not a store: remote.c */
    maybe_free(t);
}

static void make_exit_key(void)
{
    exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

coro__thread *coro__thread_init(void)
{
    coro__thread *t = coro__malloc(sizeof *t);

    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof *t);
    t->main.status = CORO_RUNNING;
    t->main.flags = CORO__F_MAIN | CORO__F_STARTED;
    t->main.thread = t;
    t->main.id = coro__next_id();
    coro__fiber_main(&t->main);
    t->current = &t->main;
    coro__tls = t;
    pthread_once(&exit_once, make_exit_key);
    if (exit_key_ok)
        pthread_setspecific(exit_key, t);
    /* Without the overflow handler coro still works; overflows are then
     * reported by the default SIGSEGV action only. */
    (void)coro__overflow_install(t);
    return t;
}
