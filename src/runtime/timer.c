/*
 * timer.c - the loop's deadlines: a binary min-heap of coro__timer
 * pointers ordered by (when, seq), each timer knowing its slot so that
 * removal (a wait that ended before its deadline, a cancel storm) is
 * O(log n) too.
 *
 * Lazy re-arming. A task waiting on a socket with a deadline arms its
 * timer, and nearly always the data comes first and the timer is disarmed:
 * two heap operations per wait, each O(log n) with a cache miss per level
 * at thousands of connections (the timers live in their tasks). So a
 * task's wake only marks its timer dead, and arming a timer that is still
 * in the heap at a time no earlier than its slot's key just records the new
 * deadline: the heap is ordered by (key, hseq), which stays valid because
 * the key is never after the real deadline. The debt is paid when such a
 * timer reaches the top (settle): a dead one is removed, a re-armed one
 * re-keyed and sifted down, so the loop only ever sees a true first timer
 * and ties still fire in the order they were set. A timer is removed for
 * real (coro__timer_del) before its memory goes.
 *
 * Alternatives rejected: a timer wheel (O(1) but coarse, and a deadline in
 * the past must fire now, in order); a sorted list (O(n) inserts at 10^6
 * timers); a red-black tree (the same bounds as a heap with a pointer per
 * node more, and the first deadline is all the loop asks for).
 */
#include "sched.h"

static int before(const coro__timer *a, const coro__timer *b)
{
    return a->key < b->key || (a->key == b->key && a->hseq < b->hseq);
}

static void place(coro__loop *l, size_t i, coro__timer *tm)
{
    l->heap[i] = tm;
    tm->index = i + 1;
}

/* The heap's invariants around slot i, where a sift ended (CORO_ASSERTS):
 * the timer knows its slot, its parent is not after it, its children not
 * before it, and its key is never after its real deadline. */
static void check(const coro__loop *l, size_t i)
{
#ifdef CORO_ASSERTS
    const coro__timer *tm = l->heap[i];
    size_t c = 2 * i + 1;

    coro__assert(tm->index == i + 1 && tm->key <= tm->when && l->heap_len <= l->heap_cap);
    coro__assert(i == 0 || !before(tm, l->heap[(i - 1) / 2]));
    coro__assert(c >= l->heap_len || !before(l->heap[c], tm));
    coro__assert(c + 1 >= l->heap_len || !before(l->heap[c + 1], tm));
#else
    (void)l, (void)i;
#endif
}

static void sift_up(coro__loop *l, size_t i)
{
    coro__timer *tm = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(tm, l->heap[parent]))
            break;
        place(l, i, l->heap[parent]);
        i = parent;
    }
    place(l, i, tm);
    check(l, i);
}

static void sift_down(coro__loop *l, size_t i)
{
    coro__timer *tm = l->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && before(l->heap[c + 1], l->heap[c]))
            c++;
        if (!before(l->heap[c], tm))
            break;
        place(l, i, l->heap[c]);
        i = c;
    }
    place(l, i, tm);
    check(l, i);
}

/* Arms tm at `when` (re-arms it if armed). 0 or CORO_ENOMEM. */
int coro__timer_add(coro__loop *l, coro__timer *tm, coro_time when)
{
    if (tm->index != 0 && when >= tm->key) { /* its slot stays valid: O(1) */
        l->timers_live += tm->dead;
        tm->when = when;
        tm->seq = l->timer_seq++;
        tm->dead = 0;
        return 0;
    }
    coro__timer_del(l, tm);
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? 2 * l->heap_cap : 64;
        coro__timer **h = coro__malloc(cap * sizeof *h);

        if (h == NULL)
            return CORO_ENOMEM;
        for (size_t i = 0; i < l->heap_len; i++)
            h[i] = l->heap[i];
        coro__free(l->heap);
        l->heap = h;
        l->heap_cap = cap;
    }
    tm->when = tm->key = when;
    tm->seq = tm->hseq = l->timer_seq++;
    tm->dead = 0;
    l->timers_live++;
    l->heap[l->heap_len++] = tm;
    sift_up(l, l->heap_len - 1);
    return 0;
}

/* Takes tm, which is in the heap, out of it. */
void coro__timer_unlink(coro__loop *l, coro__timer *tm)
{
    size_t i;
    coro__timer *last;

    l->timers_live -= !tm->dead;
    i = tm->index - 1;
    tm->index = 0;
    last = l->heap[--l->heap_len];
    if (i == l->heap_len)
        return;
    place(l, i, last);
    if (i > 0 && before(last, l->heap[(i - 1) / 2]))
        sift_up(l, i);
    else
        sift_down(l, i);
}

/* Pays the top's debt if it has one: a dead timer leaves, a re-armed one
 * moves to its real place. 0 when the top is a true first timer (or the
 * heap is empty). */
static int settle_top(coro__loop *l)
{
    coro__timer *top = l->heap[0];

    if (top->dead) {
        coro__timer_del(l, top);
        return 1;
    }
    if (top->key != top->when || top->hseq != top->seq) {
        top->key = top->when;
        top->hseq = top->seq;
        sift_down(l, 0);
        return 1;
    }
    return 0;
}

/* The first armed timer, every debt above it paid. */
coro__timer *coro__timer_first(coro__loop *l)
{
    if (l->timers_live == 0) { /* only dead ones: clear them out */
        while (l->heap_len > 0)
            coro__timer_del(l, l->heap[0]);
        return NULL;
    }
    while (settle_top(l))
        ;
    return l->heap[0];
}

coro_time coro__timer_next(coro__loop *l, int exact)
{
    coro__timer *first;

    if (exact || l->timers_live == 0) {
        first = coro__timer_first(l);
        return first != NULL ? first->when : CORO_NEVER;
    }
    /* The top's key is no later than any deadline: a re-armed timer on
     * top costs at most one early look, not a sift per re-arm. */
    while (l->heap[0]->dead)
        coro__timer_del(l, l->heap[0]);
    return l->heap[0]->key;
}

/* Fires, in order, every timer due at `now`. A fired timer is disarmed
 * before its callback, which may arm timers (those due now fire too). */
void coro__timer_fire_due(coro__loop *l, coro_time now)
{
    coro__timer *tm;

    while (l->heap_len > 0 && (tm = l->heap[0])->key <= now) {
        if (settle_top(l))
            continue; /* dead, or re-armed for later: not due yet */
        coro__timer_del(l, tm);
        tm->fire(tm);
    }
}

void coro__timer_free_all(coro__loop *l)
{
    while (l->heap_len > 0)
        coro__timer_del(l, l->heap[0]);
    coro__free(l->heap);
    l->heap = NULL;
    l->heap_cap = 0;
}
