/*
 * fuzz_core.c - the coroutine core as programs read from the input, each
 * result checked against a model of Lua 5.4's semantics as coro.h states
 * them (the header's deliberate differences included).
 *
 * The input is a program for a small interpreter. Up to NSLOT coroutines
 * live in slots; the main coroutine and every coroutine body run the same
 * loop, reading their next action from the one input cursor: create (own
 * or copy stack, named or not, create or wrap), resume, call, yield,
 * raise, pcall a nested run of actions, defer a cleanup (that logs, raises,
 * tries to yield or runs actions of its own), close, destroy, a return.
 * Any action may arm fault injection (coro__fail_after) for its call.
 *
 * The model. Each coroutine has a status, its resumer, its error, a stack
 * of protected frames (the body's base frame and one per coro_pcall, each
 * with the error it saved, the error in flight and whether it runs or
 * unwinds) and its pending cleanups. Control leaves the harness at every
 * call that switches or unwinds, and comes back at an "arrival": a body
 * starts, a yield or a call returns, a cleanup or a pcall's function
 * starts, a pcall returns. Before each such call the model plays what the
 * library must do until the next arrival (whose cleanup runs next, which
 * coroutine dies, where an error lands, what each resume returns) and
 * records that arrival, with every value it must carry; the arrival checks
 * it and then every coroutine's status, error message and value, the
 * running coroutine and isyieldable. The order of cleanups is checked that
 * way one at a time. A call with fault injection armed may also fail
 * cleanly: the model then keeps a second world in which it did (nothing
 * changed), and the arrival decides which one is real. At the end every
 * coroutine is destroyed and nothing coro allocated or mapped may be left.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "coro.h"
#include "fuzz.h"
#include "internal.h"

#define NSLOT 6
#define NCO 40     /* coroutines per input, the main one included */
#define NFRAME 6   /* protected frames per coroutine: the body's and pcalls */
#define NDEFER 16  /* pending cleanups per coroutine */
#define MAXIN 4096 /* bytes of input read */
#define NERR (MAXIN + 2 * NCO)
#define NCLEAN MAXIN
#define STACK_SMALL ((size_t)128 * 1024)

#ifdef CORO_DEFAULT_COPY_STACK
#define COPY_DEFAULT 1 /* make STACK=copy: every coroutine is copy-stack */
#else
#define COPY_DEFAULT 0
#endif

/* ---- the model ---- */

enum { F_RUN, F_RET, F_ERR, F_CLOSE };                 /* a frame runs, or unwinds after ... */
enum { P_NONE, P_RESUME, P_CALL, P_CLOSE, P_DESTROY }; /* a normal coroutine is in */
enum { A_NONE, A_RESUMED, A_RETURN, A_CLEANUP, A_PENTER, A_PRETURN };

typedef struct mframe {
    int base;  /* the body's frame: the coroutine dies when it is reached */
    int mark;  /* pending cleanups when it began */
    int saved; /* the coroutine's error when it began */
    int err;   /* the error in flight (st F_ERR) */
    int st;
    void *ret; /* what its function returned (st F_RET) */
} mframe;

typedef struct mco {
    coro *h; /* NULL once destroyed */
    int status, started, entered, copy, closing, closed, errored;
    int resumer, pend; /* while normal: who resumed it, and in what call */
    int err;           /* its error (coro_errmsg): an index in errs, 0 none */
    void *ud;
    char name[8];
    int nf, nd;
    mframe f[NFRAME];
    int d[NDEFER]; /* pending cleanups, innermost last */
} mco;

/* A point where control comes back to the harness, and what it carries. */
typedef struct arrival {
    int kind, who; /* A_*, and the model coroutine it happens in */
    int rc, chk;   /* a call's result; chk: val must match */
    int id;        /* A_CLEANUP: the cleanup; A_RESUMED: 1 at a body's start */
    void *val;     /* the value passed, returned or the error's value */
} arrival;

typedef struct model {
    mco co[NCO]; /* 0 is the main coroutine */
    int nco, cur;
    int slot[NSLOT]; /* model coroutines in the slots, -1 for none */
    arrival exp;     /* the next arrival */
} model;

typedef struct merr {
    char msg[48];
    void *value;
} merr;

typedef struct mclean {
    int owner, kind;
    unsigned n;
} mclean;

enum { K_LOG, K_RAISE, K_RAISE_VALUE, K_YIELD, K_RUN, NKIND };

static fuzz_in in;
static model m, alt, tmp; /* alt: the world where the armed call failed */
static int have_alt, armed;
static int trace;       /* FUZZ_TRACE set: every arrival is printed */
static merr errs[NERR]; /* append-only for one input; 0 is "no error" */
static int nerr;
static mclean cls[NCLEAN];
static int ncl;
static uintptr_t ntag;
static unsigned nmsg;

static const char msg_nomem[] = "not enough memory";

static void *tag(void)
{
    return (void *)(0x10000 + ++ntag * 16);
}

static int new_err(const char *msg, void *value)
{
    FUZZ_CHECK(nerr < NERR);
    snprintf(errs[nerr].msg, sizeof errs[nerr].msg, "%s", msg);
    errs[nerr].value = value;
    return nerr++;
}

static mco *co(int i)
{
    return &m.co[i];
}

static mframe *top(int i)
{
    return &m.co[i].f[m.co[i].nf - 1];
}

static void expect(int kind, int who, int rc, void *val, int chk, int id)
{
    arrival a = {kind, who, rc, chk, id, val};

    m.exp = a;
}

static void drop(int i)
{
    for (int s = 0; s < NSLOT; s++)
        if (m.slot[s] == i)
            m.slot[s] = -1;
    co(i)->h = NULL;
}

/* With fault injection armed, a switch to copy-stack coroutine `to` may
 * fail for want of a buffer: another copy-stack coroutine's frames may be
 * on the shared stack. */
static int may_fail(int to)
{
    if (!armed || to < 0 || !co(to)->copy)
        return 0;
    for (int j = 1; j < m.nco; j++)
        if (j != to && co(j)->h != NULL && co(j)->copy && co(j)->started &&
            co(j)->status != CORO_DEAD)
            return 1;
    return 0;
}

static void unwind(int x);

/* x, the running coroutine, raises error e to its innermost frame. */
static void raise_in(int x, int e)
{
    mframe *f = top(x);

    f->err = e;
    f->st = F_ERR;
    co(x)->err = 0;
    unwind(x);
}

/* x ended (its base frame was reached): its resumer takes over. */
static void die(int x)
{
    mco *c = co(x), *r = co(c->resumer);
    mframe *b = &c->f[0];
    int failed = b->st == F_ERR, op = r->pend;
    void *val = failed ? errs[b->err].value : b->ret;

    c->status = CORO_DEAD;
    c->nf = 0;
    c->closing = 0;
    c->err = failed ? b->err : 0;
    c->errored |= failed;
    r->status = CORO_RUNNING;
    r->pend = P_NONE;
    m.cur = c->resumer;
    if (op == P_RESUME) {
        expect(A_RETURN, m.cur, failed ? CORO_EERROR : 0, val, 1, 0);
    } else if (op == P_CALL && failed) {
        c->closed = 1; /* coro_call passes the error on, as wrap does */
        if (r->nf == 0)
            expect(A_RETURN, m.cur, CORO_EERROR, NULL, 0, 0);
        else
            raise_in(m.cur, new_err(errs[b->err].msg, errs[b->err].value));
    } else if (op == P_CALL) {
        expect(A_RETURN, m.cur, 0, val, 1, 0);
    } else if (op == P_CLOSE) {
        c->closed = 1;
        expect(A_RETURN, m.cur, failed ? CORO_EERROR : 0, NULL, 0, 0);
    } else {
        FUZZ_CHECK(op == P_DESTROY);
        drop(x);
        expect(A_RETURN, m.cur, 0, NULL, 0, 0);
    }
}

/* x's innermost frame unwinds (or returns): its next pending cleanup
 * runs, or the frame is reached. */
static void unwind(int x)
{
    mco *c = co(x);
    mframe *f = top(x);

    if (c->nd > f->mark) {
        expect(A_CLEANUP, x, 0, NULL, 0, c->d[c->nd - 1]);
    } else if (!f->base) {
        c->nf--;
        c->err = f->st == F_ERR ? f->err : f->saved;
        if (f->st == F_ERR)
            expect(A_PRETURN, x, CORO_EERROR, errs[f->err].value, 1, 0);
        else
            expect(A_PRETURN, x, 0, f->ret, 1, 0);
    } else {
        die(x);
    }
}

/* A function of x returned v: a pcall's (or the body, at the base). */
static void fn_returned(int x, void *v)
{
    mframe *f = top(x);

    f->st = F_RET;
    f->ret = v;
    co(x)->err = 0;
    unwind(x);
}

/* Why the running coroutine cannot resume i (-1: NULL), or 0. */
static int resume_refusal(int i)
{
    if (i < 0)
        return CORO_EINVAL;
    if (co(i)->status == CORO_SUSPENDED)
        return 0;
    return co(i)->status == CORO_DEAD ? CORO_EDEAD : CORO_ENOTSUSP;
}

/* coro_call from x could not resume: the code is raised in x, or returned
 * by a main coroutine outside any pcall. */
static void call_refused(int x, int code, const char *msg)
{
    if (co(x)->nf == 0)
        expect(A_RETURN, x, code, NULL, 0, 0);
    else
        raise_in(x, new_err(msg, NULL));
}

/* Records the world in which the armed call of x failed with
 * CORO_ENOMEM, as the alternative to the one the caller then plays. */
static void fork_nomem(int x, int call)
{
    tmp = m;
    if (call)
        call_refused(x, CORO_ENOMEM, msg_nomem);
    else
        expect(A_RETURN, x, CORO_ENOMEM, NULL, 0, 0);
    alt = m;
    have_alt = 1;
    m = tmp;
}

static void plan_resume(int x, int i, void *v, int op)
{
    int err = resume_refusal(i);
    mco *c;

    if (err != 0) {
        if (op == P_RESUME)
            expect(A_RETURN, x, err, NULL, 0, 0);
        else /* armed calls fail their first allocation: the message's */
            call_refused(x, err, armed ? msg_nomem : coro_strerror(err));
        return;
    }
    if (may_fail(i))
        fork_nomem(x, op == P_CALL);
    c = co(i);
    co(x)->status = CORO_NORMAL;
    co(x)->pend = op;
    c->status = CORO_RUNNING;
    c->resumer = x;
    m.cur = i;
    expect(A_RESUMED, i, 0, v, 1, !c->started);
    if (!c->started) {
        mframe base = {1, 0, c->err, 0, F_RUN, NULL};
        c->started = 1;
        c->nf = 1;
        c->f[0] = base;
    }
}

static void plan_yield(int x, void *w)
{
    mco *c = co(x);
    int r = c->resumer;

    if (x == 0 || c->closing) {
        expect(A_RETURN, x, x == 0 ? CORO_EOUTSIDE : CORO_ECBOUNDARY, NULL, 0, 0);
        return;
    }
    if (may_fail(r))
        fork_nomem(x, 0);
    c->status = CORO_SUSPENDED;
    co(r)->status = CORO_RUNNING;
    co(r)->pend = P_NONE;
    m.cur = r;
    expect(A_RETURN, r, 1, w, 1, 0);
}

/* x closes (op P_CLOSE) or destroys (P_DESTROY) i, suspended mid-body:
 * i runs its pending cleanups, all of them, on its own stack. */
static void enter_close(int x, int i, int op)
{
    mco *c = co(i);

    if (may_fail(i))
        fork_nomem(x, 0);
    co(x)->status = CORO_NORMAL;
    co(x)->pend = op;
    c->status = CORO_RUNNING;
    c->resumer = x;
    c->closing = 1;
    c->nf = 1;
    c->f[0].st = F_CLOSE;
    c->f[0].err = 0;
    c->err = 0;
    m.cur = i;
    unwind(i);
}

static void plan_close(int x, int i, int op)
{
    mco *c = i >= 0 ? co(i) : NULL;
    int rc = 0;

    if (c == NULL)
        rc = CORO_EINVAL;
    else if (i == 0 && op == P_DESTROY)
        rc = CORO_EMAINCO;
    else if (c->status == CORO_RUNNING || c->status == CORO_NORMAL)
        rc = c->status == CORO_RUNNING ? CORO_ECLOSERUN : CORO_ECLOSENORM;
    if (rc != 0 || (op == P_CLOSE && c->closed)) {
        expect(A_RETURN, x, rc, NULL, 0, 0);
        return;
    }
    if (c->status == CORO_SUSPENDED && c->started) {
        enter_close(x, i, op);
        return;
    }
    if (c->status == CORO_DEAD && c->errored && op == P_CLOSE)
        rc = CORO_EERROR;
    c->status = CORO_DEAD;
    c->closed = 1;
    if (op == P_DESTROY)
        drop(i);
    expect(A_RETURN, x, rc, NULL, 0, 0);
}

/* ---- checks ---- */

static void check_err(const coro *h, int e)
{
    const char *msg = coro_errmsg(h);

    if (e == 0) {
        FUZZ_CHECK(msg == NULL && coro_errvalue(h) == NULL);
        return;
    }
    if (msg == NULL || strcmp(msg, errs[e].msg) != 0)
        fprintf(stderr, "error message: \"%s\", the model's: \"%s\"\n", msg ? msg : "(null)",
                errs[e].msg);
    FUZZ_CHECK(msg != NULL && strcmp(msg, errs[e].msg) == 0);
    FUZZ_CHECK(coro_errvalue(h) == errs[e].value);
}

/* Every coroutine against the model. */
static void check_state(void)
{
    int ismain = -1;

    FUZZ_CHECK(coro_running(&ismain) == co(m.cur)->h);
    FUZZ_CHECK(ismain == (m.cur == 0));
    FUZZ_CHECK(coro_isyieldable(NULL) == (m.cur != 0 && !co(m.cur)->closing));
    for (int i = 0; i < m.nco; i++) {
        mco *c = co(i);

        if (c->h == NULL)
            continue;
        if (coro_status(c->h) != c->status)
            fprintf(stderr, "coroutine %d: status %s, the model's %s\n", i,
                    coro_status_name(coro_status(c->h)), coro_status_name(c->status));
        FUZZ_CHECK(coro_status(c->h) == c->status);
        check_err(c->h, c->err);
        FUZZ_CHECK(coro_userdata(c->h) == c->ud && strcmp(coro_name(c->h), c->name) == 0);
        if (c->status != CORO_DEAD)
            FUZZ_CHECK(coro_isyieldable(c->h) == (i != 0 && !c->closing));
    }
}

static const char *const kinds[] = {"none",    "resumed",     "return",
                                    "cleanup", "pcall-enter", "pcall-return"};

static void report(const char *what, const arrival *a)
{
    fprintf(stderr, "%s: %s in %d, rc %d (%s), id %d, value %p%s\n", what, kinds[a->kind], a->who,
            a->rc, coro_errname(a->rc), a->id, a->val, a->chk ? "" : " (not checked)");
}

static int matches(const arrival *e, const arrival *a)
{
    if (e->kind != a->kind || e->who != a->who)
        return 0;
    switch (a->kind) {
    case A_RESUMED:
        return e->val == a->val && e->id == a->id;
    case A_RETURN:
    case A_PRETURN:
        return e->rc == a->rc && (!e->chk || !a->chk || e->val == a->val);
    case A_CLEANUP:
        return e->id == a->id;
    default:
        return e->val == a->val;
    }
}

static void disarm(void)
{
    if (armed)
        coro__fail_after(0);
    armed = 0;
}

static void arm(unsigned n)
{
    coro__fail_after(n);
    armed = 1;
}

/* Whether the harness runs on the stack of coroutine i (its own, or the
 * shared one in copy-stack mode): cleanups run by close must. */
static int on_stack_of(int i)
{
    const coro__stack *st = coro__stack_of(co(i)->h);
    const char *sp = __builtin_frame_address(0);

    return i == 0 || (sp >= (const char *)st->lo && sp < (const char *)st->lo + st->size);
}

/* Control is back in the harness: it must be where the model said. */
static void arrive(int kind, int who, int rc, void *val, int chk, int id)
{
    arrival a = {kind, who, rc, chk, id, val};

    disarm();
    if (trace)
        report("arrival", &a);
    if (!matches(&m.exp, &a)) {
        if (!have_alt || !matches(&alt.exp, &a)) {
            report("expected", &m.exp);
            if (have_alt)
                report("or", &alt.exp);
            report("got", &a);
        }
        FUZZ_CHECK(have_alt && matches(&alt.exp, &a));
        m = alt;
    }
    have_alt = 0;
    m.exp.kind = A_NONE;
    FUZZ_CHECK(on_stack_of(m.cur));
    if (kind == A_CLEANUP) { /* it is off the list; it sees the error in flight */
        mco *c = co(who);
        c->nd--;
        c->err = top(who)->st == F_ERR ? top(who)->err : 0;
    }
    check_state();
}

/* ---- the interpreter ---- */

static void *run(int x);

static int find(const coro *h)
{
    for (int i = 0; i < m.nco; i++)
        if (co(i)->h == h)
            return i;
    FUZZ_CHECK(!"a coroutine the model does not know runs");
    return -1;
}

static void *body(void *arg)
{
    int x = find(coro_running(NULL));
    void *r;

    FUZZ_CHECK(!co(x)->entered);
    co(x)->entered = 1;
    arrive(A_RESUMED, x, 0, arg, 1, 1);
    r = run(x);
    fn_returned(x, r);
    return r;
}

static void *pcall_fn(void *arg)
{
    int x = m.cur;
    void *r;

    arrive(A_PENTER, x, 0, arg, 1, 0);
    r = run(x);
    fn_returned(x, r);
    return r;
}

/* The handle an action names: a slot's coroutine (NULL when the slot is
 * empty), the main one, the running one, or NULL; *who: its model index,
 * -1 for NULL. */
static coro *target(int x, int *who)
{
    unsigned t = fuzz_u8(&in) % (NSLOT + 3);
    int i = t < NSLOT ? m.slot[t] : t == NSLOT ? 0 : t == NSLOT + 1 ? x : -1;

    *who = i;
    return i >= 0 ? co(i)->h : NULL;
}

/* Bits 5-7 of an action's byte: with bit 4 (armed), the allocation to
 * fail (1-8); else variants. */
#define ARMED(b) ((b)&0x10)
#define NTH(b) (1 + ((b) >> 5))

static void act_create(unsigned b)
{
    unsigned s = fuzz_u8(&in) % NSLOT, o = fuzz_u8(&in);
    coro_options opt = CORO_OPTIONS_INIT;
    coro *h = NULL;
    int i = m.nco, want = 0, rc, noopt = ((o >> 2) & 3) == 3;
    char name[8];

    if (m.slot[s] >= 0 || m.nco >= NCO)
        return;
    snprintf(name, sizeof name, "c%d", i % NCO);
    opt.flags = (o & 1) ? CORO_COPY_STACK : 0;
    opt.name = (o & 2) ? name : (o & 0x80) ? "" : NULL;
    opt.user_data = tag();
    opt.stack_size = ((o >> 2) & 3) == 1 ? STACK_SMALL : 0;
    if (((o >> 2) & 3) == 2)
        opt.stack_size = CORO_STACK_MAX + 1;
    if ((o & 0x60) || opt.stack_size > CORO_STACK_MAX)
        want = CORO_EINVAL;
    if (ARMED(b) && want == 0)
        arm(NTH(b));
    if (o & 0x10)
        rc = coro_wrap((o & 0x40) ? NULL : &h, (o & 0x20) ? NULL : body, noopt ? NULL : &opt);
    else
        rc = coro_create((o & 0x40) ? NULL : &h, (o & 0x20) ? NULL : body, noopt ? NULL : &opt);
    if (armed && (rc == CORO_ENOMEM || rc == CORO_EMAPS))
        want = rc;
    disarm();
    FUZZ_CHECK(rc == want);
    if (rc != 0)
        return;
    for (int j = 0; j < m.nco; j++)
        FUZZ_CHECK(co(j)->h == NULL || coro_id(co(j)->h) != coro_id(h));
    FUZZ_CHECK(coro_id(h) != 0 && coro_status(h) == CORO_SUSPENDED);
    memset(co(i), 0, sizeof *co(i));
    co(i)->h = h;
    co(i)->status = CORO_SUSPENDED;
    co(i)->copy = (!noopt && (o & 1)) || COPY_DEFAULT;
    co(i)->ud = noopt ? NULL : opt.user_data;
    if (!noopt && (o & 2))
        memcpy(co(i)->name, name, sizeof name);
    m.slot[s] = i;
    m.nco++;
}

static void act_resume(int x, unsigned b, int call)
{
    int who, rc, pass_out = ARMED(b) || !(b & 0x20);
    void *v = tag(), *out = NULL;
    coro *h = target(x, &who);

    if (ARMED(b))
        arm(call ? 1 : NTH(b)); /* a call's first: the raise's message */
    plan_resume(x, who, v, call ? P_CALL : P_RESUME);
    if (call)
        rc = coro_call(h, v, pass_out ? &out : NULL);
    else
        rc = coro_resume(h, v, pass_out ? &out : NULL);
    arrive(A_RETURN, x, rc, out, pass_out, 0);
}

static void do_yield(int x, unsigned b)
{
    void *w = tag(), *v = NULL;
    int rc;

    if (ARMED(b))
        arm(NTH(b));
    plan_yield(x, w);
    rc = coro_yield(w, &v);
    if (rc == 0)
        arrive(A_RESUMED, x, 0, v, 1, 0);
    else
        arrive(A_RETURN, x, rc, NULL, 0, 0);
}

/* Raises in x, kind 0: a message; 1: a message and a value; 2 and 3: no
 * message, without and with a value. */
static void do_raise(int x, unsigned kind, int arm_it)
{
    unsigned n = ++nmsg;
    void *v = (kind & 1) ? tag() : NULL;
    char msg[16];
    int rc;

    snprintf(msg, sizeof msg, "%s%u", kind == 0 ? "e" : "v", n);
    if (arm_it && kind < 2)
        arm(1); /* the message is a raise's first allocation */
    if (co(x)->nf == 0)
        expect(A_RETURN, x, CORO_ENOHANDLER, NULL, 0, 0);
    else
        raise_in(x, new_err(armed      ? msg_nomem
                            : kind < 2 ? msg
                                       : "(error object is not a string)",
                            v));
    if (kind == 0)
        rc = coro_error("e%u", n);
    else if (kind == 1)
        rc = coro_error_value(v, "v%u", n);
    else
        rc = kind == 2 ? coro_error(NULL) : coro_error_value(v, NULL);
    arrive(A_RETURN, x, rc, NULL, 0, 0); /* when nothing can catch it */
}

static void act_pcall(int x, unsigned b)
{
    void *arg = tag(), *out = NULL;
    mframe f = {0, co(x)->nd, co(x)->err, 0, F_RUN, NULL};
    int rc, pass_out = !(b & 0x20);

    if (co(x)->nf >= NFRAME)
        return;
    co(x)->f[co(x)->nf++] = f;
    expect(A_PENTER, x, 0, arg, 1, 0);
    rc = coro_pcall(pcall_fn, arg, pass_out ? &out : NULL);
    arrive(A_PRETURN, x, rc, out, pass_out, 0);
}

static void cleanup(void *arg);

static void act_defer(int x, unsigned b)
{
    unsigned k = fuzz_u8(&in) % NKIND;
    int id = ncl, rc, was_armed;

    if (co(x)->nd >= NDEFER || ncl >= NCLEAN)
        return;
    cls[id].owner = x;
    cls[id].kind = (int)k;
    cls[id].n = ++nmsg;
    ncl++;
    if (ARMED(b))
        arm(NTH(b));
    rc = coro_defer(cleanup, (void *)(uintptr_t)id);
    was_armed = armed;
    disarm();
    if (co(x)->nf == 0)
        FUZZ_CHECK(rc == CORO_ENOHANDLER);
    else if (!(was_armed && rc == CORO_ENOMEM))
        FUZZ_CHECK(rc == 0);
    if (rc == 0)
        co(x)->d[co(x)->nd++] = id;
    check_state();
}

static void act_close(int x, unsigned b, int destroy)
{
    int who, rc;
    coro *h = target(x, &who);

    if (ARMED(b))
        arm(NTH(b));
    plan_close(x, who, destroy ? P_DESTROY : P_CLOSE);
    rc = destroy ? coro_destroy(h) : coro_close(h);
    arrive(A_RETURN, x, rc, NULL, 0, 0);
}

/* Misuse that changes nothing, names and user data. */
static void act_misc(int x)
{
    unsigned k = fuzz_u8(&in);
    int who;
    coro *h = target(x, &who);

    switch (k % 4) {
    case 0:
        FUZZ_CHECK(coro_status(NULL) == CORO_EINVAL && coro_errmsg(NULL) == NULL);
        FUZZ_CHECK(coro_errvalue(NULL) == NULL && coro_name(NULL) == NULL);
        FUZZ_CHECK(coro_id(NULL) == 0 && coro_userdata(NULL) == NULL);
        FUZZ_CHECK(coro_set_userdata(NULL, NULL) == CORO_EINVAL);
        FUZZ_CHECK(strcmp(coro_status_name(-1), "invalid") == 0);
        break;
    case 1:
        FUZZ_CHECK(coro_pcall(NULL, NULL, NULL) == CORO_EINVAL);
        FUZZ_CHECK(coro_defer(NULL, NULL) == CORO_EINVAL);
        break;
    case 2:
        if (h != NULL) {
            static const char *const names[] = {"suspended", "running", "normal", "dead"};
            FUZZ_CHECK(strcmp(coro_status_name(coro_status(h)), names[co(who)->status]) == 0);
        }
        break;
    default:
        if (h != NULL) {
            co(who)->ud = tag();
            FUZZ_CHECK(coro_set_userdata(h, co(who)->ud) == 0);
        }
        break;
    }
    check_state();
}

/* One action of x. Returns 1 for a return (its value in *ret). */
static int step(int x, void **ret)
{
    unsigned b = fuzz_u8(&in);

    FUZZ_CHECK(m.exp.kind == A_NONE && m.cur == x);
    switch (b & 15) {
    case 0:
        *ret = tag();
        return 1;
    case 1:
        act_create(b);
        break;
    case 2:
    case 3:
    case 13:
        act_resume(x, b, 0);
        break;
    case 4:
        act_resume(x, b, 1);
        break;
    case 5:
    case 6:
        do_yield(x, b);
        break;
    case 7:
        do_raise(x, fuzz_u8(&in) % 4, ARMED(b));
        break;
    case 8:
    case 15:
        act_pcall(x, b);
        break;
    case 9:
    case 10:
        act_defer(x, b);
        break;
    case 11:
    case 12:
        act_close(x, b, (b & 15) == 12);
        break;
    default:
        act_misc(x);
        break;
    }
    return 0;
}

/* Actions of x until a return, whose value it returns. */
static void *run(int x)
{
    void *r = NULL;

    while (!step(x, &r))
        ;
    return r;
}

/* A cleanup: checked to be the one the model expects next, then what its
 * kind says. */
static void cleanup(void *arg)
{
    int id = (int)(uintptr_t)arg, x = cls[id].owner;

    arrive(A_CLEANUP, x, 0, NULL, 0, id);
    switch (cls[id].kind) {
    case K_RAISE:
    case K_RAISE_VALUE:
        do_raise(x, cls[id].kind == K_RAISE ? 0 : 1, 0);
        break;
    case K_YIELD:
        do_yield(x, 0);
        break;
    case K_RUN:
        (void)run(x);
        break;
    default:
        break;
    }
    co(x)->err = 0; /* the loop forgets what the cleanup left */
    unwind(x);
}

/* ---- one input ---- */

static void *fail_fn(void *arg)
{
    coro_error("%s", (const char *)arg);
    return NULL;
}

/* The main coroutine's error as at the start of every input, and the
 * pools emptied, so that what is live can be compared. */
static void baseline(void)
{
    FUZZ_CHECK(coro_pcall(fail_fn, "baseline", NULL) == CORO_EERROR);
    coro__spares_drain();
}

static void start(const uint8_t *data, size_t size)
{
    in = fuzz_start(data, size > MAXIN ? MAXIN : size);
    trace = getenv("FUZZ_TRACE") != NULL;
    memset(&m, 0, sizeof m);
    have_alt = armed = 0;
    nerr = 1;
    ncl = 0;
    nmsg = 0;
    m.nco = 1;
    co(0)->h = coro_running(NULL);
    FUZZ_CHECK(coro_set_userdata(co(0)->h, NULL) == 0);
    memcpy(co(0)->name, "main", 5);
    co(0)->status = CORO_RUNNING;
    co(0)->started = 1;
    co(0)->err = new_err("baseline", NULL);
    for (int s = 0; s < NSLOT; s++)
        m.slot[s] = -1;
    FUZZ_CHECK(coro_id(co(0)->h) != 0);
    check_state();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long allocs, maps;
    void *r;

    baseline();
    allocs = coro__live_allocs();
    maps = coro__live_maps();
    start(data, size);
    while (fuzz_more(&in))
        (void)step(0, &r);
    for (int s = 0; s < NSLOT; s++) {
        int i = m.slot[s];
        coro *h = i >= 0 ? co(i)->h : NULL;

        if (h == NULL)
            continue;
        plan_close(0, i, P_DESTROY);
        arrive(A_RETURN, 0, coro_destroy(h), NULL, 0, 0);
    }
    for (int i = 1; i < m.nco; i++)
        FUZZ_CHECK(co(i)->h == NULL);
    baseline();
    if (coro__live_allocs() != allocs || coro__live_maps() != maps)
        fprintf(stderr, "leak: %ld allocations, %ld mappings\n", coro__live_allocs() - allocs,
                coro__live_maps() - maps);
    FUZZ_CHECK(coro__live_allocs() == allocs && coro__live_maps() == maps);
    return 0;
}
