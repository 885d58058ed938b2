/*
 * event_loop.c - cooperative tasks: a tiny event loop that resumes each task
 * in turn until all are done, and async/await on top of resume. The loop's
 * queue is a plain array of coroutines. From "Async Patterns with Coroutines"
 * ("Building an Event Loop", "Simulating async/await", "Non-Blocking File
 * Operations"), with await corrected (see await()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The tutorial's EventLoop: a FIFO of coroutines, kept in a ring. A task that
 * yields goes to the back; a finished one is destroyed. */
#define LOOP_MAX 16

struct event_loop {
    coro *events[LOOP_MAX];
    int head, count;
};

static void loop_push(struct event_loop *loop, coro *co)
{
    if (loop->count == LOOP_MAX) {
        fprintf(stderr, "event loop full\n");
        exit(1);
    }
    loop->events[(loop->head + loop->count) % LOOP_MAX] = co;
    loop->count++;
}

static coro *loop_pop(struct event_loop *loop)
{
    coro *co = loop->events[loop->head];

    loop->head = (loop->head + 1) % LOOP_MAX;
    loop->count--;
    return co;
}

static void loop_add(struct event_loop *loop, coro_fn fn)
{
    loop_push(loop, create(fn, NULL));
}

static void loop_run(struct event_loop *loop)
{
    while (loop->count > 0) {
        coro *co = loop_pop(loop);

        if (coro_resume(co, NULL, NULL) == CORO_EERROR)
            printf("task failed: %s\n", coro_errmsg(co));
        if (coro_status(co) == CORO_SUSPENDED)
            loop_push(loop, co); /* it yielded: add it back */
        else
            coro_destroy(co);
    }
}

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

static void event_loop(void)
{
    struct event_loop loop = {{NULL}, 0, 0};

    loop_add(&loop, task_a);
    loop_add(&loop, task_b);
    printf("Running event loop...\n");
    loop_run(&loop);
}

/* async(func): a task is a coroutine, not yet started. */
static coro *async(coro_fn fn, void *user_data)
{
    return create(fn, user_data);
}

/*
 * await(task): drives the task until it is dead, resuming it once per step,
 * and stores its result in *result (if result is not NULL). Returns 0, or
 * the error code with the message in coro_errmsg(task) (where the tutorial
 * raises "Coroutine error: ...").
 *
 * The tutorial's await resumes exactly twice and returns what the second resume
 * gave. For fetchUserData, whose body yields twice, that is the second
 * yield's nothing, so real Lua fails at result.user ("attempt to index a nil
 * value"); for readFileAsync, whose body never yields, the second resume
 * returns "cannot resume dead coroutine" as the file's content, and the
 * tutorial prints "File length: 28".
 */
static int await(coro *task, void **result)
{
    int r;

    while ((r = coro_resume(task, NULL, result)) == 1)
        ; /* a real loop would run other tasks until this one can go on */
    return r;
}

struct user_data {
    int user;
    const char *posts[2];
    int nposts;
};

/* The request and its result: the caller owns both, so the result outlives
 * the task's stack, which is released when the body returns. */
struct fetch {
    int user_id;
    struct user_data result;
};

static void *fetch_body(void *arg)
{
    struct fetch *f = coro_userdata(coro_running(NULL));

    (void)arg;
    printf("Fetching user %d\n", f->user_id);
    coro_yield(NULL, NULL); /* simulate network delay */

    printf("Fetching posts for user %d\n", f->user_id);
    coro_yield(NULL, NULL); /* simulate another network call */

    f->result.user = f->user_id;
    f->result.posts[0] = "post1";
    f->result.posts[1] = "post2";
    f->result.nposts = 2;
    return &f->result;
}

static coro *fetch_user_data(struct fetch *f)
{
    return async(fetch_body, f);
}

static void async_await(void)
{
    struct fetch f = {42, {0, {NULL, NULL}, 0}};
    coro *task = fetch_user_data(&f);
    void *out;

    if (await(task, &out) == 0) {
        const struct user_data *result = out;
        printf("Got result: %d %d\n", result->user, result->nposts);
    } else {
        printf("Coroutine error: %s\n", coro_errmsg(task));
    }
    coro_destroy(task);
}

/* readFileAsync's result: the content, or the error message. */
struct file_read {
    const char *filename;
    char *content;
    size_t length;
    char err[256];
};

static void *read_file_body(void *arg)
{
    struct file_read *r = coro_userdata(coro_running(NULL));
    char buf[4096];
    size_t n;
    FILE *file;

    (void)arg;
    file = fopen(r->filename, "r");
    if (file == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->filename, strerror(errno));
        return r; /* return nil, err */
    }
    while ((n = fread(buf, 1, sizeof buf, file)) > 0) {
        char *grown = realloc(r->content, r->length + n);
        if (grown == NULL) {
            snprintf(r->err, sizeof r->err, "not enough memory");
            break;
        }
        memcpy(grown + r->length, buf, n);
        r->content = grown;
        r->length += n;
    }
    fclose(file);
    return r;
}

/*
 * The tutorial reads "myfile.txt" from the current directory; these two paths
 * give the same output everywhere: one cannot be opened, one is empty. Lua's
 * io.open words its error the same way: "<name>: <strerror>".
 */
static void read_file(const char *filename)
{
    struct file_read r;
    coro *task;

    memset(&r, 0, sizeof r);
    r.filename = filename;
    task = async(read_file_body, &r);
    if (await(task, NULL) != 0)
        printf("Coroutine error: %s\n", coro_errmsg(task));
    else if (r.err[0] != '\0')
        printf("Error: %s\n", r.err);
    else
        printf("File length: %zu\n", r.length);
    free(r.content);
    coro_destroy(task);
}

int main(void)
{
    printf("-- async patterns: event loop\n");
    event_loop();
    printf("-- async patterns: async/await\n");
    async_await();
    printf("-- async patterns: non-blocking file operations\n");
    read_file("/nonexistent/myfile.txt");
    read_file("/dev/null");
    return 0;
}
