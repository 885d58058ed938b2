/*
 * struct_values.c - several values each way, through structs: main sends
 * readings (a name and a value) with each resume, and the coroutine yields
 * the running statistics (count, min, max, mean and where the extremes
 * were seen). Where Lua passes several values, C passes a struct pointer.
 * The pattern of "Exchanging Data Between Coroutines" in the texts coro
 * started from.
 */
#include <stdio.h>
#include <stdlib.h>

#include <coro.h>

struct reading {
    const char *where;
    double celsius;
};

struct stats {
    int count;
    double min, max, sum, mean;
    const char *coldest, *warmest;
};

static void update(struct stats *s, const struct reading *r)
{
    if (s->count == 0 || r->celsius < s->min) {
        s->min = r->celsius;
        s->coldest = r->where;
    }
    if (s->count == 0 || r->celsius > s->max) {
        s->max = r->celsius;
        s->warmest = r->where;
    }
    s->count++;
    s->sum += r->celsius;
    s->mean = s->sum / s->count;
}

/*
 * The first reading arrives as the body's argument, the next ones as what
 * coro_yield receives; NULL ends the input. The yielded stats live on this
 * coroutine's stack, valid while it is suspended. The final result must
 * outlive the stack, which is released when the body returns, so it is
 * returned in memory the caller frees.
 */
static void *running_stats(void *arg)
{
    struct stats s = {0, 0, 0, 0, 0, NULL, NULL};
    struct stats *result;
    void *in = arg;

    while (in != NULL) {
        update(&s, in);
        coro_yield(&s, &in);
    }
    result = malloc(sizeof *result);
    if (result != NULL)
        *result = s;
    return result;
}

static void print_stats(const struct stats *s)
{
    printf("n=%d min=%.2f (%s) max=%.2f (%s) mean=%.2f\n", s->count, s->min, s->coldest, s->max,
           s->warmest, s->mean);
}

int main(void)
{
    static const struct reading readings[] = {
        {"north", 12.5}, {"south", 21.0}, {"east", 17.25}, {"west", 9.5}, {"center", 15.5},
    };
    size_t n = sizeof readings / sizeof readings[0];
    struct stats *final;
    void *out;
    coro *co;
    size_t i;
    int err = coro_create(&co, running_stats, NULL);

    if (err != 0) {
        fprintf(stderr, "coro_create: %s\n", coro_strerror(err));
        return 1;
    }
    for (i = 0; i < n; i++) {
        coro_resume(co, (void *)&readings[i], &out);
        printf("%-6s %5.2f -> ", readings[i].where, readings[i].celsius);
        print_stats(out);
    }
    if (coro_resume(co, NULL, &out) == 0 && out != NULL) {
        final = out;
        printf("final: ");
        print_stats(final);
        free(final);
    }
    printf("status: %s\n", coro_status_name(coro_status(co)));
    coro_destroy(co);
    return 0;
}
