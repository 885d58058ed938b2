/*
 * test_core.c - create, resume, yield, status, running, isyieldable: the
 * state machine and values in every position.
 */
#include "test.h"

static void *yield_once(void *arg)
{
    void *in = NULL;
    CHECK_ERR(coro_yield(arg, &in), 0);
    return in;
}

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
