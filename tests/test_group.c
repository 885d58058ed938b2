/*
 * test_group.c - task groups and ownership, by trio's rules: a group waits
 * for all its children; the first failure cancels the siblings and is
 * what the wait reports; deadlines cancel and nest (the earlier wins);
 * canceling a task reaches everything it owns; a group nobody waited for
 * is waited for at its owner's end; a detached child's failure fails its
 * owner; cancellation runs cleanups.
 *
 * Everything the tasks share is static: in a STACK=copy build every task
 * is a copy-stack coroutine, so no task may touch another task's locals.
 * All runs use the virtual clock, so times are exact.
 */
#include "test.h"

static coro_run_options virt = {CORO_RUN_VIRTUAL_CLOCK, 0, 0, 0, 0, 0};

#define MAXT 8

/* What each child saw: the result of its blocking call, when it ended. */
static int rc_of[MAXT];
static coro_time end_of[MAXT];
static int started[MAXT], finished[MAXT];

static void reset(void)
{
    for (int i = 0; i < MAXT; i++) {
        rc_of[i] = 1; /* "never set" */
        end_of[i] = -1;
        started[i] = finished[i] = 0;
    }
    log_buf[0] = '\0';
}

/* Child i sleeps i * 10 ms (i 0: an hour), records what the sleep
 * returned and when it ended. */
static void *sleeper(void *arg)
{
    int i = (int)N(arg);

    started[i] = 1;
    rc_of[i] = coro_sleep(i == 0 ? CORO_SEC(3600) : CORO_MSEC(10 * i));
    end_of[i] = coro_now();
    finished[i] = 1;
    return NULL;
}

static int spawn_in(coro_group *g, coro_fn fn, int i)
{
    return coro_spawn(NULL, fn, P(i), &(coro_task_options){.group = g});
}

/* ---- waiting for all ---- */

static void *wait_all_main(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK(g != NULL);
    CHECK_ERR(spawn_in(g, sleeper, 3), 0);
    CHECK_ERR(spawn_in(g, sleeper, 1), 0);
    CHECK_ERR(spawn_in(g, sleeper, 2), 0);
    CHECK_ERR(coro_group_wait(g), 0);
    CHECK_INT(coro_now(), CORO_MSEC(30));
    for (int i = 1; i <= 3; i++) {
        CHECK_INT(finished[i], 1);
        CHECK_ERR(rc_of[i], 0);
        CHECK_INT(end_of[i], CORO_MSEC(10 * i));
    }
    return P(9);
}

TEST(group_wait_returns_when_every_child_has_finished)
{
    void *out = NULL;

    reset();
    CHECK_ERR(coro_run(wait_all_main, NULL, &out, &virt), 0);
    CHECK_INT(N(out), 9);
}

static void *empty_group_main(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_wait(g), 0);
    CHECK_INT(coro_now(), 0);
    return NULL;
}

TEST(group_wait_of_an_empty_group_returns_at_once)
{
    CHECK_ERR(coro_run(empty_group_main, NULL, NULL, &virt), 0);
}

/* ---- the first failure cancels the siblings ---- */

static void *fail_at_10ms(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(10)), 0);
    coro_error("child %d failed", 7);
    return NULL;
}

/* Canceled by a sibling's failure, then fails too: not the first. */
static void *fail_when_canceled(void *arg)
{
    int i = (int)N(arg);

    rc_of[i] = coro_sleep(CORO_SEC(1));
    end_of[i] = coro_now();
    coro_error("second failure");
    return NULL;
}

static coro_event never_set = CORO_EVENT_INIT;

static void *wait_event(void *arg)
{
    int i = (int)N(arg);

    rc_of[i] = coro_event_wait(&never_set);
    end_of[i] = coro_now();
    finished[i] = 1;
    return NULL;
}

static void *first_failure_main(void *arg)
{
    coro_group *g;
    coro_task *handle;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(spawn_in(g, wait_event, 1), 0);
    CHECK_ERR(spawn_in(g, fail_when_canceled, 2), 0);
    CHECK_ERR(coro_spawn(&handle, sleeper, P(3), &(coro_task_options){.group = g}), 0);
    CHECK_ERR(spawn_in(g, fail_at_10ms, 4), 0);
    CHECK_ERR(coro_group_wait(g), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "child 7 failed");
    CHECK_INT(coro_now(), CORO_MSEC(10));
    for (int i = 0; i <= 3; i++) {
        CHECK_ERR(rc_of[i], CORO_ECANCELED);
        CHECK_INT(end_of[i], CORO_MSEC(10));
    }
    /* The owner itself is not canceled: it goes on. */
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_INT(coro_now(), CORO_MSEC(15));
    return NULL;
}

TEST(first_failing_child_cancels_its_siblings_and_fails_the_wait)
{
    reset();
    CHECK_ERR(coro_run(first_failure_main, NULL, NULL, &virt), 0);
}

/* ---- a canceled group ---- */

static void *start_then_block(void *arg)
{
    int i = (int)N(arg);

    started[i] = 1;
    log_add("started ");
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* not a blocking call */
    rc_of[i] = coro_sleep(CORO_MSEC(10));
    end_of[i] = coro_now();
    rc_of[i + 1] = coro_sleep(CORO_MSEC(10)); /* and every later one */
    return NULL;
}

static void *canceled_group_main(void *arg)
{
    coro_group *g;
    coro_task *t;
    void *out = P(1);

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0); /* child 0 is asleep */
    CHECK_ERR(coro_group_cancel(g), 0);
    CHECK_ERR(coro_group_cancel(g), 0); /* again: nothing more */
    CHECK_ERR(spawn_in(g, start_then_block, 1), 0);
    CHECK_ERR(coro_spawn(&t, start_then_block, P(3), &(coro_task_options){.group = g}), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_PTR(out, NULL); /* what it returned */
    CHECK_ERR(coro_group_wait(g), CORO_ECANCELED);
    CHECK_INT(coro_now(), 0);
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    CHECK_INT(started[1], 1);
    CHECK_ERR(rc_of[1], CORO_ECANCELED);
    CHECK_ERR(rc_of[2], CORO_ECANCELED);
    CHECK_INT(started[3], 1);
    CHECK_ERR(rc_of[3], CORO_ECANCELED);
    CHECK_ERR(rc_of[4], CORO_ECANCELED);
    return NULL;
}

TEST(task_spawned_into_a_canceled_group_starts_and_sees_the_cancellation)
{
    reset();
    CHECK_ERR(coro_run(canceled_group_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "started started ");
}

/* ---- deadlines ---- */

static void *deadline_main(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_deadline(g, coro_after(CORO_MSEC(200))), 0);
    CHECK_ERR(coro_group_deadline(g, coro_after(CORO_MSEC(25))), 0); /* moved */
    CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(spawn_in(g, sleeper, 1), 0);
    CHECK_ERR(spawn_in(g, sleeper, 5), 0);
    CHECK_ERR(coro_group_wait(g), CORO_ETIMEDOUT);
    CHECK_INT(coro_now(), CORO_MSEC(25));
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    CHECK_ERR(rc_of[1], 0); /* finished in time */
    CHECK_INT(end_of[1], CORO_MSEC(10));
    CHECK_ERR(rc_of[5], CORO_ECANCELED);
    CHECK_INT(end_of[5], CORO_MSEC(25));
    /* The owner is not canceled. */
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    return NULL;
}

TEST(group_deadline_cancels_the_children_and_the_wait_times_out)
{
    reset();
    CHECK_ERR(coro_run(deadline_main, NULL, NULL, &virt), 0);
}

static void *deadline_edges_main(void *arg)
{
    coro_group *g;

    (void)arg;
    /* A deadline that has passed cancels at once. */
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(coro_group_deadline(g, coro_now() - 1), 0);
    CHECK_ERR(coro_group_wait(g), CORO_ETIMEDOUT);
    CHECK_INT(coro_now(), 0);
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    /* CORO_NEVER removes it. */
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_deadline(g, coro_after(CORO_MSEC(5))), 0);
    CHECK_ERR(coro_group_deadline(g, CORO_NEVER), 0);
    CHECK_ERR(spawn_in(g, sleeper, 2), 0);
    CHECK_ERR(coro_group_wait(g), 0);
    CHECK_ERR(rc_of[2], 0);
    CHECK_INT(coro_now(), CORO_MSEC(20));
    /* Canceled before the deadline: canceled, not timed out. */
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 3), 0);
    CHECK_ERR(coro_group_cancel(g), 0);
    CHECK_ERR(coro_group_deadline(g, coro_now() - 1), 0);
    CHECK_ERR(coro_group_wait(g), CORO_ECANCELED);
    CHECK_ERR(rc_of[3], CORO_ECANCELED);
    /* A deadline that fires after the children finished changes nothing. */
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_deadline(g, coro_after(CORO_MSEC(100))), 0);
    CHECK_ERR(spawn_in(g, sleeper, 1), 0);
    CHECK_ERR(coro_group_wait(g), 0);
    CHECK_INT(coro_now(), CORO_MSEC(30));
    CHECK_ERR(coro_sleep(CORO_MSEC(200)), 0); /* past the freed group's deadline */
    return NULL;
}

TEST(group_deadline_in_the_past_never_and_after_cancel)
{
    reset();
    CHECK_ERR(coro_run(deadline_edges_main, NULL, NULL, &virt), 0);
}

/* Nested: an inner group, owned by a child of the outer one. */
static coro_time inner_deadline;
static int inner_rc, inner_after_rc;
static coro_time inner_wait_end;

static void *inner_owner(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_deadline(g, inner_deadline), 0);
    CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(spawn_in(g, wait_event, 1), 0);
    inner_rc = coro_group_wait(g);
    inner_wait_end = coro_now();
    inner_after_rc = coro_sleep(CORO_MSEC(10));
    return NULL;
}

static void *nested_main(void *arg)
{
    coro_group *outer;

    CHECK_ERR(coro_group_open(&outer), 0);
    CHECK_ERR(coro_group_deadline(outer, CORO_MSEC(N(arg))), 0);
    CHECK_ERR(spawn_in(outer, inner_owner, 0), 0);
    CHECK_ERR(spawn_in(outer, sleeper, 4), 0); /* 40 ms */
    return P(coro_group_wait(outer));
}

TEST(nested_deadlines_the_outer_one_fires_first)
{
    void *out = NULL;

    reset();
    inner_deadline = CORO_MSEC(200);
    CHECK_ERR(coro_run(nested_main, P(30), &out, &virt), 0);
    CHECK_ERR((int)N(out), CORO_ETIMEDOUT);
    CHECK_ERR(inner_rc, CORO_ECANCELED); /* canceled from outside, not timed out */
    CHECK_INT(inner_wait_end, CORO_MSEC(30));
    CHECK_ERR(inner_after_rc, CORO_ECANCELED);
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    CHECK_INT(end_of[0], CORO_MSEC(30));
    CHECK_ERR(rc_of[1], CORO_ECANCELED);
    CHECK_ERR(rc_of[4], CORO_ECANCELED);
    CHECK_INT(end_of[4], CORO_MSEC(30));
}

TEST(nested_deadlines_the_inner_one_fires_first_and_the_outer_goes_on)
{
    void *out = P(1);

    reset();
    inner_deadline = CORO_MSEC(20);
    CHECK_ERR(coro_run(nested_main, P(500), &out, &virt), 0);
    CHECK_ERR((int)N(out), 0); /* the outer group saw no failure */
    CHECK_ERR(inner_rc, CORO_ETIMEDOUT);
    CHECK_INT(inner_wait_end, CORO_MSEC(20));
    CHECK_ERR(inner_after_rc, 0); /* the inner group's owner is not canceled */
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    CHECK_INT(end_of[0], CORO_MSEC(20));
    CHECK_ERR(rc_of[1], CORO_ECANCELED);
    CHECK_ERR(rc_of[4], 0);
    CHECK_INT(end_of[4], CORO_MSEC(40));
}

/* ---- cancellation reaches everything a task owns ---- */

static int parent_sleep_rc, parent_wait_rc;

static void *parent(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_spawn(NULL, sleeper, P(0), NULL), 0);
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 1), 0);
    CHECK_ERR(spawn_in(g, wait_event, 2), 0);
    parent_sleep_rc = coro_sleep(CORO_SEC(1));
    /* Spawned after the cancellation: starts canceled. */
    CHECK_ERR(coro_spawn(NULL, sleeper, P(3), NULL), 0);
    parent_wait_rc = coro_group_wait(g);
    return P(5);
}

static void *cancel_parent_main(void *arg)
{
    coro_task *t;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, parent, NULL, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(5)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, &out), CORO_ETASKCANCELED);
    CHECK_INT(N(out), 5);
    CHECK_INT(coro_now(), CORO_MSEC(5));
    for (int i = 0; i <= 3; i++) {
        CHECK_ERR(rc_of[i], CORO_ECANCELED);
        CHECK_INT(end_of[i], CORO_MSEC(5));
    }
    CHECK_ERR(parent_sleep_rc, CORO_ECANCELED);
    CHECK_ERR(parent_wait_rc, CORO_ECANCELED);
    return NULL;
}

TEST(cancel_of_a_task_cancels_the_tasks_it_spawned_and_its_groups)
{
    reset();
    CHECK_ERR(coro_run(cancel_parent_main, NULL, NULL, &virt), 0);
}

/* The owner is canceled, but its wait still waits for every child. */
static void *slow_to_stop(void *arg)
{
    int i = (int)N(arg);

    rc_of[i] = coro_sleep(CORO_SEC(1));
    for (int k = 0; k < 3; k++)
        CHECK_ERR(coro_yield(NULL, NULL), 0);
    finished[i] = 1;
    return NULL;
}

static void *canceled_owner(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, slow_to_stop, 0), 0);
    CHECK_ERR(coro_cancel(coro_task_self()), 0);
    CHECK_ERR(coro_group_wait(g), CORO_ECANCELED);
    CHECK_INT(finished[0], 1);
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    log_add("owner ");
    return NULL;
}

static void *canceled_owner_main(void *arg)
{
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, canceled_owner, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, NULL), CORO_ETASKCANCELED);
    return NULL;
}

TEST(group_wait_by_a_canceled_owner_still_waits_for_the_children)
{
    reset();
    CHECK_ERR(coro_run(canceled_owner_main, NULL, NULL, &virt), 0);
    CHECK_STR(log_buf, "owner ");
}

/* ---- a group nobody waited for ---- */

static void *forgetful(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 3), 0);
    CHECK_ERR(spawn_in(g, sleeper, 1), 0);
    CHECK_ERR(coro_group_open(&g), 0); /* a second one */
    CHECK_ERR(spawn_in(g, sleeper, 5), 0);
    CHECK_ERR(coro_spawn(NULL, sleeper, P(2), NULL), 0); /* its own */
    return P(4);                                         /* waits for none of them */
}

static void *forgetful_main(void *arg)
{
    coro_task *t;
    void *out = NULL;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, forgetful, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, &out), 0);
    CHECK_INT(N(out), 4);
    CHECK_INT(coro_now(), CORO_MSEC(50));
    for (int i = 1; i <= 3; i++)
        CHECK_INT(finished[i], 1);
    CHECK_INT(finished[5], 1);
    CHECK_INT(end_of[5], CORO_MSEC(50));
    return NULL;
}

TEST(group_never_waited_is_waited_at_its_owners_end)
{
    reset();
    CHECK_ERR(coro_run(forgetful_main, NULL, NULL, &virt), 0);
}

static void *main_forgets(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 2), 0);
    return P(3);
}

TEST(group_the_main_task_never_waited_is_waited_before_run_returns)
{
    void *out = NULL;

    reset();
    CHECK_ERR(coro_run(main_forgets, NULL, &out, &virt), 0);
    CHECK_INT(N(out), 3);
    CHECK_INT(finished[2], 1);
    CHECK_ERR(rc_of[2], 0);
    CHECK_INT(end_of[2], CORO_MSEC(20));
}

/* An owner whose body fails: its groups are canceled, and its end (what
 * the awaiter gets) still comes only after their children finished. */
static void *failing_owner(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, slow_to_stop, 0), 0);
    CHECK_ERR(coro_spawn(NULL, slow_to_stop, P(1), NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    coro_error("owner failed");
    return NULL;
}

static void *failing_owner_main(void *arg)
{
    (void)arg;
    AWAIT_FAILURE(failing_owner, "owner failed");
    CHECK_INT(finished[0], 1);
    CHECK_INT(finished[1], 1);
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    CHECK_ERR(rc_of[1], CORO_ECANCELED);
    CHECK_INT(coro_now(), CORO_MSEC(1));
    return NULL;
}

TEST(group_of_a_failed_owner_is_canceled_and_waited_before_its_end)
{
    reset();
    CHECK_ERR(coro_run(failing_owner_main, NULL, NULL, &virt), 0);
}

static void *forgetful_failing(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(spawn_in(g, fail_at_10ms, 1), 0);
    return NULL;
}

static void *forgetful_failing_main(void *arg)
{
    (void)arg;
    AWAIT_FAILURE(forgetful_failing, "child 7 failed");
    CHECK_INT(coro_now(), CORO_MSEC(10));
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    return NULL;
}

TEST(failure_in_a_group_never_waited_fails_its_owner)
{
    reset();
    CHECK_ERR(coro_run(forgetful_failing_main, NULL, NULL, &virt), 0);
}

/* ---- misuse ---- */

static coro_group *shared_group;
static int stranger_rc[3];

static void *stranger(void *arg)
{
    (void)arg;
    stranger_rc[0] = coro_group_wait(shared_group);
    return NULL;
}

static void *not_owner_main(void *arg)
{
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_group_open(&shared_group), 0);
    CHECK_ERR(spawn_in(shared_group, sleeper, 1), 0);
    CHECK_ERR(coro_spawn(&t, stranger, NULL, NULL), 0);
    CHECK_ERR(coro_await(t, NULL), 0);
    CHECK_ERR(stranger_rc[0], CORO_EPERM);
    CHECK_INT(coro_now(), 0); /* refused without waiting */
    /* A member may not wait for its own group either. */
    CHECK_ERR(coro_spawn(NULL, stranger, NULL, &(coro_task_options){.group = shared_group}), 0);
    CHECK_ERR(coro_group_wait(shared_group), 0);
    CHECK_ERR(stranger_rc[0], CORO_EPERM);
    CHECK_INT(coro_now(), CORO_MSEC(10));
    return NULL;
}

TEST(group_wait_by_a_task_that_is_not_the_owner_is_refused)
{
    reset();
    CHECK_ERR(coro_run(not_owner_main, NULL, NULL, &virt), 0);
}

static void *group_null_main(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(NULL), CORO_EINVAL);
    CHECK_ERR(coro_group_wait(NULL), CORO_EINVAL);
    CHECK_ERR(coro_group_deadline(NULL, CORO_NEVER), CORO_EINVAL);
    CHECK_ERR(coro_group_cancel(NULL), CORO_EINVAL);
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_spawn(NULL, NULL, NULL, &(coro_task_options){.group = g}), CORO_EINVAL);
    CHECK_ERR(coro_group_wait(g), 0);
    return NULL;
}

TEST(group_calls_refuse_null_and_outside_a_loop)
{
    coro_group *g = (coro_group *)(void *)&g; /* not NULL */

    CHECK_ERR(coro_group_open(&g), CORO_ENOLOOP);
    CHECK_PTR(g, NULL);
    CHECK_ERR(coro_group_wait(NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_group_deadline(NULL, CORO_NEVER), CORO_EINVAL);
    CHECK_ERR(coro_group_cancel(NULL), CORO_EINVAL);
    CHECK_ERR(coro_cancel(NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_spawn(NULL, sleeper, P(1), NULL), CORO_ENOLOOP);
    CHECK_ERR(coro_run(group_null_main, NULL, NULL, &virt), 0);
}

/* coro_spawn: "A group's members may spawn into it while its owner waits
 * (the wait then covers them too)", as in a trio nursery. */
static coro_group *waited_group;
static int late_spawn_rc;

static void *spawn_into_waited(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(10)), 0);
    late_spawn_rc = coro_spawn(NULL, sleeper, P(5), &(coro_task_options){.group = waited_group});
    return NULL;
}

static void *waited_group_main(void *arg)
{
    (void)arg;
    late_spawn_rc = 1;
    CHECK_ERR(coro_group_open(&waited_group), 0);
    CHECK_ERR(spawn_in(waited_group, spawn_into_waited, 0), 0);
    CHECK_ERR(coro_group_wait(waited_group), 0);
    CHECK_ERR(late_spawn_rc, 0);
    CHECK_INT(coro_now(), CORO_MSEC(60)); /* 10 ms, then the late member's 50 */
    return NULL;
}

TEST(spawn_into_a_group_being_waited_for_joins_the_wait)
{
    reset();
    CHECK_ERR(coro_run(waited_group_main, NULL, NULL, &virt), 0);
}

/* ---- detached failures ---- */

static int token;
static int owner_sleep_rc;

static void *detached_failure(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_sleep(CORO_MSEC(3)), 0);
    coro_error_value(&token, "detached child died: %s", "boom");
    return NULL;
}

static void *detached_failure_main(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(NULL, detached_failure, NULL, NULL), 0);
    CHECK_ERR(coro_spawn(NULL, sleeper, P(0), NULL), 0); /* a sibling */
    owner_sleep_rc = coro_sleep(CORO_SEC(10));           /* canceled by the failure */
    CHECK_INT(coro_now(), CORO_MSEC(3));
    return P(1);
}

TEST(failure_of_a_detached_child_fails_its_owner_and_run)
{
    void *out = NULL;

    reset();
    CHECK_ERR(coro_run(detached_failure_main, NULL, &out, &virt), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "detached child died: boom");
    CHECK_PTR(out, &token);
    CHECK_ERR(owner_sleep_rc, CORO_ECANCELED);
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    CHECK_INT(end_of[0], CORO_MSEC(3));
}

static void *middle(void *arg)
{
    (void)arg;
    CHECK_ERR(coro_spawn(NULL, detached_failure, NULL, NULL), 0);
    owner_sleep_rc = coro_sleep(CORO_SEC(10));
    return NULL;
}

static void *grandchild_failure_main(void *arg)
{
    (void)arg;
    CHECK_PTR(AWAIT_FAILURE(middle, "detached child died: boom"), &token);
    CHECK_ERR(owner_sleep_rc, CORO_ECANCELED);
    /* Awaited: the failure stops here. */
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    return P(2);
}

TEST(failure_of_a_detached_grandchild_reaches_the_awaiter_of_its_parent)
{
    void *out = NULL;

    CHECK_ERR(coro_run(grandchild_failure_main, NULL, &out, &virt), 0);
    CHECK_INT(N(out), 2);
}

static void *never_awaited_failure_main(void *arg)
{
    coro_task *t;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, fail_at_10ms, NULL, NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(20)), 0); /* a handle: not canceled */
    return P(1);
}

TEST(failure_of_a_child_nobody_awaited_fails_run)
{
    CHECK_ERR(coro_run(never_awaited_failure_main, NULL, NULL, &virt), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "child 7 failed");
}

/* ---- cleanups ---- */

static void *deferring(void *arg)
{
    int i = (int)N(arg);

    CHECK_ERR(coro_defer(log_cleanup, "cleanup "), 0);
    rc_of[i] = coro_sleep(CORO_SEC(1));
    log_add("returns ");
    return NULL;
}

static void *cleanup_main(void *arg)
{
    coro_task *t;
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_spawn(&t, deferring, P(0), NULL), 0);
    CHECK_ERR(coro_sleep(CORO_MSEC(1)), 0);
    CHECK_ERR(coro_cancel(t), 0);
    CHECK_ERR(coro_await(t, NULL), CORO_ETASKCANCELED);
    CHECK_STR(log_buf, "returns cleanup ");
    CHECK_ERR(rc_of[0], CORO_ECANCELED);
    /* The same through a group's deadline. */
    CHECK_ERR(coro_group_open(&g), 0);
    CHECK_ERR(coro_group_deadline(g, coro_after(CORO_MSEC(2))), 0);
    CHECK_ERR(spawn_in(g, deferring, 1), 0);
    CHECK_ERR(spawn_in(g, deferring, 2), 0);
    CHECK_ERR(coro_group_wait(g), CORO_ETIMEDOUT);
    CHECK_STR(log_buf, "returns cleanup returns cleanup returns cleanup ");
    CHECK_ERR(rc_of[1], CORO_ECANCELED);
    CHECK_ERR(rc_of[2], CORO_ECANCELED);
    CHECK_INT(coro_now(), CORO_MSEC(3));
    return NULL;
}

TEST(cancellation_runs_the_cleanups_of_the_canceled_tasks)
{
    reset();
    CHECK_ERR(coro_run(cleanup_main, NULL, NULL, &virt), 0);
}

/* ---- seeded orders do not change the rules ---- */

static void *seeded_main(void *arg)
{
    coro_group *g;

    (void)arg;
    CHECK_ERR(coro_group_open(&g), 0);
    for (int i = 0; i < 4; i++)
        CHECK_ERR(spawn_in(g, sleeper, 0), 0);
    CHECK_ERR(spawn_in(g, fail_at_10ms, 0), 0);
    CHECK_ERR(coro_group_wait(g), CORO_EERROR);
    CHECK_STR(coro_errmsg(coro_running(NULL)), "child 7 failed");
    CHECK_INT(coro_now(), CORO_MSEC(10));
    return NULL;
}

TEST(group_rules_hold_in_every_seeded_order)
{
    for (unsigned long long seed = 1; seed <= 20; seed++) {
        coro_run_options o = {CORO_RUN_VIRTUAL_CLOCK | CORO_RUN_SEEDED, seed, 0, 0, 0, 0};
        CHECK_ERR(coro_run(seeded_main, NULL, NULL, &o), 0);
    }
}
