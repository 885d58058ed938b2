/*
 * test_wrap.c - generators: coro_wrap and coro_call (Lua's coroutine.wrap),
 * the permutations iterator of Programming in Lua, and how an error inside
 * a generator reaches its caller (returned on main, raised again inside a
 * pcall or a coroutine).
 */
#include <stdint.h>

#include "test.h"

static void *return_arg(void *arg)
{
    return arg;
}

/* ---- the permutations iterator ---- */

/* Programming in Lua, 9.3:
 *   function permgen (a, n)
 *     n = n or #a
 *     if n <= 1 then coroutine.yield(a)
 *     else
 *       for i = 1, n do
 *         a[n], a[i] = a[i], a[n]
 *         permgen(a, n - 1)
 *         a[n], a[i] = a[i], a[n]
 *       end
 *     end
 *   end
 * with Lua's 1-based a[k] as a[k - 1] here. */
static void swap(int *a, int i, int j)
{
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
}

static void permgen(int *a, int n)
{
    if (n <= 1) {
        CHECK_ERR(coro_yield(a, NULL), 0);
        return;
    }
    for (int i = 1; i <= n; i++) {
        swap(a, n - 1, i - 1);
        permgen(a, n - 1);
        swap(a, n - 1, i - 1);
    }
}

struct perm_arg {
    int *a;
    int n;
};

static void *permutations(void *arg)
{
    struct perm_arg *p = arg;

    permgen(p->a, p->n);
    return NULL;
}

/* printResult: the elements separated by spaces. */
static void format_result(char *buf, size_t size, const int *a, int n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i > 0 ? " %d" : "%d", a[i]);
}

TEST(wrap_permutations_iterator_in_lua_order)
{
    static const char *const expect[] = {"2 3 1", "3 2 1", "3 1 2", "1 3 2", "2 1 3", "1 2 3"};
    int a[3] = {1, 2, 3};
    struct perm_arg arg = {a, 3};
    char line[32];
    coro *gen;
    void *out = NULL;
    int n = 0, r;

    CHECK_ERR(coro_wrap(&gen, permutations, NULL), 0);
    while ((r = coro_call(gen, &arg, &out)) == 1) {
        CHECK(n < 6);
        CHECK_PTR(out, a);
        format_result(line, sizeof line, out, 3);
        CHECK_STR(line, expect[n]);
        n++;
    }
    CHECK_INT(r, 0); /* the end: the body returned */
    CHECK_PTR(out, NULL);
    CHECK_INT(n, 6);
    CHECK_INT(coro_status(gen), CORO_DEAD);
    CHECK_ERR(coro_destroy(gen), 0);
}

TEST(wrap_permutations_of_4_gives_24_distinct)
{
    int a[4] = {1, 2, 3, 4};
    struct perm_arg arg = {a, 4};
    char lines[24][16];
    coro *gen;
    void *out = NULL;
    int n = 0;

    CHECK_ERR(coro_wrap(&gen, permutations, NULL), 0);
    while (coro_call(gen, &arg, &out) == 1) {
        CHECK(n < 24);
        format_result(lines[n++], sizeof lines[0], out, 4);
    }
    CHECK_INT(n, 24);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            CHECK(strcmp(lines[i], lines[j]) != 0);
    CHECK_ERR(coro_destroy(gen), 0);
}

/* ---- values and the end ---- */

static void *echo_twice(void *arg)
{
    void *in = NULL;

    CHECK_ERR(coro_yield(P(N(arg) + 1), &in), 0);
    CHECK_ERR(coro_yield(P(N(in) + 1), &in), 0);
    return P(N(in) + 1);
}

TEST(wrap_passes_values_both_ways)
{
    coro *gen;
    void *out = NULL;

    CHECK_ERR(coro_wrap(&gen, echo_twice, NULL), 0);
    CHECK_INT(coro_call(gen, P(10), &out), 1);
    CHECK_PTR(out, P(11));
    CHECK_INT(coro_call(gen, P(20), &out), 1);
    CHECK_PTR(out, P(21));
    CHECK_INT(coro_call(gen, P(30), &out), 0);
    CHECK_PTR(out, P(31));
    CHECK_ERR(coro_destroy(gen), 0);
}

TEST(wrap_finished_generator_gives_edead)
{
    coro *gen;
    void *out = P(1);

    CHECK_ERR(coro_wrap(&gen, return_arg, NULL), 0);
    CHECK_INT(coro_call(gen, P(8), &out), 0);
    CHECK_PTR(out, P(8));
    out = P(1);
    CHECK_ERR(coro_call(gen, NULL, &out), CORO_EDEAD);
    CHECK_PTR(out, P(1)); /* untouched */
    CHECK_STR(coro_strerror(CORO_EDEAD), "cannot resume dead coroutine");
    CHECK_ERR(coro_call(gen, NULL, NULL), CORO_EDEAD); /* and again */
    CHECK_INT(coro_status(gen), CORO_DEAD);
    CHECK_ERR(coro_destroy(gen), 0);
}

/* ---- errors inside a generator ---- */

static int obj; /* the error value the failing generators carry */

static void *gen_fails(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "g"), 0);
    CHECK_ERR(coro_yield(arg, NULL), 0);
    coro_error_value(&obj, "generator failed at %s", "step 2");
    return NULL;
}

TEST(wrap_error_called_from_main_returns_eerror)
{
    coro *gen;
    void *out = NULL;

    CHECK_ERR(coro_wrap(&gen, gen_fails, NULL), 0);
    CHECK_INT(coro_call(gen, P(1), &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_ERR(coro_call(gen, NULL, &out), CORO_EERROR);
    CHECK_PTR(out, &obj);
    CHECK_STR(coro_errmsg(gen), "generator failed at step 2");
    CHECK_PTR(coro_errvalue(gen), &obj);
    CHECK_STR(log_buf, "g");
    CHECK_INT(coro_status(gen), CORO_DEAD);
    CHECK_PTR(coro_errmsg(coro_running(NULL)), NULL); /* main has no error */
    CHECK_ERR(coro_call(gen, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_close(gen), 0); /* closed when it failed: reported by then */
    CHECK_ERR(coro_destroy(gen), 0);
}

static void *call_generator_twice(void *arg)
{
    void *out = NULL;

    CHECK_INT(coro_call(arg, NULL, &out), 1);
    log_add("1 ");
    (void)coro_call(arg, NULL, &out); /* raises */
    log_add("!after ");
    return NULL;
}

TEST(wrap_error_called_inside_main_pcall_is_raised_again)
{
    coro *gen;
    void *out = NULL;

    CHECK_ERR(coro_wrap(&gen, gen_fails, NULL), 0);
    CHECK_ERR(coro_pcall(call_generator_twice, gen, &out), CORO_EERROR);
    CHECK_PTR(out, &obj);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "generator failed at step 2");
    CHECK_PTR(coro_errvalue(coro_running(NULL)), &obj);
    CHECK_STR(log_buf, "1 g");
    CHECK_STR(coro_errmsg(gen), "generator failed at step 2");
    CHECK_INT(coro_status(gen), CORO_DEAD);
    CHECK_ERR(coro_destroy(gen), 0);
}

static void *caller_with_cleanup(void *arg)
{
    CHECK_ERR(coro_defer(log_cleanup, "c"), 0);
    return call_generator_twice(arg);
}

TEST(wrap_error_called_inside_coroutine_is_raised_there)
{
    coro *gen, *co;
    void *out = NULL;

    CHECK_ERR(coro_wrap(&gen, gen_fails, NULL), 0);
    CHECK_ERR(coro_create(&co, caller_with_cleanup, NULL), 0);
    CHECK_ERR(coro_resume(co, gen, &out), CORO_EERROR);
    /* The caller died of the generator's error, its cleanups ran. */
    CHECK_PTR(out, &obj);
    CHECK_STR(coro_errmsg(co), "generator failed at step 2");
    CHECK_PTR(coro_errvalue(co), &obj);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_STR(log_buf, "1 gc");
    CHECK_INT(coro_status(gen), CORO_DEAD);
    CHECK_ERR(coro_close(co), CORO_EERROR); /* co died by an error */
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_ERR(coro_destroy(gen), 0);
}

static void *caller_catches(void *arg)
{
    void *out = NULL;

    CHECK_ERR(coro_pcall(call_generator_twice, arg, &out), CORO_EERROR);
    CHECK_PTR(out, &obj);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "generator failed at step 2");
    log_add("caught ");
    return P(9);
}

TEST(wrap_error_caught_by_pcall_inside_coroutine)
{
    coro *gen, *co;
    void *out = NULL;

    CHECK_ERR(coro_wrap(&gen, gen_fails, NULL), 0);
    CHECK_ERR(coro_create(&co, caller_catches, NULL), 0);
    CHECK_INT(coro_resume(co, gen, &out), 0);
    CHECK_PTR(out, P(9));
    CHECK_STR(log_buf, "1 gcaught ");
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_ERR(coro_destroy(gen), 0);
}

/* A generator that drives another one: an error in the inner generator
 * goes through the outer one to the main coroutine. */
static void *outer_generator(void *arg)
{
    void *out = NULL;

    CHECK_ERR(coro_defer(log_cleanup, "o"), 0);
    while (coro_call(arg, NULL, &out) == 1)
        CHECK_ERR(coro_yield(out, NULL), 0);
    log_add("!outer-finished");
    return NULL;
}

TEST(wrap_error_passes_through_nested_generators)
{
    coro *inner, *outer;
    void *out = NULL;

    CHECK_ERR(coro_wrap(&inner, gen_fails, NULL), 0);
    CHECK_ERR(coro_wrap(&outer, outer_generator, NULL), 0);
    CHECK_INT(coro_call(outer, inner, &out), 1);
    CHECK_PTR(out, NULL);
    CHECK_ERR(coro_call(outer, NULL, &out), CORO_EERROR);
    CHECK_PTR(out, &obj);
    CHECK_STR(coro_errmsg(outer), "generator failed at step 2");
    CHECK_STR(log_buf, "go");
    CHECK_ERR(coro_call(outer, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_destroy(outer), 0);
    CHECK_ERR(coro_destroy(inner), 0);
}

/* ---- calls that cannot resume the generator: raised, as Lua's wrap ---- */

static void *call_twice_unchecked(void *arg)
{
    CHECK_INT(coro_call(arg, P(1), NULL), 0); /* return_arg: it finishes */
    log_add("1 ");
    (void)coro_call(arg, NULL, NULL); /* dead: raises */
    log_add("!after ");
    return NULL;
}

TEST(wrap_dead_generator_called_inside_pcall_raises)
{
    coro *gen;

    CHECK_ERR(coro_wrap(&gen, return_arg, NULL), 0);
    CHECK_ERR(coro_pcall(call_twice_unchecked, gen, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "cannot resume dead coroutine");
    CHECK_PTR(coro_errvalue(coro_running(NULL)), NULL);
    CHECK_STR(log_buf, "1 ");
    CHECK_ERR(coro_destroy(gen), 0);
}

TEST(wrap_dead_generator_called_inside_coroutine_kills_it)
{
    coro *gen, *co;

    CHECK_ERR(coro_wrap(&gen, return_arg, NULL), 0);
    CHECK_ERR(coro_create(&co, call_twice_unchecked, NULL), 0);
    CHECK_ERR(coro_resume(co, gen, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(co), "cannot resume dead coroutine");
    CHECK_STR(log_buf, "1 ");
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_ERR(coro_destroy(gen), 0);
}

static coro *self_gen;

static void *call_self(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_defer(log_cleanup, "c"), 0);
    (void)coro_call(self_gen, NULL, NULL); /* running: raises */
    log_add("!after ");
    return NULL;
}

TEST(wrap_generator_calling_itself_raises_non_suspended)
{
    CHECK_ERR(coro_wrap(&self_gen, call_self, NULL), 0);
    /* The raise kills the generator, and coro_call passes that on. */
    CHECK_ERR(coro_call(self_gen, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(self_gen), "cannot resume non-suspended coroutine");
    CHECK_STR(log_buf, "c");
    CHECK_INT(coro_status(self_gen), CORO_DEAD);
    CHECK_ERR(coro_destroy(self_gen), 0);
}

static void *call_null(void *arg)
{
    (void)arg;
    (void)coro_call(NULL, NULL, NULL);
    log_add("!after ");
    return NULL;
}

TEST(wrap_null_generator_called_inside_pcall_raises)
{
    CHECK_ERR(coro_pcall(call_null, NULL, NULL), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "invalid argument");
    CHECK_STR(log_buf, "");
}

TEST(wrap_misuse_on_main_outside_pcall_returns_codes)
{
    coro *gen;

    CHECK_ERR(coro_call(NULL, NULL, NULL), CORO_EINVAL);
    CHECK_ERR(coro_wrap(&gen, return_arg, NULL), 0);
    CHECK_INT(coro_call(gen, NULL, NULL), 0);
    CHECK_ERR(coro_call(gen, NULL, NULL), CORO_EDEAD);
    CHECK_PTR(coro_errmsg(coro_running(NULL)), NULL); /* nothing raised */
    CHECK_ERR(coro_destroy(gen), 0);
}
