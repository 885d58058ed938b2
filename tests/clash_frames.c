/*
 * clash_frames.c - frames far larger than the guard region, compiled with
 * -fstack-clash-protection (the Makefile builds this file alone with it):
 * the compiler touches every page of such a frame in order, from the top,
 * so an overflow reaches the guard whatever the frame's size, which is
 * what coro's header tells users with large frames to do. test_stack.c
 * runs them.
 */
#include <stddef.h>

#include "clash_frames.h"

/* gcc before 14 accepts the flag on RISC-V but emits no probes. */
#if defined(__riscv) && !defined(__clang__) && __GNUC__ < 14
const int clash_frames_probed = 0;
#else
const int clash_frames_probed = 1;
#endif

#define FRAME(name, size)                                                                          \
    __attribute__((noinline)) static int name(int x)                                               \
    {                                                                                              \
        volatile char big[size];                                                                   \
                                                                                                   \
        __asm__ volatile("" : : "r"(big) : "memory");                                              \
        big[0] = (char)x; /* the lowest byte first */                                              \
        big[(size)-1] = (char)x;                                                                   \
        return big[0] + big[(size)-1];                                                             \
    }

FRAME(frame_1m, (size_t)1 << 20)
FRAME(frame_16m, (size_t)16 << 20)

int clash_frame(int which)
{
    return which == 0 ? frame_1m(which) : frame_16m(which);
}
