/*
 * handle.c - task handles: what coro_spawn gives and coro_await, coro_cancel
 * and the names take.
 *
 * Design. A handle is not the task record's address but a slot's index and
 * a generation, packed in the pointer's bits. Slots live in a process-wide
 * table whose segments are never freed, so any handle coro ever gave out
 * can be looked up safely: one that has ended (awaited, or its spawner
 * finished) or one of a run that ended finds a slot whose generation
 * differs (or no slot), and the call returns CORO_EINVAL instead of
 * touching freed memory. A slot names the loop that has it, and only that
 * loop resolves it: it alone changes the slot and the record, so a handle
 * used on another loop or thread is refused without a read of a record
 * that loop may be rewriting. A record keeps its slot
 * while it waits on its loop's spare list: ending a handle bumps the slot's
 * generation, and the record's next task takes the new one. Only a record
 * freed for good gives its slot back, to its loop's free list, and a loop
 * that ends gives its free slots to the process's list.
 *
 * Cost: a slot lookup per await (a load of the segment, one of the slot,
 * compares), and 24 bytes per task of each loop's peak, kept for the life
 * of the process. A generation wraps after 2^32 tasks on one slot; a stale
 * handle kept that long and used at that very moment is the only one not
 * caught.
 *
 * Rejected: handles as record addresses checked against a set of live
 * ones (a hash lookup on every spawn and await); records that are never
 * freed, as Go keeps its goroutine descriptors (800 bytes per task of the
 * peak kept forever).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched.h"

#define GRAB 64 /* slots a loop takes from the process's list at once */

coro__slot *coro__segs[CORO__SEGS]; /* set once each, under `lock` (atomic) */
static unsigned nsegs;              /* segments made (under `lock`) */
static unsigned carved;             /* slots of the last segment handed out */
static unsigned free_head;          /* the process's free slots (under `lock`) */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static coro__slot *slot_at(unsigned i)
{
    return coro__slot_at(i);
}

/* Takes up to GRAB slots for l from the process's list or a new segment;
 * 0, or CORO_ENOMEM. */
static int refill(coro__loop *l)
{
    unsigned n = 0;

    pthread_mutex_lock(&lock);
    while (n < GRAB && free_head != 0) {
        coro__slot *s = slot_at(free_head);
        unsigned next = s->next;
        s->next = l->slot_free;
        l->slot_free = free_head;
        free_head = next;
        n++;
    }
    while (n < GRAB) {
        if (nsegs == 0 || carved == CORO__SEG_SLOTS) {
            coro__slot *seg;
            if (nsegs == CORO__SEGS || (seg = calloc(CORO__SEG_SLOTS, sizeof *seg)) == NULL)
                break; /* the process's table: never freed, not counted */
            __atomic_store_n(&coro__segs[nsegs++], seg, __ATOMIC_RELEASE);
            carved = nsegs == 1; /* slot 0 is never used: no handle is 0 */
        }
        unsigned i = ((nsegs - 1) << CORO__SEG_BITS) | carved++;
        slot_at(i)->next = l->slot_free;
        l->slot_free = i;
        n++;
    }
    pthread_mutex_unlock(&lock);
    return n > 0 ? 0 : CORO_ENOMEM;
}

int coro__slot_take(coro__loop *l, coro_task *t)
{
    coro__slot *s;

    if (l->slot_free == 0 && refill(l) != 0)
        return CORO_ENOMEM;
    t->slot = l->slot_free;
    t->sp = s = slot_at(t->slot);
    l->slot_free = s->next;
    __atomic_store_n(&s->task, t, __ATOMIC_RELAXED);
    __atomic_store_n(&s->loop, l, __ATOMIC_RELAXED);
    t->h = coro__handle_of(t->slot, s->gen);
    return 0;
}

void coro__slot_give(coro__loop *l, coro_task *t)
{
    coro__slot *s = t->sp;

    __atomic_store_n(&s->task, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&s->gen, s->gen + 1, __ATOMIC_RELAXED);
    s->next = l->slot_free;
    l->slot_free = t->slot;
}

void coro__slots_end(coro__loop *l)
{
    if (l->slot_free == 0)
        return;
    pthread_mutex_lock(&lock);
    while (l->slot_free != 0) {
        coro__slot *s = slot_at(l->slot_free);
        unsigned next = s->next;
        s->next = free_head;
        free_head = l->slot_free;
        l->slot_free = next;
    }
    pthread_mutex_unlock(&lock);
}
