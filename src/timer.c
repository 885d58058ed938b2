/*
 * timer.c - the loop's deadlines: a binary min-heap of coro__timer
 * pointers ordered by (when, seq), each timer knowing its slot so that
 * removal (a wait that ended before its deadline, a cancel storm) is
 * O(log n) too.
 *
 * Alternatives rejected: a timer wheel (O(1) but coarse, and a deadline in
 * the past must fire now, in order); a sorted list (O(n) inserts at 10^6
 * timers); a red-black tree (the same bounds as a heap with a pointer per
 * node more, and the first deadline is all the loop asks for).
 */
#include "sched.h"

static int before(const coro__timer *a, const coro__timer *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(coro__loop *l, size_t i, coro__timer *tm)
{
    l->heap[i] = tm;
    tm->index = i + 1;
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
}

/* Arms tm at `when` (re-arms it if armed). 0 or CORO_ENOMEM. */
int coro__timer_add(coro__loop *l, coro__timer *tm, coro_time when)
{
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
    tm->when = when;
    tm->seq = l->timer_seq++;
    l->heap[l->heap_len++] = tm;
    sift_up(l, l->heap_len - 1);
    return 0;
}

/* Disarms tm; nothing if it is not armed. */
void coro__timer_del(coro__loop *l, coro__timer *tm)
{
    size_t i;
    coro__timer *last;

    if (tm->index == 0)
        return;
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

coro__timer *coro__timer_first(const coro__loop *l)
{
    return l->heap_len > 0 ? l->heap[0] : NULL;
}

/* Fires, in order, every timer due at `now`. A fired timer is disarmed
 * before its callback, which may arm timers (those due now fire too). */
void coro__timer_fire_due(coro__loop *l, coro_time now)
{
    coro__timer *tm;

    while ((tm = coro__timer_first(l)) != NULL && tm->when <= now) {
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
