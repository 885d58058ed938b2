/*
 * hello.h - what the C reference servers of the network benchmark (the
 * epoll and libuv ones) answer, and how they find requests: the same bytes
 * as examples/servers/http_server.c, one answer per complete request head.
 * A header of static functions, so that each server stays one program.
 */
#ifndef BENCH_NET_HELLO_H
#define BENCH_NET_HELLO_H

#include <string.h>

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

#endif
