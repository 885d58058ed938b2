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

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #c);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
