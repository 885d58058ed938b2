/*
 * test_core.c - create, resume, yield, status, running, isyieldable: the
 * state machine and values in every position, deep resume chains,
 * generators built from deep recursion, accessors, many live coroutines.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

static void *yield_once(void *arg)
{
    void *in = NULL;
    CHECK_ERR(coro_yield(arg, &in), 0);
    return in;
}

static void *return_arg(void *arg)
{
    return arg;
}

/* ---- status transitions ---- */

TEST(status_suspended_running_dead)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, yield_once, NULL), 0);
    CHECK_INT(coro_status(co), CORO_SUSPENDED);
    CHECK_INT(coro_resume(co, (void *)1, &out), 1);
    CHECK_PTR(out, (void *)1);
    CHECK_INT(coro_status(co), CORO_SUSPENDED);
    CHECK_INT(coro_resume(co, (void *)2, &out), 0);
    CHECK_PTR(out, (void *)2);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_resume(co, NULL, NULL), CORO_EDEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *check_self_running(void *arg)
{
    coro *self = coro_running(NULL);

    CHECK_PTR(self, *(coro **)arg);
    CHECK_INT(coro_status(self), CORO_RUNNING);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_INT(coro_status(self), CORO_RUNNING);
    return NULL;
}

TEST(status_running_seen_from_inside)
{
    coro *co;

    CHECK_ERR(coro_create(&co, check_self_running, NULL), 0);
    CHECK_INT(coro_resume(co, &co, NULL), 1);
    CHECK_INT(coro_status(co), CORO_SUSPENDED);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(status_of_main_is_running_when_nothing_else_runs)
{
    coro *main_co = coro_running(NULL);

    CHECK(main_co != NULL);
    CHECK_INT(coro_status(main_co), CORO_RUNNING);
}

/* B's view of A (its resumer) and of main. */
struct normal_probe {
    coro *main_co;
    coro *a;
    coro *b;
    int a_seen, main_seen, b_seen;
};

static void *probe_b(void *arg)
{
    struct normal_probe *p = arg;

    p->a_seen = coro_status(p->a);
    p->main_seen = coro_status(p->main_co);
    p->b_seen = coro_status(p->b);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    /* Resumed by main directly this time: A is suspended, main normal. */
    CHECK_INT(coro_status(p->a), CORO_SUSPENDED);
    CHECK_INT(coro_status(p->main_co), CORO_NORMAL);
    return NULL;
}

static void *probe_a(void *arg)
{
    struct normal_probe *p = arg;

    CHECK_INT(coro_status(p->main_co), CORO_NORMAL);
    CHECK_INT(coro_status(p->b), CORO_SUSPENDED);
    CHECK_INT(coro_resume(p->b, p, NULL), 1);
    /* Back from B: A runs again, B is suspended. */
    CHECK_INT(coro_status(p->a), CORO_RUNNING);
    CHECK_INT(coro_status(p->b), CORO_SUSPENDED);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    return NULL;
}

TEST(status_normal_while_resuming_another)
{
    struct normal_probe p = {0};

    p.main_co = coro_running(NULL);
    CHECK_ERR(coro_create(&p.a, probe_a, NULL), 0);
    CHECK_ERR(coro_create(&p.b, probe_b, NULL), 0);
    CHECK_INT(coro_resume(p.a, &p, NULL), 1);
    CHECK_INT(p.a_seen, CORO_NORMAL);
    CHECK_INT(p.main_seen, CORO_NORMAL);
    CHECK_INT(p.b_seen, CORO_RUNNING);
    CHECK_INT(coro_status(coro_running(NULL)), CORO_RUNNING);
    CHECK_INT(coro_resume(p.b, NULL, NULL), 0);
    CHECK_INT(coro_status(p.b), CORO_DEAD);
    CHECK_INT(coro_resume(p.a, NULL, NULL), 0);
    CHECK_INT(coro_status(p.a), CORO_DEAD);
    CHECK_ERR(coro_destroy(p.a), 0);
    CHECK_ERR(coro_destroy(p.b), 0);
}

/* ---- running and isyieldable ---- */

TEST(running_in_main_reports_main)
{
    int ismain = -1;
    coro *m = coro_running(&ismain);

    CHECK(m != NULL);
    CHECK_INT(ismain, 1);
    CHECK_PTR(coro_running(NULL), m); /* NULL ismain accepted, same answer */
    CHECK_STR(coro_name(m), "main");
    CHECK(coro_id(m) != 0);
}

struct running_probe {
    coro *self;
    coro *seen;
    int ismain;
};

static void *probe_running(void *arg)
{
    struct running_probe *p = arg;

    p->ismain = -1;
    p->seen = coro_running(&p->ismain);
    return NULL;
}

TEST(running_in_coroutine_returns_it)
{
    struct running_probe p = {0};
    coro *m = coro_running(NULL);
    int ismain = -1;

    CHECK_ERR(coro_create(&p.self, probe_running, NULL), 0);
    CHECK_INT(coro_resume(p.self, &p, NULL), 0);
    CHECK_PTR(p.seen, p.self);
    CHECK_INT(p.ismain, 0);
    CHECK_PTR(coro_running(&ismain), m); /* main again after it finished */
    CHECK_INT(ismain, 1);
    CHECK_ERR(coro_destroy(p.self), 0);
}

TEST(isyieldable_main_is_not_yieldable)
{
    CHECK_INT(coro_isyieldable(NULL), 0);
    CHECK_INT(coro_isyieldable(coro_running(NULL)), 0);
}

struct yieldable_probe {
    coro *main_co;
    int self_null, self_handle, main_from_inside;
};

static void *probe_yieldable(void *arg)
{
    struct yieldable_probe *p = arg;

    p->self_null = coro_isyieldable(NULL);
    p->self_handle = coro_isyieldable(coro_running(NULL));
    p->main_from_inside = coro_isyieldable(p->main_co);
    return NULL;
}

TEST(isyieldable_coroutine_is_yieldable)
{
    struct yieldable_probe p = {coro_running(NULL), -1, -1, -1};
    coro *co;

    CHECK_ERR(coro_create(&co, probe_yieldable, NULL), 0);
    CHECK_INT(coro_isyieldable(co), 1); /* not main, not closing */
    CHECK_INT(coro_resume(co, &p, NULL), 0);
    CHECK_INT(p.self_null, 1);
    CHECK_INT(p.self_handle, 1);
    CHECK_INT(p.main_from_inside, 0);
    CHECK_INT(coro_isyieldable(NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- values in every position ---- */

static void *record_arg(void *arg)
{
    void **slot = arg;
    *slot = arg; /* proves the argument arrived untouched */
    return NULL;
}

TEST(first_resume_value_is_body_argument)
{
    coro *co;
    void *slot = NULL;

    CHECK_ERR(coro_create(&co, record_arg, NULL), 0);
    CHECK_INT(coro_resume(co, &slot, NULL), 0);
    CHECK_PTR(slot, &slot);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *yield_sequence(void *arg)
{
    for (long i = 1; i <= 3; i++)
        CHECK_ERR(coro_yield(P(N(arg) * i), NULL), 0);
    return P(-1);
}

TEST(yield_value_reaches_resume_out)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, yield_sequence, NULL), 0);
    for (long i = 1; i <= 3; i++) {
        CHECK_INT(coro_resume(co, P(10), &out), 1);
        CHECK_INT(N(out), 10 * i);
    }
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_INT(N(out), -1);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *sum_inputs(void *arg)
{
    long sum = N(arg);
    void *in = NULL;

    for (;;) {
        CHECK_ERR(coro_yield(P(sum), &in), 0);
        if (in == NULL)
            return P(sum);
        sum += N(in);
    }
}

TEST(resume_value_reaches_yield_in)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, sum_inputs, NULL), 0);
    CHECK_INT(coro_resume(co, P(100), &out), 1);
    CHECK_INT(N(out), 100);
    CHECK_INT(coro_resume(co, P(5), &out), 1);
    CHECK_INT(N(out), 105);
    CHECK_INT(coro_resume(co, P(20), &out), 1);
    CHECK_INT(N(out), 125);
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_INT(N(out), 125);
    CHECK_ERR(coro_destroy(co), 0);
}

TEST(body_return_value_reaches_last_resume_out)
{
    coro *co;
    int x;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, return_arg, NULL), 0);
    CHECK_INT(coro_resume(co, &x, &out), 0);
    CHECK_PTR(out, &x);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *yield_null_in(void *arg)
{
    int *count = arg;

    CHECK_ERR(coro_yield(P(1), NULL), 0); /* the resumed value is dropped */
    (*count)++;
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    (*count)++;
    return P(2);
}

TEST(null_out_and_in_pointers_accepted)
{
    coro *co;
    int count = 0;
    void *out = P(99);

    CHECK_ERR(coro_create(&co, yield_null_in, NULL), 0);
    CHECK_INT(coro_resume(co, &count, NULL), 1);
    CHECK_INT(coro_resume(co, P(7), &out), 1);
    CHECK_PTR(out, NULL); /* yielded NULL is a value like any other */
    CHECK_INT(count, 1);
    CHECK_INT(coro_resume(co, P(8), NULL), 0);
    CHECK_INT(count, 2);
    CHECK_INT(coro_status(co), CORO_DEAD);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- resume chains ---- */

#define CHAIN 200

static coro *chain[CHAIN];
static coro *chain_main;
static int chain_statuses_ok;

static void check_chain_statuses(void)
{
    int ok = coro_status(chain_main) == CORO_NORMAL;

    for (int i = 0; i < CHAIN - 1; i++)
        ok = ok && coro_status(chain[i]) == CORO_NORMAL;
    ok = ok && coro_status(chain[CHAIN - 1]) == CORO_RUNNING;
    chain_statuses_ok = ok;
}

/* Link i resumes link i + 1, passing its depth; the last one checks the whole
 * chain. On the way back each link adds its depth to what it received. */
static void *chain_link(void *arg)
{
    long depth = N(arg);
    void *out = NULL;

    CHECK_PTR(coro_running(NULL), chain[depth]);
    if (depth == CHAIN - 1) {
        check_chain_statuses();
        return P(depth);
    }
    CHECK_INT(coro_resume(chain[depth + 1], P(depth + 1), &out), 0);
    CHECK_INT(coro_status(chain[depth + 1]), CORO_DEAD);
    return P(N(out) + depth);
}

TEST(resume_chain_200_deep)
{
    void *out = NULL;

    chain_main = coro_running(NULL);
    for (int i = 0; i < CHAIN; i++)
        CHECK_ERR(coro_create(&chain[i], chain_link, NULL), 0);
    CHECK_INT(coro_resume(chain[0], P(0), &out), 0);
    CHECK_INT(chain_statuses_ok, 1);
    CHECK_INT(N(out), (long)CHAIN * (CHAIN - 1) / 2);
    CHECK_INT(coro_status(chain_main), CORO_RUNNING);
    for (int i = 0; i < CHAIN; i++) {
        CHECK_INT(coro_status(chain[i]), CORO_DEAD);
        CHECK_ERR(coro_destroy(chain[i]), 0);
    }
}

/* The same chain, but the deepest link yields and every link passes the
 * yielded value up by yielding it too; resuming the top passes a value all
 * the way down. */
static void *chain_relay(void *arg)
{
    long depth = N(arg);
    void *v = NULL;

    if (depth == CHAIN - 1) {
        CHECK_ERR(coro_yield(P(1000), &v), 0);
        return P(N(v) + 1);
    }
    CHECK_INT(coro_resume(chain[depth + 1], P(depth + 1), &v), 1);
    CHECK_INT(coro_status(chain[depth + 1]), CORO_SUSPENDED);
    CHECK_ERR(coro_yield(P(N(v) + 1), &v), 0);
    CHECK_INT(coro_resume(chain[depth + 1], v, &v), 0);
    return P(N(v) + 1);
}

TEST(resume_chain_200_deep_relays_yields_both_ways)
{
    void *out = NULL;

    for (int i = 0; i < CHAIN; i++)
        CHECK_ERR(coro_create(&chain[i], chain_relay, NULL), 0);
    CHECK_INT(coro_resume(chain[0], P(0), &out), 1);
    CHECK_INT(N(out), 1000 + CHAIN - 1);
    for (int i = 0; i < CHAIN; i++)
        CHECK_INT(coro_status(chain[i]), CORO_SUSPENDED);
    CHECK_INT(coro_resume(chain[0], P(5), &out), 0);
    CHECK_INT(N(out), 5 + CHAIN);
    for (int i = 0; i < CHAIN; i++)
        CHECK_ERR(coro_destroy(chain[i]), 0);
}

/* ---- resuming oneself or one's resumer ---- */

static void *resume_self(void *arg)
{
    coro *self = coro_running(NULL);
    void *out = P(42);

    (void)arg;
    CHECK_ERR(coro_resume(self, NULL, &out), CORO_ENOTSUSP);
    CHECK_PTR(out, P(42)); /* untouched */
    CHECK_INT(coro_status(self), CORO_RUNNING);
    CHECK_ERR(coro_yield(P(1), NULL), 0); /* still works as usual */
    return P(2);
}

TEST(resume_self_gives_enotsusp)
{
    coro *co;
    void *out = NULL;

    CHECK_ERR(coro_create(&co, resume_self, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, &out), 1);
    CHECK_PTR(out, P(1));
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, P(2));
    CHECK_ERR(coro_destroy(co), 0);
}

struct resumer_pair {
    coro *a, *b, *main_co;
};

static void *b_resumes_resumer(void *arg)
{
    struct resumer_pair *p = arg;

    CHECK_ERR(coro_resume(p->a, NULL, NULL), CORO_ENOTSUSP);
    CHECK_ERR(coro_resume(p->main_co, NULL, NULL), CORO_ENOTSUSP);
    CHECK_INT(coro_status(p->a), CORO_NORMAL);
    CHECK_INT(coro_status(p->main_co), CORO_NORMAL);
    return P(3);
}

static void *a_resumes_b(void *arg)
{
    struct resumer_pair *p = arg;
    void *out = NULL;

    CHECK_INT(coro_resume(p->b, p, &out), 0);
    CHECK_PTR(out, P(3));
    return P(4);
}

TEST(resume_resumer_gives_enotsusp)
{
    struct resumer_pair p;
    void *out = NULL;

    p.main_co = coro_running(NULL);
    CHECK_ERR(coro_create(&p.a, a_resumes_b, NULL), 0);
    CHECK_ERR(coro_create(&p.b, b_resumes_resumer, NULL), 0);
    CHECK_INT(coro_resume(p.a, &p, &out), 0);
    CHECK_PTR(out, P(4));
    CHECK_ERR(coro_destroy(p.a), 0);
    CHECK_ERR(coro_destroy(p.b), 0);
}

/* ---- generators with deep recursion ---- */

#define PERM_N 4
#define PERM_COUNT 24

static void permgen(int *a, int n)
{
    if (n <= 1) {
        CHECK_ERR(coro_yield(a, NULL), 0);
        return;
    }
    for (int i = 0; i < n; i++) {
        int t = a[n - 1];
        a[n - 1] = a[i];
        a[i] = t;
        permgen(a, n - 1);
        t = a[n - 1];
        a[n - 1] = a[i];
        a[i] = t;
    }
}

static void *permutations(void *arg)
{
    permgen(arg, PERM_N);
    return NULL;
}

static int is_permutation(const int *a)
{
    int seen[PERM_N + 1] = {0};

    for (int i = 0; i < PERM_N; i++) {
        if (a[i] < 1 || a[i] > PERM_N || seen[a[i]])
            return 0;
        seen[a[i]] = 1;
    }
    return 1;
}

TEST(generator_permutations_of_4_yields_24_distinct_arrays)
{
    int a[PERM_N] = {1, 2, 3, 4};
    int got[PERM_COUNT + 1][PERM_N];
    int n = 0, r;
    void *out = NULL;
    coro *co;

    CHECK_ERR(coro_create(&co, permutations, NULL), 0);
    while ((r = coro_resume(co, a, &out)) == 1) {
        CHECK(n < PERM_COUNT);
        CHECK_PTR(out, a); /* the generator yields its own array */
        memcpy(got[n++], out, sizeof a);
    }
    CHECK_INT(r, 0);
    CHECK_INT(n, PERM_COUNT);
    for (int i = 0; i < n; i++) {
        CHECK(is_permutation(got[i]));
        for (int j = 0; j < i; j++)
            CHECK(memcmp(got[i], got[j], sizeof a) != 0);
    }
    /* Every swap was undone: the array is back to the start. */
    CHECK(a[0] == 1 && a[1] == 2 && a[2] == 3 && a[3] == 4);
    CHECK_ERR(coro_destroy(co), 0);
}

#define SIEVE_PRIMES 200

static void *count_from_2(void *arg)
{
    (void)arg;
    for (long n = 2;; n++)
        CHECK_ERR(coro_yield(P(n), NULL), 0);
    return NULL;
}

struct filter {
    coro *self;
    coro *source;
    long prime;
};

/* Passes on what its source yields, except the multiples of its prime. */
static void *filter_multiples(void *arg)
{
    struct filter *f = arg;
    void *v = NULL;

    CHECK_PTR(coro_running(NULL), f->self);
    for (;;) {
        CHECK_INT(coro_resume(f->source, NULL, &v), 1);
        if (N(v) % f->prime != 0)
            CHECK_ERR(coro_yield(v, NULL), 0);
    }
    return NULL;
}

static int is_prime(long n)
{
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return n >= 2;
}

/* Each prime found adds a filter for its multiples at the end of the chain:
 * the n-th prime comes out of n - 1 filters stacked on the counter. */
TEST(generator_prime_sieve_from_chain_of_filters)
{
    static struct filter filters[SIEVE_PRIMES];
    coro *counter, *source;
    void *arg = NULL, *v = NULL;
    long expect = 1;

    CHECK_ERR(coro_create(&counter, count_from_2, NULL), 0);
    source = counter;
    for (int i = 0; i < SIEVE_PRIMES; i++) {
        CHECK_INT(coro_resume(source, arg, &v), 1);
        do
            expect++;
        while (!is_prime(expect));
        CHECK_INT(N(v), expect);
        filters[i].source = source;
        filters[i].prime = N(v);
        CHECK_ERR(coro_create(&filters[i].self, filter_multiples, NULL), 0);
        source = filters[i].self;
        arg = &filters[i];
    }
    CHECK_INT(expect, 1223); /* the 200th prime */
    CHECK_INT(coro_resume(source, arg, &v), 1);
    CHECK_INT(N(v), 1229); /* the 201st, through all 200 filters */
    for (int i = 0; i < SIEVE_PRIMES; i++) {
        CHECK_INT(coro_status(filters[i].self), CORO_SUSPENDED);
        CHECK_ERR(coro_destroy(filters[i].self), 0);
    }
    CHECK_ERR(coro_destroy(counter), 0);
}

/* ---- names, ids, user data ---- */

TEST(name_is_copied_from_options)
{
    char name[16] = "worker-1";
    coro_options opt = CORO_OPTIONS_INIT;
    coro *co, *plain, *empty;

    opt.name = name;
    CHECK_ERR(coro_create(&co, return_arg, &opt), 0);
    name[0] = 'X'; /* the coroutine has its own copy */
    CHECK_STR(coro_name(co), "worker-1");
    CHECK_ERR(coro_create(&plain, return_arg, NULL), 0);
    CHECK_STR(coro_name(plain), "");
    opt.name = "";
    CHECK_ERR(coro_create(&empty, return_arg, &opt), 0);
    CHECK_STR(coro_name(empty), "");
    CHECK_STR(coro_name(coro_running(NULL)), "main");
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_ERR(coro_destroy(plain), 0);
    CHECK_ERR(coro_destroy(empty), 0);
}

TEST(ids_are_unique_and_never_reused)
{
    unsigned long long main_id = coro_id(coro_running(NULL));
    unsigned long long first, second, third;
    coro *a, *b, *c;

    CHECK(main_id != 0);
    CHECK_ERR(coro_create(&a, return_arg, NULL), 0);
    CHECK_ERR(coro_create(&b, return_arg, NULL), 0);
    first = coro_id(a);
    second = coro_id(b);
    CHECK(first != 0 && second != 0);
    CHECK(first != second && first != main_id && second != main_id);
    CHECK_ERR(coro_destroy(a), 0);
    CHECK_ERR(coro_destroy(b), 0);
    /* c likely reuses a's memory and stack, but not its id. */
    CHECK_ERR(coro_create(&c, return_arg, NULL), 0);
    third = coro_id(c);
    CHECK(third != first && third != second && third != main_id && third != 0);
    CHECK_INT(coro_id(coro_running(NULL)), main_id); /* stable */
    CHECK_ERR(coro_destroy(c), 0);
}

static void *read_own_userdata(void *arg)
{
    (void)arg;
    return coro_userdata(coro_running(NULL));
}

TEST(user_data_from_options_and_set_userdata)
{
    int x, y;
    coro_options opt = {0};
    coro *co, *plain;
    void *out = NULL;

    opt.user_data = &x;
    CHECK_ERR(coro_create(&co, read_own_userdata, &opt), 0);
    CHECK_PTR(coro_userdata(co), &x);
    CHECK_ERR(coro_set_userdata(co, &y), 0);
    CHECK_PTR(coro_userdata(co), &y);
    CHECK_INT(coro_resume(co, NULL, &out), 0);
    CHECK_PTR(out, &y);               /* seen from inside as well */
    CHECK_PTR(coro_userdata(co), &y); /* and kept after death */
    CHECK_ERR(coro_create(&plain, return_arg, NULL), 0);
    CHECK_PTR(coro_userdata(plain), NULL);
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_ERR(coro_destroy(plain), 0);
}

TEST(main_userdata_can_be_set)
{
    coro *m = coro_running(NULL);
    int x;

    CHECK_ERR(coro_set_userdata(m, &x), 0);
    CHECK_PTR(coro_userdata(m), &x);
    CHECK_ERR(coro_set_userdata(m, NULL), 0);
    CHECK_PTR(coro_userdata(m), NULL);
}

/* ---- many coroutines ---- */

#define MANY ALIVE(10000)

static void *yield_index(void *arg)
{
    void *in = NULL;

    CHECK_ERR(coro_yield(arg, &in), 0);
    return P(N(in) + N(arg));
}

TEST(ten_thousand_coroutines_alive_at_once)
{
    coro **cos = calloc(MANY, sizeof *cos);
    void *out = NULL;

    CHECK(cos != NULL);
    for (long i = 0; i < MANY; i++)
        CHECK_ERR(coro_create(&cos[i], yield_index, NULL), 0);
    for (long i = 0; i < MANY; i++) {
        CHECK_INT(coro_resume(cos[i], P(i), &out), 1);
        CHECK_INT(N(out), i);
    }
    for (long i = 0; i < MANY; i++)
        CHECK_INT(coro_status(cos[i]), CORO_SUSPENDED);
    for (long i = 0; i < MANY; i++) {
        CHECK_INT(coro_resume(cos[i], P(MANY), &out), 0);
        CHECK_INT(N(out), MANY + i);
        CHECK_INT(coro_status(cos[i]), CORO_DEAD);
    }
    for (long i = 0; i < MANY; i++)
        CHECK_ERR(coro_destroy(cos[i]), 0);
    free(cos);
}
