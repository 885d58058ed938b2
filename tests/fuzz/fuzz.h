/*
 * fuzz.h - what the fuzz targets share: a cursor over the input that hands
 * out bytes and small integers (zero once the input is used up, so every
 * input is a complete program), and a check that aborts with a message,
 * as libFuzzer expects a finding to do.
 */
#ifndef CORO_FUZZ_H
#define CORO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: called once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct fuzz_in {
    const uint8_t *p, *end;
} fuzz_in;

static inline fuzz_in fuzz_start(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, data + size};
    return in;
}

static inline int fuzz_more(const fuzz_in *in)
{
    return in->p < in->end;
}

static inline unsigned fuzz_u8(fuzz_in *in)
{
    return in->p < in->end ? *in->p++ : 0u;
}

/* A number in [0, n) (n >= 1), from one byte, or two when n > 256. */
static inline unsigned fuzz_below(fuzz_in *in, unsigned n)
{
    unsigned v = fuzz_u8(in);

    if (n > 256)
        v = v << 8 | fuzz_u8(in);
    return v % n;
}

/* A number in [1, 256] for each chunk a stream is delivered in: the
 * sizes cycle through the n bytes at p; with n = 0, the whole stream in one
 * chunk. The stream targets split their input into such sizes and a
 * stream. */
typedef struct fuzz_chunks {
    const uint8_t *p;
    size_t n, i;
} fuzz_chunks;

static inline size_t fuzz_chunk(fuzz_chunks *c, size_t left)
{
    size_t k;

    if (c->n == 0)
        return left;
    k = (size_t)c->p[c->i++ % c->n] + 1;
    return k < left ? k : left;
}

/* Under AddressSanitizer, makes buf[from, to) the only readable bytes of
 * buf[0, cap), as a server's buffer holds what it has received and not
 * used yet: a parser that reads past them is caught, and one that reads
 * before them too, but for the up to 7 bytes that share from's shadow
 * granule. Without ASan, nothing. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
static inline void fuzz_window(const void *buf, size_t cap, size_t from, size_t to)
{
    const char *b = buf;

    ASAN_POISON_MEMORY_REGION(b, cap);
    ASAN_UNPOISON_MEMORY_REGION(b + from, to - from);
}
#else
static inline void fuzz_window(const void *buf, size_t cap, size_t from, size_t to)
{
    (void)buf, (void)cap, (void)from, (void)to;
}
#endif

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
