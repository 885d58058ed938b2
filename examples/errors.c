/*
 * errors.c - errors as values: an error raised inside a coroutine ends it,
 * and resume returns CORO_EERROR with the message and the error value instead
 * of crashing the program. Also: coro_pcall() catching an error inside a
 * coroutine, which then carries on; coro_defer() cleanups running as an error
 * unwinds (and on coro_close); an error inside a generator. From "Async
 * Patterns with Coroutines" ("Error Handling"); the rest is Lua 5.4's pcall,
 * <close> variables and coroutine.wrap.
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

/* The tutorial: error("Something went wrong!"). Lua prefixes the position where
 * error was called, so real Lua 5.4 prints "Caught error: input:2: Something
 * went wrong!" (the tutorial leaves the prefix out); C has no such position, and
 * coro prints the message as given. */
static void *goes_wrong(void *arg)
{
    (void)arg;
    coro_error("Something went wrong!");
    return NULL;
}

static void from_tutorial(void)
{
    coro *co = create(goes_wrong);

    if (coro_resume(co, NULL, NULL) == CORO_EERROR)
        printf("Caught error: %s\n", coro_errmsg(co));
    coro_destroy(co);
}

/* An error that carries a value, as Lua's error({code = 404, ...}): the
 * resumer gets it in resume's *out and from coro_errvalue(). */
struct http_error {
    int code;
    const char *text;
};

static void *fetch(void *arg)
{
    static struct http_error not_found = {404, "Not Found"};

    printf("fetching %s\n", (const char *)arg);
    coro_error_value(&not_found, "HTTP %d", not_found.code);
    return NULL;
}

static void error_value(void)
{
    coro *co = create(fetch);
    void *out = NULL;

    if (coro_resume(co, "/missing", &out) == CORO_EERROR) {
        const struct http_error *e = out;
        printf("Caught error: %s (value: %d %s)\n", coro_errmsg(co), e->code, e->text);
    }
    coro_destroy(co);
}

/* Yields inside the protected call, then fails: the pcall catches it. */
static void *risky_step(void *arg)
{
    (void)arg;
    coro_yield("inside pcall", NULL);
    coro_error("step %d failed", 2);
    return NULL;
}

/* pcall inside a coroutine: the error stops at coro_pcall, and the
 * coroutine goes on. */
static void *careful(void *arg)
{
    (void)arg;
    if (coro_pcall(risky_step, NULL, NULL) == CORO_EERROR)
        printf("task: pcall caught: %s\n", coro_errmsg(coro_running(NULL)));
    coro_yield("after pcall", NULL);
    return "finished";
}

static void protected_call(void)
{
    coro *co = create(careful);
    void *out;
    int r;

    while ((r = coro_resume(co, NULL, &out)) >= 0)
        printf("main: resume -> %s %s\n", r == 1 ? "yielded" : "returned", (const char *)out);
    printf("main: then: %s\n", coro_strerror(r));
    coro_destroy(co);
}

/*
 * A cleanup, as Lua 5.4's `local f <close> = ...`: it runs when the
 * coroutine's body ends, by return, error or coro_close. One difference from
 * Lua: there an error leaves the coroutine's <close> variables open until
 * coroutine.close(co) is called; coro runs the cleanups while the error
 * unwinds, so resume returns with them done.
 */
static void close_file(void *arg)
{
    const char *err = coro_errmsg(coro_running(NULL));

    printf("cleanup: closing %s (error: %s)\n", (const char *)arg, err != NULL ? err : "none");
}

static void *writer(void *arg)
{
    printf("writer: opening %s\n", (const char *)arg);
    coro_defer(close_file, arg);
    coro_yield(NULL, NULL);
    coro_error("disk full");
    return NULL;
}

static void cleanup(void)
{
    coro *co = create(writer);

    coro_resume(co, "a.txt", NULL);
    printf("main: writer suspended; resume it\n");
    if (coro_resume(co, NULL, NULL) == CORO_EERROR)
        printf("Caught error: %s\n", coro_errmsg(co));
    coro_destroy(co);

    /* Closing a suspended coroutine unwinds it: its cleanups run, with no
     * error in flight (coroutine.close). */
    co = create(writer);
    coro_resume(co, "b.txt", NULL);
    printf("main: close the suspended writer: %s\n", coro_close(co) == 0 ? "ok" : "error");
    coro_destroy(co);
}

/* A generator (coroutine.wrap) that fails on its third call. */
static void *count_to_two(void *arg)
{
    (void)arg;
    coro_yield("one", NULL);
    coro_yield("two", NULL);
    coro_error("no three");
    return NULL;
}

/* Calls the generator from inside a coroutine: the generator's error is
 * raised again here, as with Lua's wrap, and ends this coroutine too. (Lua's
 * wrap also prefixes the caller's position to a string message.) */
static void *drain(void *arg)
{
    coro *gen = arg;
    void *value;

    while (coro_call(gen, NULL, &value) == 1)
        printf("drain: got %s\n", (const char *)value);
    printf("drain: not reached\n");
    return NULL;
}

static void generator_error(void)
{
    coro *gen, *co;
    void *value;
    int err = coro_wrap(&gen, count_to_two, NULL);

    if (err != 0) {
        fprintf(stderr, "coro_wrap: %s\n", coro_strerror(err));
        exit(1);
    }
    co = create(drain);
    if (coro_resume(co, gen, NULL) == CORO_EERROR)
        printf("Caught error: %s (status of drain: %s)\n", coro_errmsg(co),
               coro_status_name(coro_status(co)));
    /* The failed generator is dead; calling it again is misuse. */
    printf("call it again: %s\n", coro_strerror(coro_call(gen, NULL, &value)));
    coro_destroy(co);
    coro_destroy(gen);
}

int main(void)
{
    printf("-- async patterns: an error caught by resume\n");
    from_tutorial();
    printf("-- an error with a value\n");
    error_value();
    printf("-- pcall inside a coroutine\n");
    protected_call();
    printf("-- cleanups run as the error unwinds\n");
    cleanup();
    printf("-- an error inside a generator\n");
    generator_error();
    return 0;
}
