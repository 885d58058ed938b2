/*
 * passing_values.c - values both ways through resume and yield: the first
 * resume's value is the body's argument, yield's value is what resume
 * receives, the next resume's value is what yield returns, and the body's
 * return value is what the last resume receives. A value is a void *; for
 * several values, pass a pointer to a struct or an array. From "Async
 * Patterns with Coroutines" ("Exchanging Data Between Coroutines") and
 * Programming in Lua (24.1).
 *
 * Lua's print separates its arguments with tabs; these examples print the
 * single spaces that the texts show.
 */
#include <stdio.h>
#include <stdlib.h>

#include <coro.h>

static coro *create(coro_fn fn)
{
    coro *co;
    int err = coro_create(&co, fn, NULL);

    if (err != 0) {
        fprintf(stderr, "coro_create: %s\n", coro_strerror(err));
        exit(1);
    }
    return co;
}

struct triple {
    int a, b, c;
};

struct pair {
    int a, b;
};

/* The tutorial: coroutine.create(function(a, b, c) print("Received:", a, b, c) end) */
static void *received(void *arg)
{
    const struct triple *t = arg;

    printf("Received: %d %d %d\n", t->a, t->b, t->c);
    return NULL;
}

/* The tutorial: local values = coroutine.yield(); print("Got:", values[1], values[2]) */
static void *got(void *arg)
{
    void *in;
    const char **values;

    (void)arg;
    coro_yield(NULL, &in);
    values = in;
    printf("Got: %s %s\n", values[0], values[1]);
    return NULL;
}

/* PiL: coroutine.create(function (a, b, c) print("co", a, b, c + 2) end) */
static void *co_plus_two(void *arg)
{
    const struct triple *t = arg;

    printf("co %d %d %d\n", t->a, t->b, t->c + 2);
    return NULL;
}

/* PiL: coroutine.create(function (a,b) coroutine.yield(a + b, a - b) end).
 * The yielded struct lives on this coroutine's stack, which stays valid while
 * the coroutine is suspended: the resumer reads it before resuming again. */
static void *sum_diff(void *arg)
{
    const struct pair *in = arg;
    struct pair out;

    out.a = in->a + in->b;
    out.b = in->a - in->b;
    coro_yield(&out, NULL);
    return NULL;
}

/* Lua's print(coroutine.resume(co, ...)): "true" and the values, or "false"
 * and the error message. */
static void print_resume(int r, const struct pair *out)
{
    if (r < 0)
        printf("false %s\n", coro_strerror(r));
    else if (out == NULL)
        printf("true\n");
    else
        printf("true %d %d\n", out->a, out->b);
}

/* PiL 24.1: print("co1", x); print("co2", coroutine.yield()) - what yield
 * returns is the value passed to the next resume. */
static void *co1_co2(void *arg)
{
    void *in;
    const struct pair *p;

    printf("co1 %s\n", (const char *)arg);
    coro_yield(NULL, &in);
    p = in;
    printf("co2 %d %d\n", p->a, p->b);
    return NULL;
}

/* PiL 24.1: coroutine.create(function () return 6, 7 end) */
static void *six_seven(void *arg)
{
    static struct pair result = {6, 7};

    (void)arg;
    return &result;
}

int main(void)
{
    struct triple args = {1, 2, 3};
    const char *values[2] = {"hello", "world"};
    struct pair twenty_ten = {20, 10}, four_five = {4, 5};
    void *out;
    coro *co;
    int r;

    co = create(received);
    coro_resume(co, &args, NULL); /* Received: 1 2 3 */
    coro_destroy(co);

    co = create(got);
    coro_resume(co, NULL, NULL);
    coro_resume(co, values, NULL); /* Got: hello world */
    coro_destroy(co);

    co = create(co_plus_two);
    coro_resume(co, &args, NULL); /* co 1 2 5 */
    coro_destroy(co);

    co = create(sum_diff);
    r = coro_resume(co, &twenty_ten, &out);
    print_resume(r, out); /* true 30 10 */
    r = coro_resume(co, NULL, &out);
    print_resume(r, out); /* true (the body returned nothing) */
    r = coro_resume(co, NULL, &out);
    print_resume(r, NULL); /* false cannot resume dead coroutine */
    coro_destroy(co);

    co = create(co1_co2);
    coro_resume(co, "hi", NULL);       /* co1 hi */
    coro_resume(co, &four_five, NULL); /* co2 4 5 */
    coro_destroy(co);

    co = create(six_seven);
    r = coro_resume(co, NULL, &out);
    print_resume(r, out); /* true 6 7 */
    coro_destroy(co);
    return 0;
}
