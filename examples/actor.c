/*
 * actor.c - an actor: a task that owns some state (a bank account) and is
 * reached only through its mailbox, a channel of messages. A client puts
 * its own reply channel in each request and waits there for the answer, so
 * requests from many clients are handled one at a time, in arrival order,
 * with no lock. A "stop" message ends the actor, which returns its state.
 */
#include <stdio.h>

#include <coro.h>

enum op { DEPOSIT, WITHDRAW, STOP };
static const char *const op_names[] = {"deposit", "withdraw", "stop"};

struct message {
    enum op op;
    long amount;
    coro_chan *reply; /* of struct reply; NULL for STOP */
};

struct reply {
    int ok; /* 0: refused (not enough money) */
    long balance;
};

struct account {
    coro_chan *mailbox;
    long balance;
    int handled;
};

static void *account_actor(void *arg)
{
    struct account *acc = arg;
    struct message m;

    while (coro_chan_recv(acc->mailbox, &m) == 0 && m.op != STOP) {
        struct reply r = {1, 0};

        if (m.op == DEPOSIT)
            acc->balance += m.amount;
        else if (m.op == WITHDRAW && m.amount <= acc->balance)
            acc->balance -= m.amount;
        else if (m.op == WITHDRAW)
            r.ok = 0;
        r.balance = acc->balance;
        acc->handled++;
        coro_chan_send(m.reply, &r);
    }
    return acc;
}

/* A client: a name and its requests (op and amount), ending with STOP. */
struct client {
    const char *name;
    const struct message *script;
    coro_chan *mailbox;
};

static const struct message alice_script[] = {
    {DEPOSIT, 100, NULL}, {WITHDRAW, 30, NULL}, {STOP, 0, NULL}};
static const struct message bob_script[] = {
    {WITHDRAW, 50, NULL}, {DEPOSIT, 20, NULL}, {WITHDRAW, 80, NULL}, {STOP, 0, NULL}};

static void *client(void *arg)
{
    struct client *c = arg;
    coro_chan *reply;
    int i, err;

    if ((err = coro_chan_open(&reply, sizeof(struct reply), 1)) != 0)
        coro_error("coro_chan_open: %s", coro_strerror(err));
    for (i = 0; c->script[i].op != STOP; i++) {
        struct message m = c->script[i];
        struct reply r;

        m.reply = reply;
        if (coro_chan_send(c->mailbox, &m) != 0 || coro_chan_recv(reply, &r) != 0)
            break;
        printf("%-5s %-8s %3ld -> %s, balance %ld\n", c->name, op_names[m.op], m.amount,
               r.ok ? "ok" : "refused", r.balance);
    }
    coro_chan_free(reply);
    return NULL;
}

static void *main_task(void *arg)
{
    struct account acc = {NULL, 0, 0};
    struct client alice = {"alice", alice_script, NULL}, bob = {"bob", bob_script, NULL};
    struct message stop = {STOP, 0, NULL};
    coro_task *actor = NULL, *ta = NULL, *tb = NULL;
    void *out;
    int err;

    (void)arg;
    if ((err = coro_chan_open(&acc.mailbox, sizeof(struct message), 4)) != 0)
        coro_error("coro_chan_open: %s", coro_strerror(err));
    alice.mailbox = bob.mailbox = acc.mailbox;
    if (coro_spawn(&actor, account_actor, &acc, NULL) != 0 ||
        coro_spawn(&ta, client, &alice, NULL) != 0 || coro_spawn(&tb, client, &bob, NULL) != 0)
        coro_error("cannot spawn");

    coro_await(ta, NULL);
    coro_await(tb, NULL);
    coro_chan_send(acc.mailbox, &stop); /* after the clients: no request is lost */
    if (coro_await(actor, &out) == 0) {
        const struct account *final = out;
        printf("actor stopped after %d requests, balance %ld\n", final->handled, final->balance);
    }
    coro_chan_free(acc.mailbox);
    return NULL;
}

int main(void)
{
    int err = coro_run(main_task, NULL, NULL, NULL);

    if (err != 0) {
        fprintf(stderr, "coro_run: %s\n", coro_run_error(err));
        return 1;
    }
    return 0;
}
