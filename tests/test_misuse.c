/*
 * test_misuse.c - every misuse of the API returns its documented code, with
 * Lua's message where Lua has one, and leaves everything as it was: NULL
 * handles, dead / running / normal / main coroutines, yields outside a
 * coroutine, other threads, unknown codes and statuses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "test.h"

static void *return_arg(void *arg)
{
    return arg;
}

static void *yield_forever(void *arg)
{
    void *in = arg;

    for (;;)
        CHECK_ERR(coro_yield(in, &in), 0);
    return NULL;
}

/* ---- NULL handles ---- */

TEST(null_handle_rejected_by_every_call)
{
    void *out = P(1);

    CHECK_ERR(coro_resume(NULL, NULL, &out), CORO_EINVAL);
    CHECK_ERR(coro_call(NULL, NULL, &out), CORO_EINVAL);
    CHECK_PTR(out, P(1)); /* untouched */
    CHECK_ERR(coro_status(NULL), CORO_EINVAL);
    CHECK_ERR(coro_close(NULL), CORO_EINVAL);
    CHECK_ERR(coro_destroy(NULL), CORO_EINVAL);
    CHECK_ERR(coro_set_userdata(NULL, P(1)), CORO_EINVAL);
    CHECK_PTR(coro_errmsg(NULL), NULL);
    CHECK_PTR(coro_errvalue(NULL), NULL);
    CHECK_PTR(coro_name(NULL), NULL);
    CHECK_INT(coro_id(NULL), 0);
    CHECK_PTR(coro_userdata(NULL), NULL);
    CHECK_STR(coro_strerror(CORO_EINVAL), "invalid argument");
}

TEST(create_with_null_out_or_fn_rejected)
{
    coro *co = P(1);

    CHECK_ERR(coro_create(NULL, return_arg, NULL), CORO_EINVAL);
    CHECK_ERR(coro_create(&co, NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_wrap(NULL, return_arg, NULL), CORO_EINVAL);
    CHECK_ERR(coro_wrap(&co, NULL, NULL), CORO_EINVAL);
    /* Nothing was created (the runner checks nothing leaked), and a valid
     * call right after works. */
    CHECK_ERR(coro_create(&co, return_arg, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(create_with_impossible_stack_size_fails_cleanly)
{
    coro_options opt = CORO_OPTIONS_INIT;
    coro *co = P(1);
    int r;

    opt.stack_size = (size_t)-1;
    r = coro_create(&co, return_arg, &opt);
    CHECK(r == CORO_EINVAL || r == CORO_ENOMEM);
    CHECK_PTR(co, NULL);
}

TEST(pcall_with_null_fn_rejected)
{
    void *out = P(1);

    CHECK_ERR(coro_pcall(NULL, NULL, &out), CORO_EINVAL);
    CHECK_PTR(out, P(1));
    CHECK_PTR(coro_errmsg(coro_running(NULL)), NULL);
}

/* ---- resuming what cannot be resumed ---- */

TEST(resume_dead_gives_edead_and_changes_nothing)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, return_arg, NULL), 0);
    CHECK_INT(coro_resume(co, P(3), &out), 0);
    out = P(1);
    CHECK_ERR(coro_resume(co, P(4), &out), CORO_EDEAD);
    CHECK_ERR(coro_resume(co, P(4), &out), CORO_EDEAD);
    CHECK_PTR(out, P(1));
    CHECK_STR(coro_strerror(CORO_EDEAD), "cannot resume dead coroutine");
    CHECK_STR(coro_errname(CORO_EDEAD), "CORO_EDEAD");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_PTR(coro_errmsg(co), NULL); /* misuse is not an error of co's */
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(resume_closed_never_started_gives_edead)
{
    coro *co;

    CHECK_ERR(coro_create(&co, return_arg, NULL), 0);
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(coro_resume(co, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_call(co, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

struct self_probe {
    int resume, call;
};

/* coro_call raises what it cannot resume (as Lua's wrap): caught here. */
static void *call_self(void *arg)
{
    (void)coro_call(arg, NULL, NULL);
    return NULL;
}

static void *resume_and_call_self(void *arg)
{
    struct self_probe *p = arg;
    coro *self = coro_running(NULL);

    p->resume = coro_resume(self, NULL, NULL);
    p->call = coro_pcall(call_self, self, NULL);
    CHECK_STR(coro_errmsg(self), "cannot resume non-suspended coroutine");
    CHECK_INT(coro_status(self), CORO_RUNNING);
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    return P(2);
}

TEST(resume_running_gives_enotsusp)
{
    struct self_probe p = {0, 0};
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, resume_and_call_self, NULL), 0);
    CHECK_INT(coro_resume(co, &p, &out), 1);
    CHECK_ERR(p.resume, CORO_ENOTSUSP);
    CHECK_ERR(p.call, CORO_EERROR);
    CHECK_STR(coro_strerror(CORO_ENOTSUSP), "cannot resume non-suspended coroutine");
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, P(2));
    CHECK_ERR(coro_destroy(co), 0);
}

static void *resume_main_from_inside(void *arg)
{
    coro *main_co = arg;

    CHECK_ERR(coro_resume(main_co, NULL, NULL), CORO_ENOTSUSP);
    CHECK_ERR(coro_pcall(call_self, main_co, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "cannot resume non-suspended coroutine");
    CHECK_INT(coro_status(main_co), CORO_NORMAL);
    return P(7);
}

TEST(resume_main_gives_enotsusp)
{
    coro *m = coro_running(NULL);
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_resume(m, NULL, &out), CORO_ENOTSUSP);
    CHECK_ERR(coro_call(m, NULL, &out), CORO_ENOTSUSP);
    CHECK_INT(coro_status(m), CORO_RUNNING);
    CHECK_ERR(coro_create(&co, resume_main_from_inside, NULL), 0);
    CHECK_INT(coro_resume(co, m, &out), 0);
    CHECK_PTR(out, P(7));
    CHECK_INT(coro_status(m), CORO_RUNNING);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- yield outside a coroutine ---- */

static void *yield_in_main_pcall(void *arg)
{
    void *in = P(5);

    (void)arg;
    CHECK_ERR(coro_yield(P(1), &in), CORO_EOUTSIDE);
    CHECK_PTR(in, P(5));
    return P(6);
}

TEST(yield_from_main_gives_eoutside)
{
    coro *m = coro_running(NULL);
    void *in = P(5), *out = NULL;

    CHECK_ERR(coro_yield(P(1), &in), CORO_EOUTSIDE);
    CHECK_ERR(coro_yield(NULL, NULL), CORO_EOUTSIDE);
    CHECK_PTR(in, P(5)); /* untouched */
    CHECK_STR(coro_strerror(CORO_EOUTSIDE), "attempt to yield from outside a coroutine");
    CHECK_INT(coro_status(m), CORO_RUNNING);
    /* Inside a pcall main is still not a coroutine. */
    CHECK_ERR(coro_pcall(yield_in_main_pcall, NULL, &out), 0);
    CHECK_PTR(out, P(6));
    CHECK_PTR(coro_running(NULL), m);
}

/* ---- destroying what cannot be destroyed ---- */

static void *destroy_main_from_inside(void *arg)
{
    CHECK_ERR(coro_destroy(arg), CORO_EMAINCO);
    return NULL;
}

TEST(destroy_main_gives_emainco)
{
    coro *m = coro_running(NULL);
    coro *co;

    CHECK_ERR(coro_destroy(m), CORO_EMAINCO);
    CHECK_STR(coro_strerror(CORO_EMAINCO), "cannot destroy the main coroutine");
    CHECK_INT(coro_status(m), CORO_RUNNING);
    CHECK_ERR(coro_create(&co, destroy_main_from_inside, NULL), 0);
    CHECK_INT(coro_resume(co, m, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_STR(coro_name(m), "main"); /* still there */
}

struct destroy_pair {
    coro *a, *b;
    int self, resumer;
};

static void *b_destroys(void *arg)
{
    struct destroy_pair *p = arg;

    p->self = coro_destroy(p->b);
    p->resumer = coro_destroy(p->a);
    return NULL;
}

static void *a_runs_b(void *arg)
{
    struct destroy_pair *p = arg;

    CHECK_INT(coro_resume(p->b, p, NULL), 0);
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    return P(2);
}

TEST(destroy_running_or_normal_refused)
{
    struct destroy_pair p = {NULL, NULL, 0, 0};
    void *out = NULL;

    CHECK_ERR(coro_create(&p.a, a_runs_b, NULL), 0);
    CHECK_ERR(coro_create(&p.b, b_destroys, NULL), 0);
    CHECK_INT(coro_resume(p.a, &p, &out), 1);
    CHECK_ERR(p.self, CORO_ECLOSERUN);
    CHECK_ERR(p.resumer, CORO_ECLOSENORM);
    /* Both survived: a goes on, b finished normally. */
    CHECK_INT(coro_status(p.b), CORO_DEAD);
    CHECK_INT(coro_resume(p.a, NULL, &out), 0);
    CHECK_PTR(out, P(2));
    CHECK_ERR(coro_destroy(p.a), 0);
    CHECK_ERR(coro_destroy(p.b), 0);
}

TEST(close_closed_returns_zero_and_changes_nothing)
{
    coro *co;

    CHECK_ERR(coro_create(&co, yield_forever, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(coro_close(co), 0);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_PTR(coro_errmsg(co), NULL);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- threads ---- */

struct thread_probe {
    coro *foreign;        /* a coroutine of the main thread */
    coro *main_of_parent; /* the main thread's main coroutine */
    int resume, call, close, destroy, status, fresh_yield, fresh_yieldable;
    coro *own_main;
    int own_ismain;
    unsigned long long own_main_id;
    long own_result;
    int own_destroy;
};

static void *other_thread(void *arg)
{
    struct thread_probe *p = arg;
    coro *mine;
    void *out = NULL;

    /* Before any other call: no state yet, still a clean refusal. */
    p->fresh_yield = coro_yield(NULL, NULL);
    p->fresh_yieldable = coro_isyieldable(NULL);
    p->resume = coro_resume(p->foreign, NULL, &out);
    p->call = coro_call(p->foreign, NULL, &out);
    p->close = coro_close(p->foreign);
    p->destroy = coro_destroy(p->foreign);
    p->status = coro_status(p->foreign);
    p->own_main = coro_running(&p->own_ismain);
    p->own_main_id = coro_id(p->own_main);
    /* This thread runs coroutines of its own. */
    if (coro_create(&mine, yield_forever, NULL) == 0) {
        if (coro_resume(mine, P(40), &out) == 1 && coro_resume(mine, P(41), &out) == 1)
            p->own_result = N(out);
        p->own_destroy = coro_destroy(mine);
    }
    return NULL;
}

TEST(use_from_another_thread_gives_ethread)
{
    struct thread_probe p;
    pthread_t th;
    int ismain = 0;
    void *out = NULL;

    memset(&p, 0, sizeof p);
    p.main_of_parent = coro_running(&ismain);
    CHECK_INT(ismain, 1);
    CHECK_ERR(coro_create(&p.foreign, yield_forever, NULL), 0);
    CHECK_INT(coro_resume(p.foreign, P(1), &out), 1); /* started: has a stack */
    p.own_destroy = -1;
    CHECK_INT(pthread_create(&th, NULL, other_thread, &p), 0);
    CHECK_INT(pthread_join(th, NULL), 0);
    CHECK_ERR(p.fresh_yield, CORO_EOUTSIDE);
    CHECK_INT(p.fresh_yieldable, 0);
    CHECK_ERR(p.resume, CORO_ETHREAD);
    CHECK_ERR(p.call, CORO_ETHREAD);
    CHECK_ERR(p.close, CORO_ETHREAD);
    CHECK_ERR(p.destroy, CORO_ETHREAD);
    CHECK_INT(p.status, CORO_SUSPENDED);
    CHECK_STR(coro_strerror(CORO_ETHREAD), "cannot use a coroutine from another thread");
    /* Each thread has its own main coroutine. */
    CHECK(p.own_main != NULL);
    CHECK(p.own_main != p.main_of_parent);
    CHECK_INT(p.own_ismain, 1);
    CHECK(p.own_main_id != 0 && p.own_main_id != coro_id(p.main_of_parent));
    CHECK_INT(p.own_result, 41);
    CHECK_ERR(p.own_destroy, 0);
    /* The coroutine is intact on its own thread. */
    CHECK_INT(coro_status(p.foreign), CORO_SUSPENDED);
    CHECK_INT(coro_resume(p.foreign, P(2), &out), 1);
    CHECK_PTR(out, P(2));
    CHECK_ERR(coro_destroy(p.foreign), 0);
}

/* ---- names of codes and statuses ---- */

TEST(strerror_and_errname_of_every_code)
{
#define CHECK_CODE(name, value, msg)                                                               \
    CHECK_STR(coro_strerror(CORO_##name), msg);                                                    \
    CHECK_STR(coro_errname(CORO_##name), "CORO_" #name);                                           \
    CHECK_INT(CORO_##name, value);
    CORO_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
    CHECK_STR(coro_strerror(CORO_ENOTSUSP), "cannot resume non-suspended coroutine");
    CHECK_STR(coro_strerror(CORO_ECBOUNDARY), "attempt to yield across a C-call boundary");
}

TEST(strerror_and_errname_of_unknown_codes)
{
    static const int unknown[] = {-999, -1099, -5000, 1, 2, 12345, -2147483647 - 1};

    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_STR(coro_strerror(unknown[i]), "unknown error");
        CHECK_STR(coro_errname(unknown[i]), "CORO_UNKNOWN");
    }
    /* Other errno codes, as the file calls return them: the system's words. */
    CHECK_STR(coro_strerror(-EISDIR), strerror(EISDIR));
    CHECK_STR(coro_strerror(-EROFS), strerror(EROFS));
    CHECK_STR(coro_errname(-EISDIR), "CORO_UNKNOWN");
}

TEST(status_name_of_every_status_and_invalid)
{
    CHECK_STR(coro_status_name(CORO_SUSPENDED), "suspended");
    CHECK_STR(coro_status_name(CORO_RUNNING), "running");
    CHECK_STR(coro_status_name(CORO_NORMAL), "normal");
    CHECK_STR(coro_status_name(CORO_DEAD), "dead");
    CHECK_STR(coro_status_name(4), "invalid");
    CHECK_STR(coro_status_name(-1), "invalid");
    CHECK_STR(coro_status_name(CORO_EINVAL), "invalid"); /* coro_status(NULL) */
    CHECK_STR(coro_status_name(coro_status(NULL)), "invalid");
}
