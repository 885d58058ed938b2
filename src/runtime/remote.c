/*
 * remote.c - reaching a loop from other threads: the loop's inbox, the
 * remotes through which any thread posts work to it (coro_remote), and the
 * wake-up of a loop that sleeps.
 *
 * Design. A loop that has handed out a remote has an inbox: a lock-free
 * stack of messages and an eventfd its poller watches. A poster pushes
 * with one compare-and-swap; the loop takes the whole stack with one
 * exchange and reverses it, so that each poster's messages arrive in the
 * order it posted them (taking everything at once cannot meet the ABA
 * problem a single pop has). The loop looks at the stack once per round of
 * its scheduler, which costs one load when it is empty.
 *
 * A poster writes the eventfd only when the loop sleeps or is about to: the
 * loop sets `sleeping` before its wait and looks at the stack after; a
 * poster pushes and then looks at `sleeping` (both sequentially
 * consistent, so at least one side sees the other: a message is never left
 * behind a sleeping loop, as with Go's notewakeup). The poster that finds
 * it set clears it and writes; the others do not. So a loop that is awake
 * costs its posters no system call, and a sleeping one one per sleep.
 *
 * Closing. When the loop's main task is about to finish (coro__inbox_close
 * from its completion) the stack's head is swapped for a closed mark. A
 * post finds that mark in the compare-and-swap that would have pushed, so
 * every message is either taken by the loop, and run before the main task
 * finishes, or refused with CORO_EENDED: none is lost in between.
 *
 * Lifetime. The inbox is counted: one for the loop, one per open remote. A
 * remote may outlive its loop (its posts are then refused), and whoever
 * lets go last frees the inbox and closes the eventfd. So a poster between
 * its push and its write never writes to a closed fd, or to the next file
 * given that number.
 *
 * Rejected: a mutex around a queue (the same cache line moves between the
 * cores as with the compare-and-swap, plus a futex when contended);
 * Vyukov's intrusive queue (FIFO without the reversal, but its consumer can
 * find it momentarily broken between a producer's two stores and must spin
 * or come back); writing the eventfd on every post (a system call, about a
 * microsecond with the wake-up it causes, per message while the loop is
 * busy anyway).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "group.h"

/* The stack's head is a message's address with its low bit set once the
 * inbox is closed to posts: messages between loops (coro__inbox_push) still
 * come in then, and take no notice of it. */
#define CLOSED ((uintptr_t)1)

struct coro_remote {
    uintptr_t head; /* posted and not yet taken, newest first | CLOSED (atomic) */
    int sleeping;   /* the loop sleeps or is about to (atomic) */
    int efd;
    unsigned long refs;      /* the loop's, the run's, each open remote's (atomic) */
    unsigned long remotes;   /* open remotes (atomic) */
    unsigned long waiting;   /* posts not yet delivered (atomic) */
    coro__msg *first, *last; /* taken from the stack, not yet delivered (the loop's) */
};

static unsigned long wakeups; /* eventfd writes, process-wide (atomic; for tests) */

unsigned long coro__inbox_wakeups(void)
{
    return __atomic_load_n(&wakeups, __ATOMIC_RELAXED);
}

/* A function to run as a task (coro_post). */
typedef struct post {
    coro__msg m;
    coro_fn fn;
    void *arg;
    const char *file;
    int line;
} post;

void coro__inbox_unref(coro_remote *in)
{
    if (__atomic_sub_fetch(&in->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    close(in->efd);
    coro__free(in);
}

void coro__inbox_ref(coro_remote *in)
{
    __atomic_add_fetch(&in->refs, 1, __ATOMIC_RELAXED);
}

static void wake(coro_remote *in)
{
    uint64_t one = 1;

    __atomic_add_fetch(&wakeups, 1, __ATOMIC_RELAXED);
    if (write(in->efd, &one, sizeof one) < 0) {
        /* the counter is at its maximum: the loop has a wake-up pending */
    }
}

void coro__inbox_wake(coro_remote *in)
{
    __atomic_store_n(&in->sleeping, 0, __ATOMIC_SEQ_CST);
    wake(in);
}

/* Pushes m, a post (refused with CORO_EENDED once the inbox is closed) or
 * a message between loops (never refused); 0. Any thread. */
static int push(coro_remote *in, coro__msg *m, int is_post)
{
    uintptr_t old = __atomic_load_n(&in->head, __ATOMIC_RELAXED);

    do {
        if (is_post && (old & CLOSED))
            return CORO_EENDED;
        m->next = (coro__msg *)(old & ~CLOSED);
    } while (!__atomic_compare_exchange_n(&in->head, &old, (uintptr_t)m | (old & CLOSED), 1,
                                          __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    if (__atomic_load_n(&in->sleeping, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&in->sleeping, 0, __ATOMIC_SEQ_CST))
        wake(in);
    return 0;
}

void coro__inbox_push(coro_remote *in, coro__msg *m)
{
    (void)push(in, m, 0);
}

/* What the stack holds now: a message's address | CLOSED. */
static uintptr_t peek(const coro_remote *in, int order)
{
    return __atomic_load_n(&in->head, order);
}

static int has_messages(uintptr_t head)
{
    return (head & ~CLOSED) != 0;
}

/* Takes the stack's messages (closing it to posts if `close`) and queues
 * them, oldest first, behind those taken before. */
static void grab(coro_remote *in, int close)
{
    uintptr_t old = peek(in, __ATOMIC_RELAXED);
    coro__msg *m, *fifo = NULL, *last;

    /* acquire: the messages; release: a loop deciding the run's verdict
     * that finds the stack empty must also see that this loop woke
     * (run.c) */
    while (!__atomic_compare_exchange_n(&in->head, &old, (old & CLOSED) | (close ? CLOSED : 0), 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ;
    if ((m = (coro__msg *)(old & ~CLOSED)) == NULL)
        return;
    for (last = m; m != NULL;) { /* newest first: reverse */
        coro__msg *next = m->next;
        m->next = fifo;
        fifo = m;
        m = next;
    }
    if (in->last != NULL)
        in->last->next = fifo;
    else
        in->first = fifo;
    in->last = last;
}

/* Delivers up to `max` of the taken messages, oldest first: how many. A
 * burst of posts becomes tasks a batch per round of the scheduler, BATCH
 * at most (as many as the loop keeps idle workers), so that those of one
 * batch are mostly done, and their workers idle again, before the next
 * starts: a burst of a million posts does not make a million tasks. */
#define BATCH 64

static size_t deliver(coro__loop *l, size_t max)
{
    coro_remote *in = l->inbox;
    size_t n = 0;

    while (n < max && in->first != NULL) {
        coro__msg *m = in->first;
        if ((in->first = m->next) == NULL)
            in->last = NULL;
        m->deliver(l, m);
        n++;
    }
    return n;
}

size_t coro__inbox_take(coro__loop *l)
{
    coro_remote *in = l->inbox;

    if (in->first == NULL) {
        if (!has_messages(peek(in, __ATOMIC_RELAXED)))
            return 0;
        grab(in, 0);
    }
    return deliver(l, BATCH);
}

size_t coro__inbox_close(coro__loop *l)
{
    coro_remote *in = l->inbox;

    if (in == NULL)
        return 0;
    grab(in, 1);
    return deliver(l, BATCH);
}

size_t coro__inbox_remotes(coro__loop *l)
{
    coro_remote *in = l->inbox;

    if (in == NULL || (peek(in, __ATOMIC_RELAXED) & CLOSED))
        return 0;
    return __atomic_load_n(&in->remotes, __ATOMIC_ACQUIRE);
}

int coro__inbox_has(coro_remote *in)
{
    return has_messages(peek(in, __ATOMIC_ACQUIRE));
}

int coro__inbox_pending(coro__loop *l)
{
    coro_remote *in = l->inbox;

    return in != NULL && (in->first != NULL || has_messages(peek(in, __ATOMIC_RELAXED)));
}

int coro__inbox_sleep(coro__loop *l, size_t remotes)
{
    coro_remote *in = l->inbox;

    if (in == NULL)
        return 1;
    /* An exchange, not a store: the load below must not pass it, which C11
     * promises of a seq_cst store too, but an emulator (qemu-user runs
     * aarch64's stlr; ldar on x86 without a barrier between) need not. */
    (void)__atomic_exchange_n(&in->sleeping, 1, __ATOMIC_SEQ_CST);
    /* As with a post: the last remote's close that came before the store
     * is seen here, one that comes after sees `sleeping` and wakes it. */
    if (in->first == NULL && !has_messages(peek(in, __ATOMIC_SEQ_CST)) &&
        (remotes == 0 || __atomic_load_n(&in->remotes, __ATOMIC_SEQ_CST) != 0))
        return 1;
    __atomic_store_n(&in->sleeping, 0, __ATOMIC_RELAXED);
    return 0;
}

void coro__inbox_awake(coro__loop *l)
{
    if (l->inbox != NULL)
        __atomic_store_n(&l->inbox->sleeping, 0, __ATOMIC_RELAXED);
}

/* The eventfd is readable: a poster woke the loop. It takes the messages
 * once it is back in its scheduler (coro__inbox_take), not here in its
 * wait: a loop of several counts itself awake before it takes any (run.c). */
static void woken(coro__loop *l)
{
    uint64_t n;

    if (read(l->inbox->efd, &n, sizeof n) < 0) {
        /* a wake-up already consumed */
    }
}

int coro__inbox_open(coro__loop *l)
{
    coro_remote *in;
    int err;

    if (l->inbox != NULL)
        return 0;
    /* a line of its own: beside another loop's inbox, or anything else
     * hot, each post would cost that too (a loop spins on this one) */
    if ((in = coro__malloc_aligned(sizeof *in, CORO__CACHE_LINE)) == NULL)
        return CORO_ENOMEM;
    memset(in, 0, sizeof *in);
    in->refs = 1;
    in->efd = CORO__SYSCALL(CORO__SYS_WAKE, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (in->efd < 0) {
        err = -errno;
        coro__free(in);
        return err;
    }
    if ((err = coro__io_hook(l, in->efd, woken)) != 0) {
        close(in->efd);
        coro__free(in);
        return err;
    }
    l->inbox = in;
    return 0;
}

void coro__inbox_end(coro__loop *l)
{
    coro_remote *in = l->inbox;
    size_t lost;

    if (in == NULL)
        return;
    /* Closed when the main task finished; else (the shutdown after a
     * deadlock, which no open remote allows) here, where nothing can run. */
    lost = coro__inbox_close(l);
    lost += deliver(l, (size_t)-1); /* deliver_post drops them */
    if (lost > 0)
        fprintf(stderr, "coro: %zu messages to the ending loop were dropped\n", lost);
    l->inbox = NULL;
    /* Its eventfd stays open while remotes or other loops hold it (they may
     * write it): closed by whoever lets go last. */
    coro__inbox_unref(in);
}

/* ---- posting ---- */

/* A post reaches the loop: its function becomes a task of the main task's
 * own group, as if the main task had spawned it detached. */
static void deliver_post(coro__loop *l, coro__msg *m)
{
    post *p = coro__container_of(m, post, m);
    int rc;

    __atomic_sub_fetch(&l->inbox->waiting, 1, __ATOMIC_RELAXED);
    /* Not once the loop has ended, or while it shuts down after a deadlock
     * (coro__inbox_end reports those): no task starts then. */
    if (!l->stopping && l->main != NULL && l->main->state != CORO__T_DONE &&
        (rc = coro__spawn(l, NULL, p->fn, p->arg, NULL, &l->main->own, p->file, p->line)) != 0) {
        char msg[128];

        snprintf(msg, sizeof msg, "a posted function could not start: %s", coro_strerror(rc));
        coro__group_fail_msg(&l->main->own, msg);
    }
    coro__free(p);
}

int coro_remote_open(coro_remote **out)
{
    coro__loop *l = coro__loop_tls;
    coro_remote *in;
    int err;

    if (out == NULL)
        return CORO_EINVAL;
    *out = NULL;
    if (l == NULL || l->current == NULL)
        return CORO_ENOLOOP;
    if (l->stopping || l->main == NULL || l->main->state == CORO__T_DONE ||
        (l->inbox != NULL && (peek(l->inbox, __ATOMIC_RELAXED) & CLOSED)))
        return CORO_EENDED;
    if ((err = coro__inbox_open(l)) != 0)
        return err;
    in = l->inbox;
    coro__inbox_ref(in);
    __atomic_add_fetch(&in->remotes, 1, __ATOMIC_SEQ_CST);
    *out = in;
    return 0;
}

void coro_remote_close(coro_remote *r)
{
    if (r == NULL)
        return;
    /* The last one may leave the loop nothing to wait for: it must look
     * again (a deadlock to report, or its end), so a sleeping loop is woken. */
    if (__atomic_sub_fetch(&r->remotes, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_exchange_n(&r->sleeping, 0, __ATOMIC_SEQ_CST))
        wake(r);
    coro__inbox_unref(r);
}

int coro_post_at(coro_remote *r, coro_fn fn, void *arg, const char *file, int line)
{
    post *p;
    int rc;

    if (r == NULL || fn == NULL)
        return CORO_EINVAL;
    if (peek(r, __ATOMIC_RELAXED) & CLOSED)
        return CORO_EENDED;
    if (__atomic_fetch_add(&r->waiting, 1, __ATOMIC_RELAXED) >= CORO_POST_MAX) {
        __atomic_sub_fetch(&r->waiting, 1, __ATOMIC_RELAXED);
        return CORO_EAGAIN; /* the loop is that far behind: back-pressure */
    }
    if ((p = coro__malloc(sizeof *p)) == NULL) {
        __atomic_sub_fetch(&r->waiting, 1, __ATOMIC_RELAXED);
        return CORO_ENOMEM;
    }
    p->m.deliver = deliver_post;
    p->fn = fn;
    p->arg = arg;
    p->file = file;
    p->line = line;
    if ((rc = push(r, &p->m, 1)) != 0) {
        __atomic_sub_fetch(&r->waiting, 1, __ATOMIC_RELAXED);
        coro__free(p);
    }
    return rc;
}
