/*
 * test_error.c - errors as values: coro_error and coro_error_value caught by
 * resume, coro_pcall (with yields inside it), coro_defer cleanups on return
 * and on error, cleanups that raise, and errors on the main coroutine.
 */
#include <stdint.h>

#include "test.h"

static void *return_arg(void *arg)
{
    return arg;
}

/* ---- errors caught by resume ---- */

static void *raise_formatted(void *arg)
{
    (void)arg;
    coro_error("bad value %d in %s", 42, "frobnicate");
    CHECK(!"coro_error returned inside a coroutine");
    return NULL;
}

TEST(error_message_caught_by_resume)
{
    coro *co;
    void *out = P(1);

    CHECK_ERR(coro_create(&co, raise_formatted, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    CHECK_PTR(out, NULL); /* no error value: *out is NULL, not stale */
    CHECK_STR(coro_errmsg(co), "bad value 42 in frobnicate");
    CHECK_PTR(coro_errvalue(co), NULL);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EDEAD);
    CHECK_STR(coro_errmsg(co), "bad value 42 in frobnicate"); /* kept */
    CHECK_PTR(coro_errmsg(coro_running(NULL)), NULL);         /* not main's */
    CHECK_ERR(coro_destroy(co), 0);
}

struct error_object {
    int code;
    const char *what;
};

static void *raise_value(void *arg)
{
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* errors after a yield too */
    coro_error_value(arg, "object error %d", ((struct error_object *)arg)->code);
    return NULL;
}

TEST(error_value_reaches_out_and_errvalue)
{
    struct error_object obj = {7, "seven"};
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, raise_value, NULL), 0);
    CHECK_INT(coro_resume(co, &obj, &out), 1);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    CHECK_PTR(out, &obj);
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_STR(coro_errmsg(co), "object error 7");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

/* coro_error and coro_error_value without the printf attribute, to pass a
 * NULL format the compilers would otherwise warn about. */
static int (*const error_fmt)(const char *, ...) = coro_error;
static int (*const error_value_fmt)(void *, const char *, ...) = coro_error_value;

static void *raise_null_fmt(void *arg)
{
    if (arg != NULL)
        error_value_fmt(arg, NULL);
    error_fmt(NULL);
    return NULL;
}

TEST(error_null_fmt_gives_not_a_string_message)
{
    coro *co;
    int obj;
    void *out = P(1);

    CHECK_ERR(coro_create(&co, raise_null_fmt, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "(error object is not a string)");
    CHECK_PTR(out, NULL);
    CHECK_ERR(coro_destroy(co), 0);

    CHECK_ERR(coro_create(&co, raise_null_fmt, NULL), 0);
    CHECK_ERR(coro_resume(co, &obj, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "(error object is not a string)");
    CHECK_PTR(out, &obj);
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_ERR(coro_destroy(co), 0);
}

static int deepest_reached;

static long recurse_then_raise(long depth)
{
    if (depth == 0) {
        deepest_reached = 1;
        coro_error("bottom of %d frames", 100);
        return 0;
    }
    return recurse_then_raise(depth - 1) + 1; /* not a tail call */
}

static void *raise_deep(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "body"), 0);
    return P(recurse_then_raise(N(arg)));
}

TEST(error_raised_deep_in_nested_calls)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, raise_deep, NULL), 0);
    CHECK_ERR(coro_resume(co, P(100), &out), CORO_EERROR);
    CHECK_INT(deepest_reached, 1);
    CHECK_STR(coro_errmsg(co), "bottom of 100 frames");
    CHECK_STR(log_buf, "body");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

/* Each level of a recursion registers a cleanup reading one of its own
 * locals; the error at the bottom unwinds them all. */
struct level {
    long depth;
    unsigned char pattern[256];
};

static long levels_seen[16];
static int levels_n, levels_intact;

static void read_level(void *arg)
{
    volatile struct level *l = arg;
    int ok = 1;

    for (size_t i = 0; i < sizeof l->pattern; i++)
        ok = ok && l->pattern[i] == (unsigned char)(l->depth + i);
    levels_intact += ok;
    levels_seen[levels_n++] = l->depth;
}

static void recurse_with_cleanups(long depth)
{
    volatile struct level l;

    l.depth = depth;
    for (size_t i = 0; i < sizeof l.pattern; i++)
        l.pattern[i] = (unsigned char)(depth + i);
    CHECK_ERR(coro_defer(read_level, (void *)&l), 0);
    if (depth == 10)
        coro_error("at depth %ld", depth);
    else
        recurse_with_cleanups(depth + 1);
    CHECK(!"returned past the error");
}

static void *raise_under_cleanups(void *arg)
{
    (void)arg;
    recurse_with_cleanups(1);
    return NULL;
}

TEST(error_cleanups_read_locals_of_unwound_frames)
{
    coro *co;

    CHECK_ERR(coro_create(&co, raise_under_cleanups, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "at depth 10");
    CHECK_INT(levels_n, 10);
    for (int i = 0; i < 10; i++)
        CHECK_INT(levels_seen[i], 10 - i); /* innermost first */
    CHECK_INT(levels_intact, 10);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- coro_pcall ---- */

static void *fail_with_value(void *arg)
{
    coro_error_value(arg, "failed with %p", arg);
    return NULL;
}

static void *pcall_then_continue(void *arg)
{
    char expect[64];
    void *out = NULL;
    int r;

    r = coro_pcall(fail_with_value, arg, &out);
    CHECK_ERR(r, CORO_EERROR);
    CHECK_PTR(out, arg);
    snprintf(expect, sizeof expect, "failed with %p", arg);
    CHECK_STR(coro_errmsg(coro_running(NULL)), expect);
    CHECK_PTR(coro_errvalue(coro_running(NULL)), arg);
    CHECK_INT(coro_status(coro_running(NULL)), CORO_RUNNING);
    CHECK_ERR(coro_yield(P(1), NULL), 0); /* still alive and yieldable */
    return P(2);
}

TEST(pcall_in_coroutine_catches_error_and_coroutine_continues)
{
    coro *co;
    int obj;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, pcall_then_continue, NULL), 0);
    CHECK_INT(coro_resume(co, &obj, &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_status(co), CORO_SUSPENDED);
    CHECK(coro_errmsg(co) != NULL); /* the caught error, seen from outside */
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, P(2));
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(pcall_success_returns_fn_result)
{
    int x;
    void *out = NULL;

    CHECK_ERR(coro_pcall(return_arg, &x, &out), 0);
    CHECK_PTR(out, &x);
    CHECK_ERR(coro_pcall(return_arg, &x, NULL), 0); /* NULL out accepted */
    CHECK_PTR(coro_errmsg(coro_running(NULL)), NULL);
}

TEST(pcall_on_main_catches_error)
{
    coro *m = coro_running(NULL);
    int obj;
    void *out = NULL;
    char expect[64];

    CHECK_ERR(coro_pcall(fail_with_value, &obj, &out), CORO_EERROR);
    CHECK_PTR(out, &obj);
    snprintf(expect, sizeof expect, "failed with %p", (void *)&obj);
    CHECK_STR(coro_errmsg(m), expect);
    CHECK_PTR(coro_errvalue(m), &obj);
    CHECK_INT(coro_status(m), CORO_RUNNING);
    CHECK_ERR(coro_pcall(fail_with_value, NULL, NULL), CORO_EERROR); /* out NULL */
    snprintf(expect, sizeof expect, "failed with %p", (void *)NULL);
    CHECK_STR(coro_errmsg(m), expect);
}

static void *inner_fails(void *arg)
{
    (void)arg;
    log_add("inner ");
    coro_error("inner");
    return NULL;
}

static void *outer_catches_then_raises(void *arg)
{
    void *out = P(1);

    (void)arg;
    CHECK_ERR(coro_pcall(inner_fails, NULL, &out), CORO_EERROR);
    CHECK_PTR(out, NULL);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "inner");
    log_add("outer ");
    coro_error("outer after %s", coro_errmsg(coro_running(NULL)));
    return NULL;
}

static void *outer_catches(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_pcall(inner_fails, NULL, NULL), CORO_EERROR);
    return P(5); /* the outer pcall succeeds */
}

static void *nested_pcalls(void *arg)
{
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_pcall(outer_catches, NULL, &out), 0);
    CHECK_PTR(out, P(5));
    CHECK_ERR(coro_pcall(outer_catches_then_raises, NULL, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "outer after inner");
    return P(6);
}

TEST(nested_pcalls_each_catch_their_own)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, nested_pcalls, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, P(6));
    CHECK_STR(log_buf, "inner inner outer ");
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(nested_pcalls_on_main)
{
    void *out = NULL;

    CHECK_ERR(coro_pcall(outer_catches_then_raises, NULL, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "outer after inner");
}

TEST(pcall_success_keeps_earlier_caught_error)
{
    coro *m = coro_running(NULL);
    int obj;

    CHECK_ERR(coro_pcall(fail_with_value, &obj, NULL), CORO_EERROR);
    CHECK_ERR(coro_pcall(return_arg, NULL, NULL), 0);
    CHECK(coro_errmsg(m) != NULL);
    CHECK(strncmp(coro_errmsg(m), "failed with ", 12) == 0);
    CHECK_PTR(coro_errvalue(m), &obj);
    /* The next error replaces it. */
    CHECK_ERR(coro_pcall(inner_fails, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(m), "inner");
    CHECK_PTR(coro_errvalue(m), NULL);
}

static void *catch_then_succeed(void *arg)
{
    coro *self = coro_running(NULL);

    CHECK_ERR(coro_pcall(fail_with_value, arg, NULL), CORO_EERROR);
    CHECK_ERR(coro_pcall(return_arg, NULL, NULL), 0);
    CHECK_PTR(coro_errvalue(self), arg);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_PTR(coro_errvalue(self), arg); /* a yield changes nothing */
    return P(1);
}

TEST(pcall_success_keeps_earlier_caught_error_in_coroutine)
{
    coro *co;
    int obj;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, catch_then_succeed, NULL), 0);
    CHECK_INT(coro_resume(co, &obj, &out), 1);
    CHECK(coro_errmsg(co) != NULL);
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_INT(coro_resume(co, NULL, &out), 0); /* a caught error is not fatal */
    CHECK_PTR(out, P(1));
    CHECK_ERR(coro_destroy(co), 0);
}

/* Yields three times inside the pcall, summing what it gets, then fails with
 * the sum as its value. */
static void *yield_then_fail(void *arg)
{
    long sum = N(arg);
    void *in = NULL;

    for (long i = 1; i <= 3; i++) {
        CHECK_INT(coro_isyieldable(NULL), 1);
        CHECK_ERR(coro_yield(P(i), &in), 0);
        sum += N(in);
    }
    coro_error_value(P(sum), "failed after yields, sum %ld", sum);
    return NULL;
}

static void *pcall_with_yields(void *arg)
{
    void *out = NULL;

    CHECK_ERR(coro_pcall(yield_then_fail, arg, &out), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "failed after yields, sum 1111");
    CHECK_ERR(coro_yield(out, NULL), 0);
    return P(-1);
}

TEST(yield_inside_pcall_then_error_still_caught_by_it)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, pcall_with_yields, NULL), 0);
    CHECK_INT(coro_resume(co, P(1000), &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_resume(co, P(1), &out), 1);
    CHECK_PTR(out, P(2));
    CHECK_INT(coro_resume(co, P(10), &out), 1);
    CHECK_PTR(out, P(3));
    CHECK_INT(coro_resume(co, P(100), &out), 1);
    CHECK_PTR(out, P(1111)); /* the caught error's value, yielded by the body */
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, P(-1));
    CHECK_ERR(coro_destroy(co), 0);
}

static void *yield_twice_then_return(void *arg)
{
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    CHECK_ERR(coro_yield(P(2), NULL), 0);
    return arg;
}

static void *pcall_yields_and_succeeds(void *arg)
{
    void *out = NULL;

    CHECK_ERR(coro_pcall(yield_twice_then_return, arg, &out), 0);
    return out;
}

TEST(yield_inside_pcall_that_succeeds)
{
    coro *co;
    int x;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, pcall_yields_and_succeeds, NULL), 0);
    CHECK_INT(coro_resume(co, &x, &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_resume(co, NULL, &out), 1);
    CHECK_PTR(out, P(2));
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, &x);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- cleanups ---- */

static void *defer_three_and_return(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "1"), 0);
    CHECK_ERR(coro_defer(log_cleanup, "2"), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_ERR(coro_defer(log_cleanup, "3"), 0);
    return arg;
}

TEST(defer_runs_lifo_on_return)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, defer_three_and_return, NULL), 0);
    CHECK_INT(coro_resume(co, P(9), &out), 1);
    CHECK_STR(log_buf, ""); /* a yield runs no cleanup */
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_STR(log_buf, "321");
    CHECK_PTR(out, P(9));
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_STR(log_buf, "321"); /* not again on destroy */
}

/* Records what the error in flight looks like from inside a cleanup. */
static void see_error(void *arg)
{
    const char *msg = coro_errmsg(coro_running(NULL));

    log_add(arg);
    log_add("<");
    log_add(msg != NULL ? msg : "none");
    log_add(">");
    CHECK_PTR(coro_errvalue(coro_running(NULL)), P(77));
}

static void *defer_then_fail(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(see_error, "a"), 0);
    CHECK_ERR(coro_defer(see_error, "b"), 0);
    coro_error_value(P(77), "boom");
    return NULL;
}

TEST(defer_runs_lifo_on_error_and_sees_the_error)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, defer_then_fail, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    CHECK_STR(log_buf, "b<boom>a<boom>");
    CHECK_STR(coro_errmsg(co), "boom");
    CHECK_PTR(out, P(77));
    CHECK_ERR(coro_destroy(co), 0);
}

static void *defer_in_pcall(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "B"), 0);
    CHECK_ERR(coro_defer(log_cleanup, "C"), 0);
    if (arg != NULL)
        coro_error("scoped");
    return NULL;
}

static void *defer_scoped(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(log_cleanup, "A"), 0);
    CHECK_ERR(coro_pcall(defer_in_pcall, NULL, NULL), 0);
    CHECK_STR(log_buf, "CB"); /* the pcall's own cleanups, not A */
    CHECK_ERR(coro_pcall(defer_in_pcall, P(1), NULL), CORO_EERROR);
    CHECK_STR(log_buf, "CBCB");
    log_add("-");
    return NULL;
}

TEST(defer_scoped_to_pcall)
{
    coro *co;

    CHECK_ERR(coro_create(&co, defer_scoped, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_STR(log_buf, "CBCB-A");
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(defer_in_pcall_on_main_runs_when_it_ends)
{
    CHECK_ERR(coro_pcall(defer_in_pcall, NULL, NULL), 0);
    CHECK_STR(log_buf, "CB");
    CHECK_ERR(coro_pcall(defer_in_pcall, P(1), NULL), CORO_EERROR);
    CHECK_STR(log_buf, "CBCB");
    CHECK_STR(coro_errmsg(coro_running(NULL)), "scoped");
}

static void raise_in_cleanup(void *arg)
{
    const char *msg = coro_errmsg(coro_running(NULL));

    log_add("r(");
    log_add(msg != NULL ? msg : "none");
    log_add(")");
    coro_error_value(arg, "from cleanup %s", (const char *)arg);
}

static void note_error(void *arg)
{
    const char *msg = coro_errmsg(coro_running(NULL));

    log_add(arg);
    log_add("(");
    log_add(msg != NULL ? msg : "none");
    log_add(")");
}

static void *cleanups_raise_while_unwinding(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(note_error, "n1"), 0);
    CHECK_ERR(coro_defer(raise_in_cleanup, "y"), 0);
    CHECK_ERR(coro_defer(note_error, "n2"), 0);
    CHECK_ERR(coro_defer(raise_in_cleanup, "x"), 0);
    CHECK_ERR(coro_defer(note_error, "n3"), 0);
    coro_error("first");
    return NULL;
}

TEST(cleanup_error_replaces_error_in_flight)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, cleanups_raise_while_unwinding, NULL), 0);
    CHECK_ERR(coro_resume(co, NULL, &out), CORO_EERROR);
    /* Every cleanup ran, each seeing the error in flight; the last wins. */
    CHECK_STR(log_buf, "n3(first)r(first)n2(from cleanup x)r(from cleanup x)"
                       "n1(from cleanup y)");
    CHECK_STR(coro_errmsg(co), "from cleanup y");
    CHECK_STR(out, "y");
    CHECK_PTR(coro_errvalue(co), out);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *return_with_raising_cleanup(void *arg)
{
    CHECK_ERR(coro_defer(note_error, "n"), 0);
    CHECK_ERR(coro_defer(raise_in_cleanup, "z"), 0);
    return arg;
}

TEST(cleanup_error_on_return_turns_it_into_error)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, return_with_raising_cleanup, NULL), 0);
    CHECK_ERR(coro_resume(co, P(3), &out), CORO_EERROR);
    CHECK_STR(log_buf, "r(none)n(from cleanup z)");
    CHECK_STR(coro_errmsg(co), "from cleanup z");
    CHECK_STR(out, "z"); /* the error value, not the body's result */
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_resume(co, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(cleanup_error_in_pcall_turns_success_into_error)
{
    void *out = NULL;

    CHECK_ERR(coro_pcall(return_with_raising_cleanup, P(3), &out), CORO_EERROR);
    CHECK_STR(out, "z");
    CHECK_STR(coro_errmsg(coro_running(NULL)), "from cleanup z");
    CHECK_STR(log_buf, "r(none)n(from cleanup z)");
}

/* A cleanup that runs protected calls of its own, one failing and one not,
 * while an error is being unwound. */
static void cleanup_with_pcalls(void *arg)
{
    (void)arg;
    note_error("p1");
    CHECK_ERR(coro_pcall(inner_fails, NULL, NULL), CORO_EERROR);
    note_error("p2");
    CHECK_ERR(coro_pcall(return_arg, NULL, NULL), 0);
    note_error("p3");
}

static void *unwind_through_cleanup_pcalls(void *arg)
{
    CHECK_ERR(coro_defer(note_error, "n1"), 0);
    CHECK_ERR(coro_defer(cleanup_with_pcalls, NULL), 0);
    if (arg != NULL)
        coro_error_value(arg, "outer");
    return P(1);
}

TEST(pcall_in_cleanup_cannot_lose_error_in_flight)
{
    coro *co;
    int obj;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, unwind_through_cleanup_pcalls, NULL), 0);
    CHECK_ERR(coro_resume(co, &obj, &out), CORO_EERROR);
    /* Inside the cleanup its own caught error shows; the next cleanup and
     * the resumer see the error in flight again. */
    CHECK_STR(log_buf, "p1(outer)inner p2(inner)p3(inner)n1(outer)");
    CHECK_STR(coro_errmsg(co), "outer");
    CHECK_PTR(out, &obj);
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(pcall_error_in_cleanup_on_return_is_not_an_error)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, unwind_through_cleanup_pcalls, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, P(1));
    CHECK_STR(log_buf, "p1(none)inner p2(inner)p3(inner)n1(none)");
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_close(co), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- the main coroutine outside any pcall ---- */

TEST(error_on_main_outside_pcall_returns_enohandler)
{
    coro *m = coro_running(NULL);
    int obj;

    CHECK_ERR(coro_error("nobody catches %s", "this"), CORO_ENOHANDLER);
    CHECK_ERR(coro_error_value(&obj, "nor this"), CORO_ENOHANDLER);
    CHECK_ERR(error_fmt(NULL), CORO_ENOHANDLER);
    /* Nothing was raised: main has no error and keeps running. */
    CHECK_PTR(coro_errmsg(m), NULL);
    CHECK_PTR(coro_errvalue(m), NULL);
    CHECK_INT(coro_status(m), CORO_RUNNING);
}

static int counter;

static void count_cleanup(void *arg)
{
    (void)arg;
    counter++;
}

static void *defer_null_fn(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(NULL, NULL), CORO_EINVAL);
    return NULL;
}

TEST(defer_on_main_outside_pcall_returns_enohandler)
{
    coro *co;

    CHECK_ERR(coro_defer(count_cleanup, NULL), CORO_ENOHANDLER);
    CHECK_ERR(coro_defer(NULL, NULL), CORO_EINVAL);
    /* Neither was registered: the next scope on main does not run them. */
    CHECK_ERR(coro_pcall(return_arg, NULL, NULL), 0);
    CHECK_INT(counter, 0);
    CHECK_ERR(coro_pcall(defer_null_fn, NULL, NULL), 0);
    CHECK_ERR(coro_create(&co, defer_null_fn, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- errors do not cross a resume ---- */

struct pair {
    coro *a, *b;
};

static void *b_fails(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(log_cleanup, "b-cleanup "), 0);
    coro_error_value(P(5), "b failed");
    return NULL;
}

static void *a_resumes_failing_b(void *arg)
{
    struct pair *p = arg;
    void *out = NULL;

    CHECK_ERR(coro_defer(log_cleanup, "a-cleanup"), 0);
    CHECK_ERR(coro_resume(p->b, NULL, &out), CORO_EERROR);
    CHECK_PTR(out, P(5));
    CHECK_STR(coro_errmsg(p->b), "b failed");
    /* A is untouched: running, no error of its own, still yieldable. */
    CHECK_INT(coro_status(p->a), CORO_RUNNING);
    CHECK_PTR(coro_errmsg(p->a), NULL);
    log_add("a-continues ");
    CHECK_ERR(coro_yield(P(1), NULL), 0);
    return P(2);
}

TEST(error_crosses_resume_only_as_value)
{
    struct pair p;
    void *out = NULL;

    CHECK_ERR(coro_create(&p.a, a_resumes_failing_b, NULL), 0);
    CHECK_ERR(coro_create(&p.b, b_fails, NULL), 0);
    CHECK_INT(coro_resume(p.a, &p, &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_resume(p.a, NULL, &out), 0);
    CHECK_PTR(out, P(2));
    CHECK_STR(log_buf, "b-cleanup a-continues a-cleanup");
    CHECK_PTR(coro_errmsg(p.a), NULL);
    CHECK_INT(coro_status(p.b), CORO_DEAD);
    CHECK_ERR(coro_destroy(p.a), 0);
    CHECK_ERR(coro_destroy(p.b), 0);
}

/* ---- many cleanups that raise: constant stack depth ---- */

#define MANY_RAISERS 100000L

static long raisers_ran;

static void count_and_raise(void *arg)
{
    raisers_ran++;
    coro_error_value(arg, "cleanup %ld failed", raisers_ran);
}

static void defer_raisers(long n)
{
    for (long i = 0; i < n; i++)
        CHECK_ERR(coro_defer(count_and_raise, P(i + 1)), 0);
}

static void *many_raisers_then_error(void *arg)
{
    defer_raisers(N(arg));
    coro_error("the first error");
    return NULL;
}

static void *many_raisers_then_return(void *arg)
{
    defer_raisers(N(arg));
    return P(7);
}

static void *many_raisers_then_yield(void *arg)
{
    defer_raisers(N(arg));
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return P(7);
}

/* The last cleanup to run (the first registered, value 1) wins, and every
 * one of them ran: on a 256 KiB stack, which a recursion of 100,000 raises
 * would overflow many times over. */
static void check_many_raisers(coro *co, int rc, void *out)
{
    CHECK_ERR(rc, CORO_EERROR);
    CHECK_INT(raisers_ran, MANY_RAISERS);
    CHECK_STR(coro_errmsg(co), "cleanup 100000 failed");
    CHECK_PTR(coro_errvalue(co), P(1));
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_status(co), CORO_DEAD);
}

TEST(many_raising_cleanups_on_error_run_at_constant_depth)
{
    coro *co;
    void *out = NULL;
    int rc;

    raisers_ran = 0;
    CHECK_ERR(coro_create(&co, many_raisers_then_error, NULL), 0);
    rc = coro_resume(co, P(MANY_RAISERS), &out);
    check_many_raisers(co, rc, out);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(many_raising_cleanups_on_return_run_at_constant_depth)
{
    coro *co;
    void *out = NULL;
    int rc;

    raisers_ran = 0;
    CHECK_ERR(coro_create(&co, many_raisers_then_return, NULL), 0);
    rc = coro_resume(co, P(MANY_RAISERS), &out);
    check_many_raisers(co, rc, out);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(many_raising_cleanups_on_close_run_at_constant_depth)
{
    coro *co;
    int rc;

    raisers_ran = 0;
    CHECK_ERR(coro_create(&co, many_raisers_then_yield, NULL), 0);
    CHECK_INT(coro_resume(co, P(MANY_RAISERS), NULL), 1);
    rc = coro_close(co);
    check_many_raisers(co, rc, coro_errvalue(co));
    CHECK_ERR(coro_destroy(co), 0);
}

static void *pcall_many_raisers(void *arg)
{
    defer_raisers(N(arg));
    return P(7);
}

TEST(many_raising_cleanups_in_pcall_run_at_constant_depth)
{
    void *out = NULL;

    raisers_ran = 0;
    CHECK_ERR(coro_pcall(pcall_many_raisers, P(MANY_RAISERS), &out), CORO_EERROR);
    CHECK_INT(raisers_ran, MANY_RAISERS);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "cleanup 100000 failed");
    CHECK_PTR(out, P(1));
}
