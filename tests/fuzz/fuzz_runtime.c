/*
 * fuzz_runtime.c - the runtime as random task programs, checked against
 * invariants as they run, each program run twice on the virtual clock in
 * a seeded (or FIFO) order and the two traces compared byte for byte.
 *
 * The input: a header (scripts, seed, order, channel capacities, permits)
 * and up to NSCRIPT scripts of two-byte ops. The main task opens three
 * channels and two groups, spawns a task per script (with a handle,
 * detached or into a group; some copy-stack), runs script 0, then awaits
 * its handles, waits for the groups and drains the channels.
 *
 * The harness keeps its own account of the run (struct world) as the
 * tasks act, and checks against it (docs/design.md, Fuzzing, lists it all):
 * values neither lost, duplicated, torn nor reordered per sender, closed
 * channels drained first, mutual exclusion, deadlines to the nanosecond
 * and ties in order, certain cancellations seen and none without a cause,
 * awaits and group waits only after everything they cover ended, only
 * real deadlocks (then cleaned up), coro_run's result, identical traces,
 * nothing leaked.
 *
 * The deadlock report goes to stderr, which is sent to /dev/null while
 * the loop runs (FUZZ_STDERR=1 keeps it); a failing check puts it back.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coro.h"
#include "fuzz.h"
#include "internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_SANITIZER 1
#endif
#ifdef FUZZ_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

#define NCH 3
#define NSCRIPT 6
#define NOPS 15
#define NINST 16 /* task instances per run, the main task included */
#define NVAL 1024
#define TRACE_MAX (1 << 16)
#define VAL_TAG 0x5eed000000000000ULL
#define NCASE 5 /* cases of a select: more than a task's inline waiters */
#define ELEM_MAX 16

/* Element sizes: each has its own copy path in the channel. */
static const size_t elem_size[NCH] = {8, 16, 3};

/* ---- stderr while the loop runs ---- */

static int saved_err = -1, null_fd = -1;

static void quiet(int on)
{
    if (saved_err >= 0)
        dup2(on ? null_fd : saved_err, 2);
}

static void failing(void);

/* FUZZ_CHECK, with stderr back and the run's trace so far printed. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            failing();                                                                             \
            FUZZ_CHECK(c);                                                                         \
        }                                                                                          \
    } while (0)

/* ---- the program ---- */

typedef struct script {
    int len, mode, copy, named; /* mode: 0 handle, 1 detached, 2 and 3 groups */
    uint8_t op[NOPS][2];
} script;

static struct program {
    int nscript;
    unsigned flags;
    unsigned long long seed;
    size_t cap[NCH];
    long permits;
    script s[NSCRIPT];
} prog;

/* ---- one run's state ---- */

enum { V_PENDING, V_SENT, V_FAILED };
enum { B_NONE, B_SEND, B_RECV, B_SELECT, B_LOCK, B_SEM, B_WG, B_EVENT, B_SLEEP, B_AWAIT, B_GROUP };

typedef struct inst {
    coro_task *h;                      /* its handle while it may be used, else NULL */
    int script, owner, spawner, group; /* group: -1 for its owner's own */
    int detached, started, ended, cleaned, raised, sure, maybe, awaiting;
    int blk, barg;                       /* the blocking call in progress (B_*) and its object */
    int ncase, cch[NCASE], csend[NCASE]; /* B_SELECT: its cases */
    coro_time wait_d;                    /* a blocking call in progress with a deadline */
    unsigned long wait_seq;              /* ... set as the wait_seq-th such call; 0: none */
    void *ret;
    char msg[8];
} inst;

typedef struct val {
    int ch, from, state, got;
} val;

typedef struct grp {
    coro_group *g;
    int freed, sure, maybe;
    coro_time first_deadline; /* the earliest deadline set, CORO_NEVER for none */
} grp;

static struct world {
    coro_chan *ch[NCH];
    int closed[NCH];
    coro_mutex mu;
    int mu_holder, mu_in;
    coro_sem sem;
    long sem_in;
    coro_wg wg;
    long wg_count;
    unsigned wg_zeros;
    coro_event ev;
    int ev_set;
    unsigned ev_sets;
    grp g[2];
    inst t[NINST];
    int nt;
    val v[NVAL];
    int nv;
    int last[NINST][NINST][NCH]; /* 1 + the last value r got from s on ch */
    int main_done, nraised;
    char *trace;
    size_t tlen;
    coro_time tnow;
    unsigned long events; /* traced so far */
    unsigned long calls;  /* blocking calls with a deadline begun */
} w;

static char traces[2][TRACE_MAX];
static size_t trace_len[2];

static void failing(void)
{
    quiet(0);
    if (w.trace != NULL)
        fprintf(stderr, "the run so far:\n%.*s", (int)w.tlen, w.trace);
}

static void tr(int i, const char *fmt, ...) CORO_PRINTF(2, 3);

/* Appends an event of task i, at the loop's time, to the run's trace. */
static void tr(int i, const char *fmt, ...)
{
    coro_time now = coro_now();
    size_t room = TRACE_MAX - w.tlen;
    va_list ap;
    int n;

    CHECK(now >= w.tnow); /* the clock never goes back */
    w.tnow = now;
    w.events++;
    if (room < 128)
        return;
    n = snprintf(w.trace + w.tlen, room, "%lld t%d ", now, i);
    va_start(ap, fmt);
    n += vsnprintf(w.trace + w.tlen + n, room - (size_t)n, fmt, ap);
    va_end(ap);
    if ((size_t)n + 1 < room) {
        w.trace[w.tlen + (size_t)n] = '\n';
        w.tlen += (size_t)n + 1;
    }
}

static void *ret_of(int i)
{
    return (void *)(uintptr_t)(0x1000 + i * 16);
}

static void *errval_of(int i)
{
    return (void *)(uintptr_t)(0x2000 + i * 16);
}

/* ---- ownership and cancellation ---- */

/* Whether a owns b (is b or one of its owners). */
static int owns(int a, int b)
{
    for (; b >= 0; b = w.t[b].owner)
        if (a == b)
            return 1;
    return 0;
}

static int all_ended(int a);

/* a and everything it owns may be canceled (sure: are), but for those
 * done (they and all they own ended), which nothing cancels. */
static void mark(int a, int sure)
{
    for (int b = 0; b < w.nt; b++)
        if (owns(a, b) && !all_ended(b)) {
            w.t[b].maybe = 1;
            w.t[b].sure |= sure;
        }
    if (a == 0) /* the main task owns the groups */
        for (int g = 0; g < 2; g++) {
            w.g[g].maybe = 1;
            w.g[g].sure |= sure;
        }
}

static void mark_group(int g, int sure)
{
    w.g[g].maybe = 1;
    w.g[g].sure |= sure;
    for (int b = 0; b < w.nt; b++)
        if (w.t[b].group == g)
            mark(b, sure);
}

/* Whether a and everything it owns have ended. */
static int all_ended(int a)
{
    for (int b = 0; b < w.nt; b++)
        if (owns(a, b) && !w.t[b].ended)
            return 0;
    return 1;
}

/* The task (a or one it owns) that raised msg, or -1. */
static int raiser(int a, const char *msg)
{
    for (int b = 0; b < w.nt; b++)
        if (owns(a, b) && w.t[b].raised && msg != NULL && strcmp(w.t[b].msg, msg) == 0)
            return b;
    return -1;
}

/* ---- blocking calls ---- */

typedef struct call {
    int i, sure;
    coro_time t0, d; /* d: the deadline, CORO_NEVER for none */
    unsigned long events;
} call;

static call begin(int i, coro_time d)
{
    call c = {i, w.t[i].sure, coro_now(), d, w.events};

    if (d != CORO_NEVER && d > c.t0) {
        w.t[i].wait_d = d;
        w.t[i].wait_seq = ++w.calls;
    }
    return c;
}

/* i is about to make blocking call kind on arg (a channel, a task, a
 * group), for the deadlock check. */
static void block(int i, int kind, int arg)
{
    w.t[i].blk = kind;
    w.t[i].barg = arg;
}

/* c timed out at its deadline: in FIFO order, the waits with the same
 * deadline set before it have timed out first (ties fire in the order
 * they were set). */
static void check_tie(const call *c)
{
    unsigned long seq = w.t[c->i].wait_seq;

    if (prog.flags & CORO_RUN_SEEDED)
        return;
    for (int j = 0; j < w.nt; j++)
        CHECK(w.t[j].wait_seq == 0 || w.t[j].wait_d != c->d || w.t[j].wait_seq >= seq);
}

enum { PLAIN, SLEEP, AWAIT }; /* how a blocking call may end at its deadline */

/* A blocking call of c.i returned rc. A sleep returns 0 at its deadline;
 * an await may return the end of a task that ended at the deadline. */
static void end(const call *c, int rc, int kind)
{
    coro_time t1 = coro_now(), due = c->d > c->t0 ? c->d : c->t0;
    int timed_out = rc == CORO_ETIMEDOUT || (kind == SLEEP && rc == 0);

    w.t[c->i].blk = B_NONE;
    CHECK(t1 >= c->t0);
    if (c->sure)
        CHECK(rc == CORO_ECANCELED);
    if (rc == CORO_ECANCELED)
        CHECK(w.t[c->i].maybe);
    if (c->d == CORO_NEVER) {
        CHECK(!timed_out);
        return;
    }
    CHECK(timed_out ? t1 == due : t1 <= due);
    if (timed_out && c->d <= c->t0)
        CHECK(w.events == c->events); /* at once: nobody else ran */
    if (c->d > c->t0) {
        if (timed_out)
            check_tie(c);
        else if (rc != CORO_ECANCELED && kind != AWAIT)
            CHECK(t1 < c->d); /* at D its timer fires before any waker runs */
        w.t[c->i].wait_seq = 0;
    }
}

/* Deadline forms: 0 none, 1 d ms from now, 2 the try form, 3 passed. */
static coro_time deadline(int form, coro_time now, int ms)
{
    return form == 1 ? now + CORO_MSEC(ms) : form == 3 ? now - 1 : CORO_NEVER;
}

/* ---- channels ---- */

static int new_val(int ch, int from)
{
    if (w.nv >= NVAL)
        return -1;
    w.v[w.nv].ch = ch;
    w.v[w.nv].from = from;
    w.v[w.nv].state = V_PENDING;
    w.v[w.nv].got = 0;
    return w.nv++;
}

static void sent(int k, int rc)
{
    if (rc == 0) {
        w.v[k].state = V_SENT;
    } else {
        CHECK(!w.v[k].got); /* a failed send delivered nothing */
        w.v[k].state = V_FAILED;
    }
}

/* Value k as an element of channel ch: its index with a tag, and for 16
 * bytes the complement too, so that a torn or stray copy shows. */
static void encode(int ch, int k, unsigned char *e)
{
    uint64_t x = VAL_TAG | (uint64_t)k, y = ~x;

    if (elem_size[ch] == 3) {
        e[0] = (unsigned char)k;
        e[1] = (unsigned char)(0x5c | (k >> 8));
        e[2] = 0xed;
        return;
    }
    memcpy(e, &x, 8);
    if (elem_size[ch] == 16)
        memcpy(e + 8, &y, 8);
}

/* The value an element of ch holds, or -1 if it is none of ours. */
static int decode(int ch, const unsigned char *e)
{
    uint64_t x, y;

    if (elem_size[ch] == 3)
        return e[2] == 0xed && (e[1] & 0xfc) == 0x5c ? e[0] | (e[1] & 3) << 8 : -1;
    memcpy(&x, e, 8);
    if (elem_size[ch] == 16) {
        memcpy(&y, e + 8, 8);
        if (y != ~x)
            return -1;
    }
    return (x & ~0xffffffffULL) == VAL_TAG ? (int)(x & 0xffffffffu) : -1;
}

/* Task r received element e on channel ch. */
static void got(int r, int ch, const unsigned char *e)
{
    int k = decode(ch, e);
    val *v = &w.v[k < 0 ? 0 : k];

    CHECK(k >= 0 && k < w.nv);
    CHECK(v->ch == ch && !v->got && v->state != V_FAILED);
    CHECK(w.last[v->from][r][ch] <= k); /* each sender's values in order */
    w.last[v->from][r][ch] = k + 1;
    v->got = 1;
}

/* A receive on ch said it is closed: it must be, and drained. */
static void recv_closed(int ch)
{
    CHECK(w.closed[ch] && coro_chan_len(w.ch[ch]) == 0);
}

/* A send (send 1) or a receive on the channel the op names: blocking,
 * with a deadline, try, or with a passed deadline. */
static void op_chan(int i, unsigned a, int send)
{
    int ch = (int)(a % NCH), form = (int)(a / NCH) % 4, k = send ? new_val(ch, i) : 0, rc;
    int was_closed = w.closed[ch];
    unsigned char x[ELEM_MAX] = {0};
    coro_chan *c = w.ch[ch];
    call cl;

    if (k < 0)
        return;
    if (send)
        encode(ch, k, x);
    cl = begin(i, deadline(form, coro_now(), (int)(a / 12) % 6));
    if (form == 2) {
        rc = send ? coro_chan_try_send(c, x) : coro_chan_try_recv(c, x);
        CHECK(rc == 0 || rc == CORO_ECHCLOSED || rc == CORO_EAGAIN);
    } else {
        block(i, send ? B_SEND : B_RECV, ch);
        if (send)
            rc = form == 0 ? coro_chan_send(c, x) : coro_chan_send_until(c, x, cl.d);
        else
            rc = form == 0 ? coro_chan_recv(c, x) : coro_chan_recv_until(c, x, cl.d);
        end(&cl, rc, PLAIN);
        CHECK(rc == 0 || rc == CORO_ECHCLOSED || rc == CORO_ECANCELED ||
              (rc == CORO_ETIMEDOUT && form != 0));
    }
    if (send) {
        CHECK(rc != CORO_ECHCLOSED || w.closed[ch]);
        CHECK(!was_closed || rc == CORO_ECHCLOSED || (form != 2 && rc == CORO_ECANCELED));
        sent(k, rc);
    } else if (rc == 0) {
        got(i, ch, x);
    } else if (rc == CORO_ECHCLOSED) {
        recv_closed(ch);
    }
    tr(i, "%s c%d v%d %d", send ? "send" : "recv", ch, send || rc == 0 ? decode(ch, x) : -1, rc);
}

static void op_close(int i, unsigned a)
{
    int ch = (int)(a % NCH), rc = coro_chan_close(w.ch[ch]);

    CHECK(rc == (w.closed[ch] ? CORO_ECHCLOSED : 0));
    w.closed[ch] = 1;
    tr(i, "close c%d %d", ch, rc);
}

/* A select over n cases, each a send or a receive on one of the
 * channels; blocking, with a deadline 2 ms away, try, or passed. */
static void op_select(int i, unsigned a, int n)
{
    coro_case cs[NCASE];
    unsigned char data[NCASE][ELEM_MAX];
    int ch[NCASE], k[NCASE], form = (int)(a / 36) % 4, rc;
    call c;

    if (w.nv + n > NVAL)
        return;
    for (int j = 0; j < n; j++) {
        unsigned spec = j == 0 ? a % 6 : j == 1 ? (a / 6) % 6 : (a + 5 * (unsigned)j) % 6;

        ch[j] = (int)(spec % NCH);
        k[j] = -1;
        memset(data[j], 0, ELEM_MAX);
        if (spec >= NCH) {
            k[j] = new_val(ch[j], i);
            encode(ch[j], k[j], data[j]);
        }
        cs[j].chan = w.ch[ch[j]];
        cs[j].op = spec >= NCH ? CORO_SEND : CORO_RECV;
        cs[j].data = data[j];
        cs[j].result = 0;
    }
    c = begin(i, deadline(form, coro_now(), 2));
    if (form == 2) {
        rc = coro_try_select(cs, n);
        CHECK((rc >= 0 && rc < n) || rc == CORO_EAGAIN);
    } else {
        block(i, B_SELECT, n);
        w.t[i].ncase = n;
        for (int j = 0; j < n; j++) {
            w.t[i].cch[j] = ch[j];
            w.t[i].csend[j] = cs[j].op == CORO_SEND;
        }
        rc = form == 0 ? coro_select(cs, n) : coro_select_until(cs, n, c.d);
        end(&c, rc, PLAIN);
        CHECK((rc >= 0 && rc < n) || rc == CORO_ECANCELED || (rc == CORO_ETIMEDOUT && form != 0));
    }
    for (int j = 0; j < n; j++) {
        int res = rc == j ? cs[j].result : CORO_EAGAIN;

        CHECK(res == 0 || res == CORO_ECHCLOSED || res == CORO_EAGAIN);
        if (res == CORO_ECHCLOSED)
            CHECK(w.closed[ch[j]]);
        if (k[j] >= 0)
            sent(k[j], res);
        else if (res == 0)
            got(i, ch[j], data[j]);
        else if (res == CORO_ECHCLOSED)
            recv_closed(ch[j]);
    }
    tr(i, "select %d %d %d", n, rc, rc >= 0 ? cs[rc].result : 0);
}

/* ---- mutex, semaphore, wait group, event ---- */

/* Inside a critical section: nothing, a yield, or a sleep of 1 or 3 ms. */
static void inside(int i, unsigned how)
{
    if (how == 1) {
        CHECK(coro_yield(NULL, NULL) == 0);
    } else if (how > 1) {
        call c = begin(i, coro_after(CORO_MSEC(how == 2 ? 1 : 3)));

        block(i, B_SLEEP, 0);
        end(&c, coro_sleep_until(c.d), SLEEP);
    }
}

/* Takes the mutex (sem 0) or a permit of the semaphore (sem 1). */
static int take(int i, int sem, int form, coro_time d)
{
    call c = begin(i, d);
    int rc;

    if (form != 2)
        block(i, sem ? B_SEM : B_LOCK, 0);
    if (form == 2)
        rc = sem ? coro_sem_tryacquire(&w.sem) : coro_mutex_trylock(&w.mu);
    else if (sem)
        rc = form == 0 ? coro_sem_acquire(&w.sem) : coro_sem_acquire_until(&w.sem, d);
    else
        rc = form == 0 ? coro_mutex_lock(&w.mu) : coro_mutex_lock_until(&w.mu, d);
    if (form == 2) {
        CHECK(rc == 0 || rc == (sem ? CORO_EAGAIN : CORO_EBUSY));
    } else {
        end(&c, rc, PLAIN);
        CHECK(rc == 0 || rc == CORO_ECANCELED || (rc == CORO_ETIMEDOUT && form != 0));
    }
    return rc;
}

static void op_section(int i, unsigned a, int sem)
{
    int form = (int)(a % 4);
    int rc = take(i, sem, form, deadline(form, coro_now(), (int)(a / 4) % 4));

    if (rc == 0 && sem) {
        CHECK(w.sem_in < prog.permits);
        w.sem_in++;
        inside(i, (a / 16) % 4);
        CHECK(w.sem_in <= prog.permits);
        w.sem_in--;
        CHECK(coro_sem_release(&w.sem) == 0);
    } else if (rc == 0) {
        CHECK(w.mu_in == 0 && w.mu_holder < 0);
        w.mu_in = 1;
        w.mu_holder = i;
        inside(i, (a / 16) % 4);
        CHECK(w.mu_in == 1 && w.mu_holder == i);
        w.mu_in = 0;
        w.mu_holder = -1;
        CHECK(coro_mutex_unlock(&w.mu) == 0);
    }
    tr(i, "%s %d", sem ? "sem" : "mutex", rc);
}

static void op_wg(int i, unsigned a)
{
    int rc;

    switch (a % 5) {
    case 0:
    case 4:
        rc = coro_wg_add(&w.wg, a % 5 == 0 ? 1 : 2);
        CHECK(rc == 0);
        w.wg_count += a % 5 == 0 ? 1 : 2;
        break;
    case 1:
        rc = coro_wg_done(&w.wg);
        CHECK(rc == (w.wg_count == 0 ? CORO_EINVAL : 0));
        if (rc == 0 && --w.wg_count == 0)
            w.wg_zeros++;
        break;
    default: {
        long count = w.wg_count;
        unsigned zeros = w.wg_zeros;
        call c = begin(i, a % 5 == 3 ? coro_after(CORO_MSEC((a / 5) % 4)) : CORO_NEVER);

        block(i, B_WG, 0);
        rc = a % 5 == 3 ? coro_wg_wait_until(&w.wg, c.d) : coro_wg_wait(&w.wg);
        end(&c, rc, PLAIN);
        CHECK(rc == 0 || rc == CORO_ECANCELED || (rc == CORO_ETIMEDOUT && a % 5 == 3));
        CHECK(rc != 0 || count == 0 || w.wg_zeros != zeros);
        break;
    }
    }
    tr(i, "wg %u %d", a % 5, rc);
}

static void op_event(int i, unsigned a)
{
    int rc;

    if (a % 4 < 2) {
        rc = a % 4 == 0 ? coro_event_set(&w.ev) : coro_event_clear(&w.ev);
        CHECK(rc == 0);
        w.ev_sets += a % 4 == 0;
        w.ev_set = a % 4 == 0;
        CHECK(coro_event_is_set(&w.ev) == w.ev_set);
    } else {
        int was_set = w.ev_set;
        unsigned sets = w.ev_sets;
        call c = begin(i, a % 4 == 3 ? coro_after(CORO_MSEC((a / 4) % 4)) : CORO_NEVER);

        block(i, B_EVENT, 0);
        rc = a % 4 == 3 ? coro_event_wait_until(&w.ev, c.d) : coro_event_wait(&w.ev);
        end(&c, rc, PLAIN);
        CHECK(rc == 0 || rc == CORO_ECANCELED || (rc == CORO_ETIMEDOUT && a % 4 == 3));
        CHECK(rc != 0 || was_set || w.ev_sets != sets);
    }
    tr(i, "event %u %d", a % 4, rc);
}

/* ---- sleep, spawn, await, cancel, groups, errors ---- */

static void op_sleep(int i, unsigned a)
{
    int ms = (int)(a / 4) % 8, rc;
    coro_time now = coro_now();
    call c = begin(i, a % 4 == 1 ? now - 1 : a % 4 == 2 ? now : now + CORO_MSEC(ms));

    block(i, B_SLEEP, 0);
    rc = a % 4 == 0 ? coro_sleep(CORO_MSEC(ms)) : coro_sleep_until(c.d);
    end(&c, rc, SLEEP);
    CHECK(rc == 0 || rc == CORO_ECANCELED);
    tr(i, "sleep %d", rc);
}

static void *task_fn(void *arg);

/* i spawns a task running script s: mode 0 with a handle (owned by i),
 * 1 detached, 2 and 3 with a handle into group 0 or 1. */
static void spawn(int i, int s, int mode)
{
    int j = w.nt, g = mode >= 2 ? mode - 2 : -1, rc;
    coro_task_options opt = {NULL, 0, NULL, 0, NULL};
    char name[8];
    inst *t = &w.t[j];

    if (j >= NINST || (g >= 0 && w.g[g].freed))
        return;
    snprintf(name, sizeof name, "t%d", j % NINST);
    opt.name = prog.s[s].named ? name : NULL;
    opt.flags = prog.s[s].copy ? CORO_COPY_STACK : 0;
    opt.group = g >= 0 ? w.g[g].g : NULL;
    memset(t, 0, sizeof *t);
    t->script = s;
    t->spawner = i;
    t->group = g;
    t->owner = g >= 0 ? 0 : i;
    t->detached = mode == 1;
    t->sure = g >= 0 ? w.g[g].sure : w.t[i].sure;
    t->maybe = g >= 0 ? w.g[g].maybe : w.t[i].maybe;
    w.nt++;
    rc = coro_spawn(mode == 1 ? NULL : &t->h, task_fn, (void *)(uintptr_t)j, &opt);
    CHECK(rc == 0 && (mode == 1) == (t->h == NULL));
    tr(i, "spawn t%d s%d m%d", j, s, mode);
}

/* The task whose handle the op's byte names, if i may use it: its
 * spawner, or anyone for the main task's. */
static int handle_of(int i, unsigned a)
{
    int j = (int)(a % (unsigned)w.nt);

    if (w.t[j].h == NULL || (w.t[j].spawner != 0 && w.t[j].spawner != i))
        return -1;
    return j;
}

static void await_task(int i, int j, int form)
{
    void *res = NULL;
    int busy = w.t[j].awaiting != 0, rc;
    call c = begin(i, form ? coro_after(CORO_MSEC(2)) : CORO_NEVER);

    if (!busy && i != j)
        w.t[j].awaiting = i + 1;
    block(i, B_AWAIT, j);
    rc = form ? coro_await_until(w.t[j].h, &res, c.d) : coro_await(w.t[j].h, &res);
    if (!busy && i != j)
        w.t[j].awaiting = 0;
    if (i == j) { /* refused before anything else */
        w.t[i].wait_seq = 0;
        w.t[i].blk = B_NONE;
        CHECK(rc == CORO_ESELF);
        tr(i, "await self %d", rc);
        return;
    }
    end(&c, rc, AWAIT);
    tr(i, "await t%d %d", j, rc);
    if (busy) { /* another task awaits j */
        CHECK(rc == CORO_EBUSY || rc == CORO_ECANCELED);
        return;
    }
    CHECK(rc == 0 || rc == CORO_EERROR || rc == CORO_ETASKCANCELED || rc == CORO_ECANCELED ||
          (rc == CORO_ETIMEDOUT && form));
    if (rc == 0 || rc == CORO_EERROR || rc == CORO_ETASKCANCELED) {
        CHECK(all_ended(j));
        w.t[j].h = NULL; /* the handle has ended */
    }
    if (rc == 0 || rc == CORO_ETASKCANCELED)
        CHECK(!w.t[j].raised && res == w.t[j].ret);
    if (rc == 0)
        CHECK(!w.t[j].sure);
    if (rc == CORO_ETASKCANCELED)
        CHECK(w.t[j].maybe);
    if (rc == CORO_EERROR) {
        int k = raiser(j, coro_errmsg(coro_running(NULL)));
        CHECK(k >= 0 && res == errval_of(k));
    }
}

static void op_await(int i, unsigned a)
{
    int j = handle_of(i, a);

    if (j >= 0)
        await_task(i, j, (int)(a / 16) % 2);
}

static void op_cancel(int i, unsigned a)
{
    int j = handle_of(i, a);

    if (j < 0)
        return;
    CHECK(coro_cancel(w.t[j].h) == 0);
    mark(j, 1);
    tr(i, "cancel t%d", j);
}

static void op_group(int i, unsigned a)
{
    int g = (int)(a & 1), what = (int)(a >> 1) % 4, rc;
    coro_time now = coro_now(), d;

    if (w.g[g].freed)
        return;
    if (what == 0) {
        rc = coro_group_cancel(w.g[g].g);
        mark_group(g, 1);
    } else {
        d = what == 1 ? now + CORO_MSEC((a >> 3) % 8) : what == 2 ? CORO_NEVER : now - 1;
        rc = coro_group_deadline(w.g[g].g, d);
        if (d != CORO_NEVER)
            mark_group(g, d <= now);
        if (d < w.g[g].first_deadline)
            w.g[g].first_deadline = d;
    }
    CHECK(rc == 0);
    tr(i, "group g%d %d", g, what);
}

static void op_raise(int i)
{
    inst *t = &w.t[i];

    snprintf(t->msg, sizeof t->msg, "t%d", i % NINST);
    t->raised = t->ended = 1;
    w.nraised++;
    tr(i, "raise");
    for (int b = 0; b < w.nt; b++) /* its own group is canceled now */
        if (b != i && owns(i, b))
            mark(b, 1);
    if (i == 0)
        mark(0, 1);
    /* Once it is done, its error fails its group (whose other members
     * are canceled) or, detached, its owner; an error nobody awaited
     * passes to the owner at its end. Up the chain of owners, each may
     * fail in turn. */
    for (int x = i; x >= 0; x = w.t[x].owner) {
        if (w.t[x].group >= 0)
            mark_group(w.t[x].group, 0);
        else if (w.t[x].detached)
            mark(w.t[x].owner, 0);
    }
    coro_error_value(errval_of(i), "%s", t->msg);
    CHECK(!"coro_error_value returned in a task");
}

/* Misuse that changes nothing. */
static void op_misc(int i, unsigned a)
{
    coro_task *self = coro_task_self();
    int rc = 0;

    CHECK(self != NULL);
    switch (a % 4) {
    case 0:
        rc = coro_mutex_unlock(&w.mu);
        CHECK(rc == CORO_EPERM);
        break;
    case 1:
        if (i != 0 && !w.g[a / 4 % 2].freed) {
            rc = coro_group_wait(w.g[a / 4 % 2].g);
            CHECK(rc == CORO_EPERM);
        }
        break;
    case 2:
        CHECK(coro_chan_send(NULL, &rc) == CORO_EINVAL &&
              coro_chan_cap(w.ch[a / 4 % NCH]) == prog.cap[a / 4 % NCH]);
        CHECK(coro_chan_try_recv(w.ch[0], NULL) == CORO_EINVAL);
        CHECK(coro_select(NULL, 0) == CORO_EINVAL && coro_cancel(NULL) == CORO_EINVAL);
        break;
    default:
        CHECK(strcmp(coro_task_name(self), coro_name(coro_running(NULL))) == 0);
        CHECK(coro_task_id(self) == coro_id(coro_running(NULL)));
        break;
    }
    tr(i, "misc %u %d", a % 4, rc);
}

static void op(int i, const uint8_t *o)
{
    unsigned a = o[1];

    switch (o[0] % 16) {
    case 0:
    case 1:
        op_chan(i, a, o[0] % 16 == 0);
        break;
    case 2:
        op_close(i, a);
        break;
    case 3:
        op_select(i, a, 2 + (o[0] >> 4) % (NCASE - 1));
        break;
    case 4:
    case 5:
        op_section(i, a, o[0] % 16 == 5);
        break;
    case 6:
        op_wg(i, a);
        break;
    case 7:
        op_event(i, a);
        break;
    case 8:
        op_sleep(i, a);
        break;
    case 9: {
        coro_time t0 = coro_now();

        CHECK(coro_yield(NULL, NULL) == 0 && coro_now() == t0); /* time waits for it */
        tr(i, "yield");
        break;
    }
    case 10:
        if (prog.nscript > 1)
            spawn(i, 1 + (int)(a % (unsigned)(prog.nscript - 1)), (int)(a / 8) % 4);
        break;
    case 11:
        op_await(i, a);
        break;
    case 12:
        op_cancel(i, a);
        break;
    case 13:
        op_group(i, a);
        break;
    case 14:
        op_raise(i);
        break;
    default:
        op_misc(i, a);
        break;
    }
}

/* ---- tasks ---- */

static void cleaned(void *arg)
{
    int i = (int)(uintptr_t)arg;

    CHECK(!w.t[i].cleaned && coro_task_self() != NULL);
    w.t[i].cleaned = 1;
    tr(i, "cleanup");
}

/* The main task waits for group g: with a deadline 2 ms away when its
 * script's mode bit for g says so (the group's deadline becomes the
 * earlier one). */
static void wait_group(int g)
{
    coro_time d = coro_after(CORO_MSEC(2)), now;
    int rc, k;

    block(0, B_GROUP, g);
    if ((prog.s[0].mode >> g) & 1) {
        mark_group(g, 0);
        if (d < w.g[g].first_deadline)
            w.g[g].first_deadline = d;
        rc = coro_group_wait_until(w.g[g].g, d);
    } else {
        rc = coro_group_wait(w.g[g].g);
    }
    w.t[0].blk = B_NONE;
    now = coro_now();

    w.g[g].freed = 1;
    tr(0, "wait g%d %d", g, rc);
    CHECK(rc == 0 || rc == CORO_EERROR || rc == CORO_ETIMEDOUT || rc == CORO_ECANCELED);
    for (int b = 0; b < w.nt; b++) {
        if (w.t[b].group != g)
            continue;
        CHECK(all_ended(b));
        CHECK(rc == CORO_EERROR || !w.t[b].raised); /* a member's failure fails it */
        w.t[b].h = NULL;                            /* freed with the group */
    }
    if (rc == 0)
        CHECK(!w.g[g].sure);
    if (rc == CORO_ETIMEDOUT)
        CHECK(w.g[g].first_deadline <= now);
    if (rc == CORO_ECANCELED)
        CHECK(w.g[g].maybe);
    if (rc == CORO_EERROR) {
        k = -1;
        for (int b = 0; b < w.nt && k < 0; b++)
            if (w.t[b].group == g)
                k = raiser(b, coro_errmsg(coro_running(NULL)));
        CHECK(k >= 0);
    }
}

/* After its script: a task awaits the handles it holds; the main task
 * also waits for the groups and drains the channels. */
static void epilogue(int i)
{
    for (int j = 1; j < w.nt; j++)
        if (w.t[j].h != NULL && w.t[j].spawner == i && w.t[j].group < 0 && !w.t[j].awaiting)
            await_task(i, j, 0);
    if (i != 0)
        return;
    for (int g = 0; g < 2; g++)
        if (!w.g[g].freed)
            wait_group(g);
    for (int ch = 0; ch < NCH; ch++) {
        unsigned char x[ELEM_MAX];

        while (coro_chan_try_recv(w.ch[ch], x) == 0)
            got(0, ch, x);
    }
    w.main_done = 1;
}

static void *task_fn(void *arg)
{
    int i = (int)(uintptr_t)arg;
    const script *s = &prog.s[w.t[i].script];

    CHECK(!w.t[i].started && coro_errmsg(coro_running(NULL)) == NULL); /* a new task */
    w.t[i].started = 1;
    w.t[i].ret = ret_of(i);
    tr(i, "start");
    CHECK(coro_defer(cleaned, arg) == 0);
    if (i == 0) {
        for (int ch = 0; ch < NCH; ch++)
            CHECK(coro_chan_open(&w.ch[ch], elem_size[ch], prog.cap[ch]) == 0);
        for (int g = 0; g < 2; g++)
            CHECK(coro_group_open(&w.g[g].g) == 0);
        for (int k = 1; k < prog.nscript; k++)
            spawn(0, k, prog.s[k].mode);
    }
    for (int k = 0; k < s->len; k++)
        op(i, s->op[k]);
    epilogue(i);
    w.t[i].ended = 1;
    tr(i, "end");
    return w.t[i].ret;
}

/* ---- one input ---- */

static void parse(const uint8_t *data, size_t size)
{
    fuzz_in in = fuzz_start(data, size);
    unsigned b;

    memset(&prog, 0, sizeof prog);
    prog.nscript = 1 + (int)fuzz_below(&in, NSCRIPT);
    prog.seed = fuzz_u8(&in);
    prog.seed |= (unsigned long long)fuzz_u8(&in) << 8;
    b = fuzz_u8(&in);
    prog.flags = CORO_RUN_VIRTUAL_CLOCK | ((b & 1) ? 0 : CORO_RUN_SEEDED);
    for (int ch = 0; ch < NCH; ch++)
        prog.cap[ch] = (b >> (1 + 2 * ch)) & 3;
    prog.permits = 1 + (long)((b >> 7) & 1);
    for (int k = 0; k < prog.nscript; k++) {
        script *s = &prog.s[k];

        b = fuzz_u8(&in);
        s->len = (int)(b & 15) % (NOPS + 1);
        s->mode = (int)(b >> 4) & 3;
        s->copy = (b >> 6) & 1;
        s->named = (b >> 7) & 1;
        for (int j = 0; j < s->len; j++) {
            s->op[j][0] = (uint8_t)fuzz_u8(&in);
            s->op[j][1] = (uint8_t)fuzz_u8(&in);
        }
    }
}

/* Whether an op on channel ch (send or receive) of task b could not
 * complete: the channel is open, its buffer full (send) or empty
 * (receive), and no other blocked task could take the other side. */
static int chan_stuck(int b, int ch, int send)
{
    if (w.closed[ch] || coro_chan_len(w.ch[ch]) != (send ? prog.cap[ch] : 0))
        return 0;
    for (int o = 0; o < w.nt; o++) {
        const inst *t = &w.t[o];

        if (o == b || t->ended)
            continue;
        if ((t->blk == (send ? B_RECV : B_SEND)) && t->barg == ch)
            return 0;
        for (int j = 0; t->blk == B_SELECT && j < t->ncase; j++)
            if (t->cch[j] == ch && t->csend[j] != send)
                return 0;
    }
    return 1;
}

/* Whether task b, blocked when the loop reported a deadlock, could
 * really never go on. A mutex or a permit is held only across a sleep. */
static int stuck(int b)
{
    const inst *t = &w.t[b];

    if (t->wait_seq != 0 || (t->sure && t->blk != B_GROUP)) /* its deadline or */
        return 0;                                           /* cancellation wakes it */
    switch (t->blk) {
    case B_SEND:
    case B_RECV:
        return chan_stuck(b, t->barg, t->blk == B_SEND);
    case B_SELECT:
        for (int j = 0; j < t->ncase; j++)
            if (!chan_stuck(b, t->cch[j], t->csend[j]))
                return 0;
        return 1;
    case B_WG:
        return w.wg_count != 0;
    case B_EVENT:
        return !w.ev_set;
    case B_AWAIT:
        return !all_ended(t->barg);
    case B_GROUP:
        for (int m = 0; m < w.nt; m++)
            if (w.t[m].group == t->barg && !all_ended(m))
                return 1;
        return 0;
    default:
        return 0;
    }
}

/* Checks after coro_run returned rc. */
static void after_run(int rc)
{
    CHECK(rc == 0 || rc == CORO_EERROR || rc == CORO_EDEADLK);
    if (rc == CORO_EERROR) {
        int k = raiser(0, coro_run_error(rc));
        CHECK(k >= 0);
    }
    if (rc == 0)
        CHECK(w.main_done && !w.t[0].raised);
    for (int b = 0; b < w.nt; b++) {
        CHECK(w.t[b].started && w.t[b].cleaned);
        CHECK(rc == CORO_EDEADLK || w.t[b].ended);
        CHECK(rc != CORO_EDEADLK || w.t[b].ended || stuck(b)); /* a real deadlock */
    }
    for (int ch = 0; ch < NCH; ch++) {
        size_t left = 0;

        for (int k = 0; k < w.nv; k++)
            left += w.v[k].ch == ch && w.v[k].state == V_SENT && !w.v[k].got;
        CHECK(coro_chan_len(w.ch[ch]) == left); /* what nobody received is still there */
        CHECK(coro_chan_free(w.ch[ch]) == 0);
    }
    if (rc != CORO_EDEADLK) {
        CHECK(w.mu.holder == NULL && w.mu.q.first == NULL && w.mu_in == 0);
        CHECK(w.sem.count == prog.permits && w.sem.q.first == NULL);
    }
}

static int run_once(int n)
{
    coro_run_options opt = {0, 0, 0, 0, 0, 0};
    int rc;

    memset(&w, 0, sizeof w);
    w.trace = traces[n];
    w.mu_holder = -1;
    coro_mutex_init(&w.mu);
    CHECK(coro_sem_init(&w.sem, prog.permits) == 0);
    coro_wg_init(&w.wg);
    coro_event_init(&w.ev);
    w.t[0].owner = w.t[0].spawner = w.t[0].group = -1;
    w.g[0].first_deadline = w.g[1].first_deadline = CORO_NEVER;
    w.nt = 1;
    opt.flags = prog.flags;
    opt.seed = prog.seed;
    quiet(1);
    rc = coro_run(task_fn, (void *)(uintptr_t)0, NULL, &opt);
    quiet(0);
    after_run(rc);
    if (TRACE_MAX - w.tlen > 32)
        w.tlen += (size_t)snprintf(w.trace + w.tlen, TRACE_MAX - w.tlen, "run %d\n", rc);
    trace_len[n] = w.tlen;
    return rc;
}

static void *fail_fn(void *arg)
{
    coro_error("%s", (const char *)arg);
    return NULL;
}

static void baseline(void)
{
    FUZZ_CHECK(coro_pcall(fail_fn, "baseline", NULL) == CORO_EERROR);
    coro__spares_drain();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (getenv("FUZZ_STDERR") == NULL) {
        saved_err = dup(2);
        null_fd = open("/dev/null", O_WRONLY);
        if (saved_err < 0 || null_fd < 0)
            saved_err = -1;
#ifdef FUZZ_SANITIZER
        if (saved_err >= 0)
            __sanitizer_set_report_fd((void *)(intptr_t)saved_err);
#endif
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long allocs, maps;
    int rc;

    baseline();
    allocs = coro__live_allocs();
    maps = coro__live_maps();
    parse(data, size);
    rc = run_once(0);
    CHECK(run_once(1) == rc);
    if (trace_len[0] != trace_len[1] || memcmp(traces[0], traces[1], trace_len[0]) != 0)
        fprintf(stderr, "first run:\n%.*s\nsecond run:\n%.*s\n", (int)trace_len[0], traces[0],
                (int)trace_len[1], traces[1]);
    CHECK(trace_len[0] == trace_len[1] && memcmp(traces[0], traces[1], trace_len[0]) == 0);
    if (getenv("FUZZ_TRACE") != NULL)
        fprintf(stderr, "%.*s", (int)trace_len[0], traces[0]);
    baseline();
    CHECK(coro__live_allocs() == allocs && coro__live_maps() == maps);
    return 0;
}
