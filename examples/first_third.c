/*
 * first_third.c - the smallest coroutine: it prints a line, yields, and on
 * the next resume prints another. Shows that resume runs the body until it
 * yields, and that the next resume continues right after the yield.
 * From "Async Patterns with Coroutines" ("Creating and Running a Coroutine").
 */
#include <stdio.h>
#include <stdlib.h>

#include <coro.h>

static void *body(void *arg)
{
    (void)arg;
    printf("First line\n");
    coro_yield(NULL, NULL);
    printf("Third line\n");
    return NULL;
}

int main(void)
{
    coro *co;
    int err = coro_create(&co, body, NULL);

    if (err != 0) {
        fprintf(stderr, "coro_create: %s\n", coro_strerror(err));
        return 1;
    }
    printf("Before resume\n");
    coro_resume(co, NULL, NULL); /* prints: First line */
    printf("After first resume\n");
    coro_resume(co, NULL, NULL); /* prints: Third line */
    coro_destroy(co);
    return 0;
}
