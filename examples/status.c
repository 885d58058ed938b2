/*
 * status.c - the four states of a coroutine (suspended, running, normal,
 * dead), coro_running() and coro_isyieldable(). From "Async Patterns with
 * Coroutines" ("Checking Coroutine Status", "Forgetting to Resume") and
 * Programming in Lua (the "hi" coroutine).
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

static void print_status(const coro *co)
{
    printf("%s\n", coro_status_name(coro_status(co)));
}

static void *yield_once(void *arg)
{
    (void)arg;
    coro_yield(NULL, NULL);
    return NULL;
}

/* The tutorial. The tutorial says the second line is "running"; Lua 5.4 prints
 * "suspended": once resume returns, the coroutine has yielded. A coroutine
 * is "running" only while it runs, so only it can see itself so. */
static void from_tutorial(void)
{
    coro *co = create(yield_once);
    int r;

    print_status(co); /* suspended */
    coro_resume(co, NULL, NULL);
    print_status(co); /* suspended (the tutorial says running) */
    coro_resume(co, NULL, NULL);
    print_status(co); /* dead */

    /* Lua: print(coroutine.resume(co)) --> false cannot resume dead coroutine */
    r = coro_resume(co, NULL, NULL);
    printf("%s %s\n", r >= 0 ? "true" : "false", coro_strerror(r));
    coro_destroy(co);
}

static void *say_hi(void *arg)
{
    (void)arg;
    printf("hi\n");
    return NULL;
}

/* PiL: co = coroutine.create(function () print("hi") end). Its first
 * line, print(type(co)) --> thread, has no C counterpart: a coro * is a
 * coroutine by its type. */
static void from_pil(void)
{
    coro *co = create(say_hi);

    print_status(co);            /* suspended */
    coro_resume(co, NULL, NULL); /* hi */
    print_status(co);            /* dead */
    coro_destroy(co);
}

static coro *outer;

/* Runs while outer waits for it in coro_resume: outer is "normal". */
static void *inner_body(void *arg)
{
    int ismain;
    coro *self = coro_running(&ismain);

    (void)arg;
    printf("inner: outer is %s\n", coro_status_name(coro_status(outer)));
    printf("inner: inner is %s\n", coro_status_name(coro_status(self)));
    printf("inner: ismain %d, isyieldable %d\n", ismain, coro_isyieldable(NULL));
    return NULL;
}

static void *outer_body(void *arg)
{
    coro *inner = create(inner_body);

    (void)arg;
    printf("outer: coro_running() is outer: %s\n", coro_running(NULL) == outer ? "yes" : "no");
    printf("outer: outer is %s\n", coro_status_name(coro_status(outer)));
    coro_resume(inner, NULL, NULL);
    printf("outer: inner is %s\n", coro_status_name(coro_status(inner)));
    coro_destroy(inner);
    return NULL;
}

/* "normal": a coroutine that has resumed another one and waits for it. */
static void normal(void)
{
    int ismain;

    coro_running(&ismain);
    printf("main: ismain %d, isyieldable %d\n", ismain, coro_isyieldable(NULL));
    outer = create(outer_body);
    printf("main: outer is %s\n", coro_status_name(coro_status(outer)));
    coro_resume(outer, NULL, NULL);
    printf("main: outer is %s\n", coro_status_name(coro_status(outer)));
    coro_destroy(outer);
}

static void *never_runs(void *arg)
{
    (void)arg;
    printf("This never runs\n");
    coro_yield(NULL, NULL);
    return NULL;
}

/* The tutorial's pitfall: a coroutine nobody resumes stays suspended, and its
 * body never runs. Destroying it frees it without running it. */
static void forgotten(void)
{
    coro *co = create(never_runs);

    print_status(co); /* suspended */
    coro_destroy(co);
}

int main(void)
{
    printf("-- async patterns: status\n");
    from_tutorial();
    printf("-- PiL: hi\n");
    from_pil();
    printf("-- normal, running, isyieldable\n");
    normal();
    printf("-- never resumed\n");
    forgotten();
    return 0;
}
