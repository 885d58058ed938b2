/*
 * loops.h - the example servers' loop count: SERVER_LOOPS=n (1 to 1024) or
 * SERVER_LOOPS=cpus runs the server on that many loops, one per thread,
 * each accepting its share of the connections (coro_serve with
 * CORO_SERVE_EVERY_LOOP). Unset: one loop.
 */
#ifndef SERVER_LOOPS_H
#define SERVER_LOOPS_H

#include <coro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The loops SERVER_LOOPS asks for into opt->loops: 0, or -1 after saying
 * why the value is bad. */
static int server_loops(const char *prog, coro_run_options *opt)
{
    const char *env = getenv("SERVER_LOOPS");
    char *end;
    long n;

    if (env == NULL)
        return 0;
    if (strcmp(env, "cpus") == 0) {
        opt->loops = CORO_LOOPS_PER_CPU;
        return 0;
    }
    errno = 0;
    n = strtol(env, &end, 10);
    if (end == env || *end != '\0' || errno != 0 || n < 1 || n > 1024) {
        fprintf(stderr, "%s: SERVER_LOOPS=\"%s\": not 1 to 1024 or \"cpus\"\n", prog, env);
        return -1;
    }
    opt->loops = (int)n;
    return 0;
}

#endif
