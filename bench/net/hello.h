/*
 * hello.h - what the C reference servers of the network benchmark (the
 * epoll and libuv ones) share: their command line, and what they answer
 * and how they find requests (the same bytes as
 * examples/servers/http_server.c, one answer per complete request head).
 * A header of static functions, so that each server stays one program.
 */
#ifndef BENCH_NET_HELLO_H
#define BENCH_NET_HELLO_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define BUF_SIZE 16384 /* per-connection input and output buffers */

static const char hello[] = "HTTP/1.1 200 OK\r\nServer: coro\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 14\r\n\r\nHello, World!\n";
#define HELLO_LEN (sizeof hello - 1)

/* Answers every complete head in in[0, *in_len), in order, into out after
 * its *out_len bytes, while the answers fit in BUF_SIZE; keeps what is left
 * (a partial head, or heads not yet answered) at the start of in. */
static void answer_heads(char *in, size_t *in_len, char *out, size_t *out_len)
{
    size_t done = 0;
    char *end;

    while (*out_len + HELLO_LEN <= BUF_SIZE &&
           (end = memmem(in + done, *in_len - done, "\r\n\r\n", 4)) != NULL) {
        memcpy(out + *out_len, hello, HELLO_LEN);
        *out_len += HELLO_LEN;
        done = (size_t)(end - in) + 4;
    }
    if (done > 0)
        memmove(in, in + done, *in_len - done);
    *in_len -= done;
}

/* "NAME http|echo PORT": 1 for http, 0 for echo, -1 (usage printed) for
 * anything else. Raises the fd limit to its hard limit: the benchmark's
 * 1,000 connections need more than the default soft 1,024 with room. */
static int serve_mode(int argc, char **argv, const char *name)
{
    struct rlimit rl;

    if (argc != 3 || (strcmp(argv[1], "http") != 0 && strcmp(argv[1], "echo") != 0)) {
        fprintf(stderr, "usage: %s http|echo PORT\n", name);
        return -1;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return strcmp(argv[1], "http") == 0;
}

#endif
