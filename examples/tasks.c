/*
 * tasks.c - the async-patterns tutorial's event loop, on the runtime:
 * coro_run is the loop, coro_spawn adds a task, and coro_yield inside a task
 * lets the other ready tasks run. Ready tasks run in FIFO order, so the
 * interleaving is the tutorial's. Compare event_loop.c, which builds the loop by
 * hand.
 */
#include <stdio.h>

#include <coro.h>

static void *task_a(void *arg)
{
    (void)arg;
    printf("Task A: Step 1\n");
    coro_yield(NULL, NULL);
    printf("Task A: Step 2\n");
    return NULL;
}

static void *task_b(void *arg)
{
    (void)arg;
    printf("Task B: Start\n");
    coro_yield(NULL, NULL);
    printf("Task B: Done\n");
    return NULL;
}

/* A task of any length: each step, it gives the others their turn. */
struct counter {
    const char *name;
    int steps;
};

static void *count_steps(void *arg)
{
    const struct counter *c = arg;
    int i;

    for (i = 1; i <= c->steps; i++) {
        printf("%s: step %d of %d\n", c->name, i, c->steps);
        coro_yield(NULL, NULL);
    }
    printf("%s: finished\n", c->name);
    return NULL;
}

/* The main task. Spawned tasks start when it next suspends, or when its
 * body returns: a task does not finish before the tasks it started. */
static void *tutorial_loop(void *arg)
{
    (void)arg;
    if (coro_spawn(NULL, task_a, NULL, NULL) != 0 || coro_spawn(NULL, task_b, NULL, NULL) != 0)
        coro_error("cannot spawn");
    printf("Running event loop...\n");
    return NULL;
}

static void *three_counters(void *arg)
{
    static const struct counter counters[] = {{"one", 1}, {"two", 2}, {"three", 3}};
    size_t i;

    (void)arg;
    for (i = 0; i < sizeof counters / sizeof counters[0]; i++)
        if (coro_spawn(NULL, count_steps, (void *)&counters[i], NULL) != 0)
            coro_error("cannot spawn");
    return NULL;
}

static int run(coro_fn fn)
{
    int err = coro_run(fn, NULL, NULL, NULL);

    if (err != 0)
        fprintf(stderr, "coro_run: %s\n", coro_run_error(err));
    return err;
}

int main(void)
{
    printf("-- async patterns: event loop\n");
    if (run(tutorial_loop) != 0)
        return 1;
    printf("-- three tasks of different lengths, round robin\n");
    if (run(three_counters) != 0)
        return 1;
    return 0;
}
