/*
 * timeout.c - three ways to stop waiting. A task group with a deadline
 * cancels its tasks still running at it, and coro_group_wait reports
 * CORO_ETIMEDOUT; every blocking call has an _until form taking a deadline;
 * coro_select_until waits on several channels until one. On the virtual
 * clock the printed times are exact.
 */
#include <stdio.h>

#include <coro.h>

static long long ms(void)
{
    return coro_now() / CORO_MSEC(1);
}

/* Sleeps for arg ms; a canceled sleep returns CORO_ECANCELED at once. */
static void *job(void *arg)
{
    const char *name = coro_task_name(coro_task_self());
    int err = coro_sleep(CORO_MSEC((long)arg));

    printf("[%3lld ms] %s: %s\n", ms(), name, err == 0 ? "done" : coro_errname(err));
    return NULL;
}

static void group_with_deadline(void)
{
    coro_group *g;
    int err;

    if (coro_group_open(&g) != 0 || coro_group_deadline(g, coro_after(CORO_MSEC(50))) != 0)
        coro_error("cannot open a group");
    if (coro_spawn(NULL, job, (void *)20L, &(coro_task_options){.name = "fast", .group = g}) != 0 ||
        coro_spawn(NULL, job, (void *)200L, &(coro_task_options){.name = "slow", .group = g}) != 0)
        coro_error("cannot spawn");
    err = coro_group_wait(g);
    printf("[%3lld ms] group: %s\n", ms(), coro_errname(err));
}

static void recv_with_deadline(coro_chan *ch)
{
    int v, err = coro_chan_recv_until(ch, &v, coro_after(CORO_MSEC(30)));

    printf("[%3lld ms] recv: %s\n", ms(), coro_errname(err));
}

/* A task that sends value on ch after delay ms. */
struct sender {
    coro_chan *ch;
    int value;
    long delay;
};

static void *send_later(void *arg)
{
    const struct sender *s = arg;

    if (coro_sleep(CORO_MSEC(s->delay)) == 0)
        coro_chan_send(s->ch, &s->value);
    return NULL;
}

static void select_with_deadline(coro_chan *quick, coro_chan *late)
{
    struct sender sq = {quick, 7, 10}, sl = {late, 8, 100};
    coro_time deadline = coro_after(CORO_MSEC(40));
    coro_task *slow = NULL;
    int v, i, err;
    coro_case cases[2] = {CORO_CASE_RECV(quick, &v), CORO_CASE_RECV(late, &v)};

    if (coro_spawn(NULL, send_later, &sq, NULL) != 0 ||
        coro_spawn(&slow, send_later, &sl, NULL) != 0)
        coro_error("cannot spawn");
    while ((i = coro_select_until(cases, 2, deadline)) >= 0)
        printf("[%3lld ms] select: case %d, got %d\n", ms(), i, v);
    printf("[%3lld ms] select: %s\n", ms(), coro_errname(i));

    coro_cancel(slow); /* nobody listens any more */
    err = coro_await(slow, NULL);
    printf("[%3lld ms] slow sender: %s\n", ms(), coro_errname(err));
}

static void *main_task(void *arg)
{
    coro_chan *quick = NULL, *late = NULL;

    (void)arg;
    if (coro_chan_open(&quick, sizeof(int), 1) != 0 || coro_chan_open(&late, sizeof(int), 1) != 0)
        coro_error("cannot open a channel");
    printf("-- a group with a 50 ms deadline\n");
    group_with_deadline();
    printf("-- a receive with a 30 ms deadline\n");
    recv_with_deadline(quick);
    printf("-- a select with a 40 ms deadline\n");
    select_with_deadline(quick, late);
    coro_chan_free(quick);
    coro_chan_free(late);
    return NULL;
}

int main(void)
{
    coro_run_options opt = {.flags = CORO_RUN_VIRTUAL_CLOCK};
    int err = coro_run(main_task, NULL, NULL, &opt);

    if (err != 0) {
        fprintf(stderr, "coro_run: %s\n", coro_run_error(err));
        return 1;
    }
    return 0;
}
