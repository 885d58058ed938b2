/*
 * async_await.c - the async-patterns tutorial's fetchUserData with real
 * async/await: the fetch is a task (async), coro_sleep stands in for the
 * network, and coro_await waits for its result or its error. On the virtual
 * clock the delays take no time and the printed times are exact. Two fetches
 * run concurrently, and a failed fetch reaches its awaiter as CORO_EERROR
 * with the message.
 */
#include <stdio.h>

#include <coro.h>

/* The request and its result: the caller owns both, so the result outlives
 * the task. */
struct fetch {
    int user_id;
    int user;
    const char *posts[2];
    int nposts;
};

static long long ms(void)
{
    return coro_now() / CORO_MSEC(1);
}

static void *fetch_body(void *arg)
{
    struct fetch *f = arg;

    printf("[%3lld ms] Fetching user %d\n", ms(), f->user_id);
    coro_sleep(CORO_MSEC(100)); /* network delay */
    if (f->user_id < 0)
        coro_error("no such user: %d", f->user_id);

    printf("[%3lld ms] Fetching posts for user %d\n", ms(), f->user_id);
    coro_sleep(CORO_MSEC(50)); /* another network call */

    f->user = f->user_id;
    f->posts[0] = "post1";
    f->posts[1] = "post2";
    f->nposts = 2;
    return f;
}

/* async: starts the fetch; the task runs when the caller next waits. */
static coro_task *fetch_user_data(struct fetch *f)
{
    coro_task *t = NULL;

    if (coro_spawn(&t, fetch_body, f, NULL) != 0)
        coro_error("cannot spawn a fetch");
    return t;
}

/* await: waits for the fetch and prints its result or its error. */
static void await_and_print(coro_task *t)
{
    void *out;
    int err = coro_await(t, &out);

    if (err == 0) {
        const struct fetch *result = out;
        printf("[%3lld ms] Got result: %d %d\n", ms(), result->user, result->nposts);
    } else if (err == CORO_EERROR) {
        printf("[%3lld ms] Fetch failed: %s\n", ms(), coro_errmsg(coro_running(NULL)));
    } else {
        printf("[%3lld ms] await: %s\n", ms(), coro_strerror(err));
    }
}

static void *main_task(void *arg)
{
    struct fetch one = {42, 0, {NULL, NULL}, 0};
    struct fetch a = {1, 0, {NULL, NULL}, 0}, b = {2, 0, {NULL, NULL}, 0};
    struct fetch bad = {-7, 0, {NULL, NULL}, 0};
    coro_task *ta, *tb;

    (void)arg;
    printf("-- one fetch: 100 + 50 ms\n");
    await_and_print(fetch_user_data(&one));

    printf("-- two fetches at once: still 150 ms, not 300\n");
    ta = fetch_user_data(&a);
    tb = fetch_user_data(&b);
    await_and_print(ta);
    await_and_print(tb);

    printf("-- a fetch that fails\n");
    await_and_print(fetch_user_data(&bad));
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
