/* gdb_target.c - a program for check_gdb.sh: leaf() runs inside a coroutine
 * nested three calls deep, so a backtrace from it must cross the coroutine's
 * frames and end cleanly at the coroutine's entry. */
#include <stdio.h>

#include "coro.h"

void leaf(int depth);
void leaf(int depth)
{
    printf("leaf %d\n", depth);
}

static void nest(int depth)
{
    if (depth == 0) {
        leaf(depth);
        coro_yield(NULL, NULL);
        return;
    }
    nest(depth - 1);
    printf("unwound %d\n", depth);
}

static void *body(void *arg)
{
    (void)arg;
    nest(3);
    return NULL;
}

int main(void)
{
    coro *co;

    if (coro_create(&co, body, NULL) != 0)
        return 1;
    while (coro_resume(co, NULL, NULL) > 0)
        ;
    coro_destroy(co);
    return 0;
}
