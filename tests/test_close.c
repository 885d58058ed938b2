/*
 * test_close.c - coro_close (Lua 5.4's coroutine.close) and coro_destroy:
 * unwinding a suspended coroutine on its own stack, through pcalls, with
 * cleanups that read its locals, try to yield or raise; dead, errored and
 * closed coroutines; refusing to close a running, normal or main one.
 */
#include <stdint.h>

#include "test.h"

static int body_ran;

static void *mark_ran(void *arg)
{
    body_ran = 1;
    return arg;
}

static void *yield_forever(void *arg)
{
    (void)arg;
    for (;;)
        CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

TEST(close_never_started_returns_zero_and_dead)
{
    coro *co;

    CHECK_ERR(coro_create(&co, mark_ran, NULL), 0);
    CHECK_ERR(coro_close(co), 0);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_resume(co, NULL, NULL), CORO_EDEAD);
    CHECK_INT(body_ran, 0);
    CHECK_PTR(coro_errmsg(co), NULL);
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_INT(body_ran, 0);
}

/* The body's locals, which its cleanups read while the coroutine is closed.
 * The pattern is large enough that a frame placed over it would show. */
struct locals {
    int value;
    unsigned char pattern[512];
};

struct seen {
    coro *self;
    int order[3];
    int n;
    int values[3];
    int patterns_ok;
    int ran_as_self;
    int frame_near_body;
    char *body_frame;
};

static struct seen seen;

static void read_locals(void *arg)
{
    volatile struct locals *l = arg;
    char *frame = __builtin_frame_address(0);
    int ok = 1;

    for (size_t i = 0; i < sizeof l->pattern; i++)
        ok = ok && l->pattern[i] == (unsigned char)(i * 7 + 1);
    seen.patterns_ok += ok;
    seen.ran_as_self += coro_running(NULL) == seen.self;
    /* The cleanup's frame is on the coroutine's stack, near the body's. */
    seen.frame_near_body += frame < seen.body_frame + CORO_STACK_DEFAULT &&
                            frame > seen.body_frame - CORO_STACK_DEFAULT;
    seen.values[seen.n] = l->value;
    seen.order[seen.n++] = l->value / 100;
}

static void *defer_locals_and_yield(void *arg)
{
    volatile struct locals a, b, c;
    volatile struct locals *all[3] = {&a, &b, &c};

    (void)arg;
    seen.body_frame = __builtin_frame_address(0);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < sizeof all[k]->pattern; i++)
            all[k]->pattern[i] = (unsigned char)(i * 7 + 1);
        all[k]->value = 0;
        CHECK_ERR(coro_defer(read_locals, (void *)all[k]), 0);
    }
    /* Changed after registering: the cleanups see the current values. */
    a.value = 101;
    b.value = 202;
    c.value = 303;
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    CHECK(!"resumed after close");
    return NULL;
}

TEST(close_suspended_runs_cleanups_lifo_on_own_stack)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, defer_locals_and_yield, NULL), 0);
    seen.self = co;
    CHECK_INT(coro_resume(co, NULL, &out), 1);
    CHECK_INT(seen.n, 0);
    CHECK_ERR(coro_close(co), 0);
    CHECK_INT(seen.n, 3);
    CHECK_INT(seen.order[0], 3); /* LIFO: c, b, a */
    CHECK_INT(seen.order[1], 2);
    CHECK_INT(seen.order[2], 1);
    CHECK_INT(seen.values[0], 303);
    CHECK_INT(seen.values[1], 202);
    CHECK_INT(seen.values[2], 101);
    CHECK_INT(seen.patterns_ok, 3);
    CHECK_INT(seen.ran_as_self, 3);
    CHECK_INT(seen.frame_near_body, 3);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_resume(co, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_INT(seen.n, 3); /* destroy does not run them again */
}

static void *pcall_inner_yields(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(log_cleanup, "B"), 0);
    CHECK_ERR(coro_defer(log_cleanup, "C"), 0);
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    log_add("!inner-resumed");
    return NULL;
}

static void *pcall_outer(void *arg)
{
    int r;

    (void)arg;
    CHECK_ERR(coro_defer(log_cleanup, "A"), 0);
    r = coro_pcall(pcall_inner_yields, NULL, NULL);
    log_add("!pcall-returned");
    (void)r;
    return NULL;
}

TEST(close_unwinds_through_pcalls_without_stopping)
{
    coro *co;

    CHECK_ERR(coro_create(&co, pcall_outer, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_ERR(coro_close(co), 0);
    CHECK_STR(log_buf, "CBA"); /* the pcall neither caught nor returned */
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

static int yield_result = 1;
static int yieldable_in_cleanup = -1;

static void cleanup_tries_to_yield(void *arg)
{
    (void)arg;
    yieldable_in_cleanup = coro_isyieldable(NULL);
    yield_result = coro_yield(P(5), NULL);
    log_add("y");
}

static void *defer_yielder(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(log_cleanup, "x"), 0);
    CHECK_ERR(coro_defer(cleanup_tries_to_yield, NULL), 0);
    CHECK_INT(coro_isyieldable(NULL), 1);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

TEST(close_cleanup_cannot_yield)
{
    coro *co;

    CHECK_ERR(coro_create(&co, defer_yielder, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(yield_result, CORO_ECBOUNDARY);
    CHECK_INT(yieldable_in_cleanup, 0);
    CHECK_STR(log_buf, "yx"); /* the refused yield did not stop the unwinding */
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

static void raise_in_cleanup(void *arg)
{
    log_add(arg);
    coro_error_value(arg, "cleanup %s failed", (const char *)arg);
}

static void note_error(void *arg)
{
    const char *msg = coro_errmsg(coro_running(NULL));

    log_add(arg);
    log_add("(");
    log_add(msg != NULL ? msg : "none");
    log_add(")");
}

static void *defer_raisers(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(note_error, "n1"), 0);
    CHECK_ERR(coro_defer(raise_in_cleanup, "r1"), 0);
    CHECK_ERR(coro_defer(note_error, "n2"), 0);
    CHECK_ERR(coro_defer(raise_in_cleanup, "r2"), 0);
    CHECK_ERR(coro_defer(note_error, "n3"), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

TEST(close_cleanup_error_is_reported_and_last_wins)
{
    coro *co;

    CHECK_ERR(coro_create(&co, defer_raisers, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_ERR(coro_close(co), CORO_EERROR);
    /* Closing is not an error: the first cleanup sees none. Each later one
     * sees the error raised before it, and all of them run. */
    CHECK_STR(log_buf, "n3(none)r2n2(cleanup r2 failed)r1n1(cleanup r1 failed)");
    CHECK_STR(coro_errmsg(co), "cleanup r1 failed");
    CHECK_STR(coro_errvalue(co), "r1");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_close(co), 0); /* reported once, as Lua does */
    CHECK_STR(coro_errmsg(co), "cleanup r1 failed");
    CHECK_ERR(coro_destroy(co), 0);
}

static void *pcall_defer_raiser(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(raise_in_cleanup, "p"), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

static void *outer_of_raiser(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(note_error, "outer"), 0);
    /* The pcall does not catch the cleanup's error during close either. */
    (void)coro_pcall(pcall_defer_raiser, NULL, NULL);
    log_add("!pcall-returned");
    return NULL;
}

TEST(close_cleanup_error_inside_pcall_is_not_caught_by_it)
{
    coro *co;

    CHECK_ERR(coro_create(&co, outer_of_raiser, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_ERR(coro_close(co), CORO_EERROR);
    CHECK_STR(log_buf, "pouter(cleanup p failed)");
    CHECK_STR(coro_errmsg(co), "cleanup p failed");
    CHECK_ERR(coro_destroy(co), 0);
}

static void *fail_inner(void *arg)
{
    (void)arg;
    coro_error("caught inside");
    return NULL;
}

static void cleanup_catches_error(void *arg)
{
    CHECK_ERR(coro_pcall(fail_inner, NULL, NULL), CORO_EERROR);
    note_error(arg);
}

static void *catch_defer_yield(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(note_error, "last"), 0);
    CHECK_ERR(coro_defer(cleanup_catches_error, "c"), 0);
    CHECK_ERR(coro_defer(note_error, "first"), 0);
    CHECK_ERR(coro_pcall(fail_inner, NULL, NULL), CORO_EERROR);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

/* An error caught before the yield, or by a pcall inside a cleanup, is not
 * an error of the close. */
TEST(close_ignores_errors_caught_by_pcalls)
{
    coro *co;

    CHECK_ERR(coro_create(&co, catch_defer_yield, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_STR(coro_errmsg(co), "caught inside");
    CHECK_ERR(coro_close(co), 0);
    CHECK_STR(log_buf, "first(none)c(caught inside)last(none)");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_close(co), 0);
    CHECK_STR(log_buf, "first(none)c(caught inside)last(none)"); /* nothing ran again */
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(close_dead_coroutine_returns_zero)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, mark_ran, NULL), 0);
    CHECK_INT(coro_resume(co, P(4), &out), 0);
    CHECK_PTR(out, P(4));
    CHECK_ERR(coro_close(co), 0);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_PTR(coro_errmsg(co), NULL);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *fail_after_defer(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "c"), 0);
    coro_error_value(arg, "original %d", 1);
    return NULL;
}

TEST(close_errored_coroutine_returns_original_error)
{
    coro *co;
    int obj;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, fail_after_defer, NULL), 0);
    CHECK_ERR(coro_resume(co, &obj, &out), CORO_EERROR);
    CHECK_STR(log_buf, "c");
    CHECK_ERR(coro_close(co), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "original 1");
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_STR(log_buf, "c"); /* cleanups ran once, when it died */
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(close_twice_returns_zero_as_lua_does)
{
    coro *unstarted, *suspended, *finished;

    CHECK_ERR(coro_create(&unstarted, mark_ran, NULL), 0);
    CHECK_ERR(coro_create(&suspended, yield_forever, NULL), 0);
    CHECK_ERR(coro_create(&finished, mark_ran, NULL), 0);
    CHECK_INT(coro_resume(suspended, NULL, NULL), 1);
    CHECK_INT(coro_resume(finished, NULL, NULL), 0);
    CHECK_ERR(coro_close(unstarted), 0);
    CHECK_ERR(coro_close(suspended), 0);
    CHECK_ERR(coro_close(finished), 0);
    CHECK_ERR(coro_close(unstarted), 0);
    CHECK_ERR(coro_close(suspended), 0);
    CHECK_ERR(coro_close(finished), 0);
    CHECK_INT(coro_status(suspended), CORO_DEAD);
    CHECK_ERR(coro_destroy(unstarted), 0);
    CHECK_ERR(coro_destroy(suspended), 0);
    CHECK_ERR(coro_destroy(finished), 0);
}

static void *close_self(void *arg)
{
    coro *self = coro_running(NULL);

    CHECK_ERR(coro_defer(log_cleanup, "d"), 0);
    CHECK_ERR(coro_close(self), CORO_ECLOSERUN);
    CHECK_ERR(coro_destroy(self), CORO_ECLOSERUN);
    CHECK_INT(coro_status(self), CORO_RUNNING);
    CHECK_STR(log_buf, ""); /* nothing was unwound */
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    return arg;
}

TEST(close_running_gives_ecloserun)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, close_self, NULL), 0);
    CHECK_INT(coro_resume(co, P(2), &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_resume(co, NULL, &out), 0); /* still works */
    CHECK_PTR(out, P(2));
    CHECK_STR(log_buf, "d");
    CHECK_STR(coro_strerror(CORO_ECLOSERUN), "cannot close a running coroutine");
    CHECK_ERR(coro_destroy(co), 0);
}

struct pair {
    coro *a, *b, *main_co;
};

static void *b_closes_resumer(void *arg)
{
    struct pair *p = arg;

    CHECK_ERR(coro_close(p->a), CORO_ECLOSENORM);
    CHECK_ERR(coro_destroy(p->a), CORO_ECLOSENORM);
    CHECK_ERR(coro_close(p->main_co), CORO_ECLOSENORM);
    CHECK_INT(coro_status(p->a), CORO_NORMAL);
    return P(3);
}

static void *a_resumes_b(void *arg)
{
    struct pair *p = arg;
    void *out = NULL;

    CHECK_ERR(coro_defer(log_cleanup, "a"), 0);
    CHECK_INT(coro_resume(p->b, p, &out), 0);
    CHECK_PTR(out, P(3));
    CHECK_STR(log_buf, "");
    CHECK_ERR(coro_yield(P(4), NULL), 0);
    return P(5);
}

TEST(close_normal_gives_eclosenorm)
{
    struct pair p;
    void *out = NULL;

    p.main_co = coro_running(NULL);
    CHECK_ERR(coro_create(&p.a, a_resumes_b, NULL), 0);
    CHECK_ERR(coro_create(&p.b, b_closes_resumer, NULL), 0);
    CHECK_INT(coro_resume(p.a, &p, &out), 1);
    CHECK_PTR(out, P(4));
    CHECK_INT(coro_resume(p.a, NULL, &out), 0); /* A is intact */
    CHECK_PTR(out, P(5));
    CHECK_STR(log_buf, "a");
    CHECK_STR(coro_strerror(CORO_ECLOSENORM), "cannot close a normal coroutine");
    CHECK_ERR(coro_destroy(p.a), 0);
    CHECK_ERR(coro_destroy(p.b), 0);
}

TEST(close_main_refused)
{
    coro *m = coro_running(NULL);

    CHECK_ERR(coro_close(m), CORO_ECLOSERUN);
    CHECK_INT(coro_status(m), CORO_RUNNING);
    CHECK_ERR(coro_close(m), CORO_ECLOSERUN); /* not "closed" either */
}

static void *defer_and_yield(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "1"), 0);
    CHECK_ERR(coro_defer(log_cleanup, "2"), 0);
    CHECK_ERR(coro_yield(arg, NULL), 0);
    CHECK(!"resumed after destroy");
    return NULL;
}

TEST(destroy_suspended_coroutine_runs_its_cleanups)
{
    coro *co;

    CHECK_ERR(coro_create(&co, defer_and_yield, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_STR(log_buf, "");
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_STR(log_buf, "21");
}

TEST(destroy_after_close_runs_nothing_again)
{
    coro *co;

    CHECK_ERR(coro_create(&co, defer_and_yield, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_ERR(coro_close(co), 0);
    CHECK_STR(log_buf, "21");
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_STR(log_buf, "21");
}

static void *yield_in_loop(void *arg)
{
    long n = 0;

    CHECK_ERR(coro_defer(log_cleanup, arg), 0);
    for (;;) {
        void *in = NULL;
        CHECK_ERR(coro_yield(P(n), &in), 0);
        n += N(in);
    }
    return NULL;
}

TEST(close_after_several_yields_then_status_dead)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, yield_in_loop, NULL), 0);
    CHECK_INT(coro_resume(co, "z", &out), 1);
    CHECK_INT(coro_resume(co, P(3), &out), 1);
    CHECK_INT(coro_resume(co, P(4), &out), 1);
    CHECK_PTR(out, P(7));
    CHECK_INT(coro_status(co), CORO_SUSPENDED);
    CHECK_ERR(coro_close(co), 0);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_STR(log_buf, "z");
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EDEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

/* Lua 5.4: close reports a dead coroutine's error once; every later close
 * returns true. */
TEST(close_errored_reports_the_error_once_then_returns_zero)
{
    coro *co;
    int obj;

    CHECK_ERR(coro_create(&co, fail_after_defer, NULL), 0);
    CHECK_ERR(coro_resume(co, &obj, NULL), CORO_EERROR);
    CHECK_ERR(coro_close(co), CORO_EERROR);
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(coro_close(co), 0);
    CHECK_STR(coro_errmsg(co), "original 1"); /* still readable */
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_STR(log_buf, "c");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

/* Lua 5.4: coroutine.isyieldable(co) is true for a dead coroutine, closed
 * or not (lua_closethread resets what its cleanups made non-yieldable). */
TEST(a_closed_coroutine_is_yieldable_again_as_in_lua)
{
    coro *closed, *finished;

    CHECK_ERR(coro_create(&closed, yield_forever, NULL), 0);
    CHECK_ERR(coro_create(&finished, mark_ran, NULL), 0);
    CHECK_INT(coro_resume(closed, NULL, NULL), 1);
    CHECK_INT(coro_resume(finished, NULL, NULL), 0);
    CHECK_ERR(coro_close(closed), 0);
    CHECK_INT(coro_isyieldable(closed), 1);
    CHECK_INT(coro_isyieldable(finished), 1);
    CHECK_ERR(coro_destroy(closed), 0);
    CHECK_ERR(coro_destroy(finished), 0);
}
