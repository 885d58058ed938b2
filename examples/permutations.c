/*
 * permutations.c - a recursive generator: permgen yields every permutation
 * of an array from deep inside its recursion, and coro_wrap() + coro_call()
 * turn it into an iterator, as Lua's coroutine.wrap does.
 * From Programming in Lua (24.3, "Coroutines as Iterators": permgen and
 * printResult), printing in Lua's order.
 */
#include <stdio.h>
#include <stdlib.h>

#include <coro.h>

struct array {
    const char **items;
    int n;
};

static void swap(const char **x, const char **y)
{
    const char *t = *x;

    *x = *y;
    *y = t;
}

/* Lua's a[n], a[i] = a[i], a[n] with 1-based i and n. */
static void permgen(struct array *a, int n)
{
    int i;

    if (n <= 1) {
        coro_yield(a, NULL);
        return;
    }
    for (i = 1; i <= n; i++) {
        swap(&a->items[n - 1], &a->items[i - 1]);
        permgen(a, n - 1);
        swap(&a->items[n - 1], &a->items[i - 1]);
    }
}

/* The generator's body: it finds its array in its user data, where Lua's
 * function () permgen(a) end finds it in its closure. */
static void *permgen_all(void *arg)
{
    struct array *a = coro_userdata(coro_running(NULL));

    (void)arg;
    permgen(a, a->n);
    return NULL;
}

/* coroutine.wrap(function () permgen(a) end) */
static coro *permutations(struct array *a)
{
    coro_options opt = CORO_OPTIONS_INIT;
    coro *gen;
    int err;

    opt.user_data = a;
    err = coro_wrap(&gen, permgen_all, &opt);
    if (err != 0) {
        fprintf(stderr, "coro_wrap: %s\n", coro_strerror(err));
        exit(1);
    }
    return gen;
}

/* PiL's printResult writes a space after every element; this one writes
 * them only between elements, so no line ends in a space. */
static void print_result(const struct array *a)
{
    int i;

    for (i = 0; i < a->n; i++)
        printf("%s%s", i > 0 ? " " : "", a->items[i]);
    printf("\n");
}

/* for p in permutations(a) do printResult(p) end: coro_call returns 1 for
 * each yielded permutation, and 0 when permgen_all has returned. */
static void print_all(struct array *a)
{
    coro *gen = permutations(a);
    void *p;

    while (coro_call(gen, NULL, &p) == 1)
        print_result(p);
    coro_destroy(gen);
}

int main(void)
{
    const char *abc[] = {"a", "b", "c"};
    const char *digits[] = {"1", "2", "3", "4"};
    struct array a = {abc, 3};
    struct array d = {digits, 4};

    printf("-- permutations{\"a\", \"b\", \"c\"}\n");
    print_all(&a);
    printf("-- permutations{1, 2, 3, 4}\n");
    print_all(&d);
    return 0;
}
