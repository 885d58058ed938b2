/*
 * ctx.h - the context-switch contract every architecture file provides.
 *
 * A context is the machine state a suspended coroutine needs to continue: on
 * the assembly backends just its saved stack pointer, because everything else
 * lives on its own stack.
 *
 *   void coro__ctx_init(coro__ctx *c, void *stack_lo, size_t size,
 *                       void (*entry)(void *), void *arg);
 *       Prepares c so that the first switch to it calls entry(arg) on the
 *       stack [stack_lo, stack_lo + size), 16-byte aligned, with the
 *       creator's floating-point control state. entry must never return.
 *
 *   void coro__ctx_switch(coro__ctx *from, coro__ctx *to);
 *       Saves the callee-saved registers of the ABI and the floating-point
 *       control state (x86-64: MXCSR and the x87 control word; aarch64:
 *       FPCR; riscv64: fcsr) into from, loads them from to, and continues
 *       where to was saved. Caller-saved registers are the compiler's
 *       business: the switch is an ordinary call to it.
 *
 * The backends:
 *   arch/x86_64.S   System V AMD64 (CORO_BACKEND_ASM on x86-64)
 *   arch/aarch64.S  AAPCS64 (CORO_BACKEND_ASM on aarch64)
 *   arch/riscv64.S  RISC-V LP64D on RV64GC (CORO_BACKEND_ASM on riscv64
 *                   with the D extension)
 *   arch/ucontext.c portable fallback on getcontext/makecontext/swapcontext,
 *                   chosen with CORO_BACKEND_UCONTEXT (make BACKEND=ucontext)
 *                   or on any other architecture.
 *
 * The first frame of a coroutine is the backend's entry trampoline, whose
 * unwind info marks the return address undefined, so debuggers' and
 * profilers' backtraces end cleanly there.
 */
#ifndef CORO_CTX_H
#define CORO_CTX_H

#include <stddef.h>

#include "config.h"

#if defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_flen) && __riscv_flen >= 64
#define CORO__ARCH_RISCV64 1 /* the condition arch/riscv64.S is built under */
#endif
#if !defined(CORO_BACKEND_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__) &&            \
    !defined(CORO__ARCH_RISCV64)
#define CORO_BACKEND_UCONTEXT 1
#endif

#ifdef CORO_BACKEND_UCONTEXT
#include <ucontext.h>
typedef struct coro__ctx {
    ucontext_t uc;
    void (*entry)(void *); /* what the first switch calls, and with what */
    void *arg;
} coro__ctx;
#else
typedef struct coro__ctx {
    void *sp; /* the saved stack pointer; the registers sit above it */
} coro__ctx;
#endif

void coro__ctx_init(coro__ctx *c, void *stack_lo, size_t size, void (*entry)(void *), void *arg);
void coro__ctx_switch(coro__ctx *from, coro__ctx *to);

/* coro__ctx_switch for a switch that is never returned from (a coroutine's
 * last): x86-64 leaves it by an indirect jump instead of a return (see
 * "Returning" in arch/x86_64.S); elsewhere it is the same function. */
#if defined(__x86_64__) && !defined(CORO_BACKEND_UCONTEXT)
void coro__ctx_jump(coro__ctx *from, coro__ctx *to);
#else
#define coro__ctx_jump coro__ctx_switch
#endif

/*
 * x86-64 only (not under ASan or TSan, whose switches are announced in
 * switch.c):
 *
 *   coro__ctx_park_here(coro__ctx *from, coro__ctx *to)
 *       coro__ctx_switch made inline and without a call: saves the running
 *       context into from, marked to be resumed by a jump to the code right
 *       after this statement, and continues at to. Nothing is pushed on the
 *       return-stack predictor, so the ret that resumes `to` (saved by a
 *       call to coro__ctx_switch) pops to's own entry and is predicted (see
 *       "Returning" in arch/x86_64.S). For a coroutine that suspends in its
 *       outermost loop and has no frame to return to: an idle worker.
 *
 * The statement clears 128 bytes below the stack pointer first (the red
 * zone a leaf function may keep data in), pushes its continuation and
 * jumps to coro__ctx_park, which saves the callee-saved registers; every
 * other register may be changed by whatever runs until `from` is resumed,
 * so all are declared clobbered.
 */
#if defined(__x86_64__) && !defined(CORO_BACKEND_UCONTEXT) && !defined(CORO__ANNOUNCE)
#define CORO__CTX_PARK 1
#ifdef __AVX512F__
#define CORO__CLOBBER_AVX512                                                                       \
    , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",    \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5",  \
        "k6", "k7"
#else
#define CORO__CLOBBER_AVX512
#endif
void coro__ctx_park(coro__ctx *from, coro__ctx *to);
static inline __attribute__((always_inline)) void coro__ctx_park_here(coro__ctx *from,
                                                                      coro__ctx *to)
{
    __asm__ volatile("subq $128, %%rsp\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "jmp coro__ctx_park\n\t"
                     "1:\n\t"
                     "addq $128, %%rsp"
                     : "+D"(from), "+S"(to)
                     :
                     : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0",
                       "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st", "st(1)", "st(2)",
                       "st(3)", "st(4)", "st(5)", "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3",
                       "mm4", "mm5", "mm6", "mm7" CORO__CLOBBER_AVX512);
}
#endif

/* The stack pointer of a saved context (copy-stack mode saves the bytes
 * from there to the top), and whether the backend can tell it. */
#ifdef CORO_BACKEND_UCONTEXT
void *coro__ctx_sp(const coro__ctx *c);
int coro__ctx_sp_known(void);
#else
static inline void *coro__ctx_sp(const coro__ctx *c)
{
    return c->sp;
}
static inline int coro__ctx_sp_known(void)
{
    return 1;
}
#endif

#endif /* CORO_CTX_H */
