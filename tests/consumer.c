/*
 * consumer.c - a program built by tests/check_install.sh against the
 * installed coro (header, library and pkg-config file), as a user would.
 * Prints "1 2 3 done".
 */
#include <stdio.h>

#include <coro.h>

static void *count(void *arg)
{
    for (long i = 1; i <= (long)arg; i++)
        coro_yield((void *)i, NULL);
    return "done";
}

int main(void)
{
    coro *co;
    void *v;

    if (coro_create(&co, count, NULL) != 0)
        return 1;
    while (coro_resume(co, (void *)3L, &v) == 1)
        printf("%ld ", (long)v);
    printf("%s\n", (char *)v);
    return coro_destroy(co) == 0 ? 0 : 1;
}
