/*
 * pipeline.c - the async-patterns tutorial's producer / consumer as a
 * pipeline of three tasks joined by channels: generate -> square -> print.
 * The channels hold 2 items, so when the printer is slow (10 ms an item, on
 * the virtual clock) the stages before it wait: that is backpressure. The
 * generator gets at most 6 items ahead (2 in each channel, 1 held by square,
 * 1 by print), then sends one item each time print takes one. Each stage
 * closes its output when its input is closed (CORO_ECHCLOSED), so the end
 * flows down the pipe.
 */
#include <stdio.h>

#include <coro.h>

#define ITEMS 10
#define CAPACITY 2

struct stage {
    coro_chan *in, *out; /* in is NULL for the generator, out for the printer */
};

static long long ms(void)
{
    return coro_now() / CORO_MSEC(1);
}

static void *generate(void *arg)
{
    struct stage *s = arg;
    int i;

    for (i = 1; i <= ITEMS; i++) {
        if (coro_chan_send(s->out, &i) != 0)
            break;
        printf("[%3lld ms] generate: sent %d\n", ms(), i);
    }
    coro_chan_close(s->out);
    return NULL;
}

static void *square(void *arg)
{
    struct stage *s = arg;
    int n, sq;

    while (coro_chan_recv(s->in, &n) == 0) { /* CORO_ECHCLOSED: input done */
        sq = n * n;
        if (coro_chan_send(s->out, &sq) != 0)
            break;
    }
    coro_chan_close(s->out);
    return NULL;
}

static void *print(void *arg)
{
    struct stage *s = arg;
    int err, n;

    while ((err = coro_chan_recv(s->in, &n)) == 0) {
        coro_sleep(CORO_MSEC(10)); /* a slow consumer */
        printf("[%3lld ms] print: %d\n", ms(), n);
    }
    printf("[%3lld ms] print: %s\n", ms(), coro_strerror(err));
    return NULL;
}

static coro_chan *open_chan(void)
{
    coro_chan *ch;
    int err = coro_chan_open(&ch, sizeof(int), CAPACITY);

    if (err != 0)
        coro_error("coro_chan_open: %s", coro_strerror(err));
    return ch;
}

static void *main_task(void *arg)
{
    coro_chan *numbers = open_chan(), *squares = open_chan();
    struct stage stages[] = {{NULL, numbers}, {numbers, squares}, {squares, NULL}};
    coro_fn bodies[] = {generate, square, print};
    coro_task *tasks[3];
    int i;

    (void)arg;
    for (i = 0; i < 3; i++)
        if (coro_spawn(&tasks[i], bodies[i], &stages[i], NULL) != 0)
            coro_error("cannot spawn a stage");
    for (i = 0; i < 3; i++) /* they use stages[]: wait before it goes */
        coro_await(tasks[i], NULL);
    coro_chan_free(numbers);
    coro_chan_free(squares);
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
