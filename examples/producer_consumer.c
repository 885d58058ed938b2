/*
 * producer_consumer.c - two ways to match a producer with a consumer.
 * The tutorial: the consumer drives a producer coroutine until it is dead.
 * PiL (24.2, "Who Is the Boss?"): receive() resumes the producer,
 * send() yields, and a filter in between does both: each side acts as if it
 * were the master. The producer reads a fixed array instead of stdin, so the
 * output is always the same.
 */
#include <stdio.h>
#include <stdlib.h>

#include <coro.h>

/* Creates a coroutine running fn, with user_data for its body to find. */
static coro *create(coro_fn fn, void *user_data)
{
    coro_options opt = CORO_OPTIONS_INIT;
    coro *co;
    int err;

    opt.user_data = user_data;
    err = coro_create(&co, fn, &opt);
    if (err != 0) {
        fprintf(stderr, "coro_create: %s\n", coro_strerror(err));
        exit(1);
    }
    return co;
}

/* The tutorial. The item is formatted on the producer's stack; the consumer uses
 * it before resuming the producer again, so it is still there. */
static void *produce_items(void *arg)
{
    char item[16];
    int i;

    (void)arg;
    for (i = 1; i <= 5; i++) {
        snprintf(item, sizeof item, "item-%d", i);
        printf("Producing: %s\n", item);
        coro_yield(item, NULL); /* yield the item to the consumer */
    }
    return NULL;
}

/* The last resume finds the producer's loop over and its body returning
 * NULL: as with Lua's `if item then`, nothing is consumed then. */
static void consume_items(coro *producer_co)
{
    while (coro_status(producer_co) != CORO_DEAD) {
        void *item = NULL;

        coro_resume(producer_co, NULL, &item);
        if (item != NULL)
            printf("Consuming: %s\n", (const char *)item);
    }
}

/*
 * PiL 24.2. NULL means "no more lines": where PiL's producer loops forever
 * on io.read(), this one ends with its input, and the filter and consumer
 * end with it.
 */
static const char *const lines[] = {
    "Coroutines turn upside-down",
    "the relation between caller and callee:",
    "the consumer resumes the producer,",
    "and the producer yields to the consumer.",
};

static void *receive(coro *prod)
{
    void *value = NULL;

    coro_resume(prod, NULL, &value);
    return value;
}

static void send(void *x)
{
    coro_yield(x, NULL);
}

static void *read_lines(void *arg)
{
    size_t i;

    (void)arg;
    for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
        send((void *)lines[i]); /* x = io.read(); send(x) */
    return NULL;
}

static coro *producer(void)
{
    return create(read_lines, NULL);
}

/* The filter finds its producer in its user data, where Lua's closure
 * would capture it, and sends each line on with its number. */
static void *number_lines(void *arg)
{
    coro *prod = coro_userdata(coro_running(NULL));
    char buf[128];
    const char *x;
    int line;

    (void)arg;
    for (line = 1; (x = receive(prod)) != NULL; line++) {
        snprintf(buf, sizeof buf, "%5d %s", line, x); /* string.format("%5d %s", line, x) */
        send(buf);
    }
    return NULL;
}

static coro *filter(coro *prod)
{
    return create(number_lines, prod);
}

static void consumer(coro *prod)
{
    const char *x;

    while ((x = receive(prod)) != NULL)
        printf("%s\n", x); /* io.write(x, "\n") */
}

int main(void)
{
    coro *producer_co, *prod, *filt;

    printf("-- async patterns: producer / consumer\n");
    producer_co = create(produce_items, NULL);
    consume_items(producer_co);
    coro_destroy(producer_co);

    printf("-- PiL: consumer(filter(producer()))\n");
    prod = producer();
    filt = filter(prod);
    consumer(filt);
    coro_destroy(filt);
    coro_destroy(prod);
    return 0;
}
