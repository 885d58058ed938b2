/*
 * x86_64.S - context switch for the System V AMD64 ABI (see src/ctx.h).
 *
 * A saved context is 64 bytes on the coroutine's own stack; coro__ctx holds
 * only the stack pointer. Layout from the saved sp upward:
 *    0  MXCSR (4 bytes), x87 control word (2 bytes), how to resume it
 *       (2 bytes: 0 by ret, all ones by jmp; see "Returning")
 *    8  r15   16 r14   24 r13   32 r12   40 rbx   48 rbp
 *   56  return address
 *
 * What is saved and why (System V AMD64 ABI, sections 3.2.1 and 3.2.3):
 *   - rbx, rbp, r12-r15 are callee-saved ("belong to the calling function").
 *     rsp is kept in coro__ctx. Everything else is caller-saved, and the
 *     compiler already assumes a call clobbers it.
 *   - The control bits of MXCSR and the x87 control word are callee-saved
 *     too (rounding mode, exception masks, precision). The status flags in
 *     MXCSR are caller-saved, but saving the whole register is one
 *     instruction. So fesetround() inside one coroutine does not leak into
 *     another.
 *   - The direction flag is clear on entry and exit of every function, so
 *     it needs no saving.
 * Traps:
 *   - Alignment: at a function's entry rsp + 8 must be a multiple of 16.
 *     coro__ctx_init aligns the top of the stack down to 16 and builds the
 *     frame so the entry trampoline starts with rsp % 16 == 0; its call
 *     then gives the body the alignment the ABI promises (SSE movaps on
 *     locals would fault otherwise).
 *   - Returning: after a switch, the resumed side continues at the address
 *     its own save left on its stack, and how it gets there decides what
 *     the return-stack predictor (RSB) does next. A context saved by a call
 *     (coro__ctx_switch, coro__ctx_jump) has that call's entry on the RSB,
 *     so coro__ctx_switch resumes it by ret: ret pops the entry the
 *     switching side's own call to coro__ctx_switch pushed, which is the
 *     right one when both sides switch from the same call site (every task
 *     parks in coro__switch_away), and the RSB stays in step with the
 *     stack. Resuming by pop + jmp instead (the first version) left that
 *     entry behind, and every return after the switch missed: a channel
 *     ping-pong took 15-25% longer.
 *     A context saved without a call (the resume / yield fast paths, an
 *     idle worker's coro__ctx_park, a new coroutine's first frame) has no
 *     entry on the RSB, and its continuation is not a return address:
 *     resuming it by ret would pop and miss an entry of the switching
 *     side's, which that side's own returns need when it is resumed in
 *     turn. Such a context is marked, and coro__ctx_switch resumes it by
 *     pop + jmp, which the indirect-branch predictor learns per site.
 *     That is what makes a spawn + await free of mispredicted returns: the
 *     awaiting task parks by a call (its RSB entries stay), the idle worker
 *     it hands off to is entered by a jmp and returns nothing, and when the
 *     worker parks again by coro__ctx_park (entered by a jmp, not a call)
 *     the ret back into the awaiter pops the awaiter's own entry; 30% off
 *     spawn + await (69 -> 48 ns). The last switch of a dying coroutine
 *     (coro__ctx_jump) and the fast paths always leave by pop + jmp.
 *   - CFI: the pushes are described, and the layout is the same on both
 *     stacks, so the unwind table is right at every instruction. The entry
 *     trampoline marks rip undefined: backtraces end there.
 */
#include "config.h"

#if defined(__x86_64__) && !defined(CORO_BACKEND_UCONTEXT)

#if defined(__CET__)
#define CORO_ENDBR endbr64
#else
#define CORO_ENDBR
#endif

    .text

/*
 * Saves the callee-saved registers and the floating-point control state on
 * the current stack, marked with \kind (how to resume it: 0 by ret, -1 by
 * jmp), and its stack pointer in \from's coro__ctx, then loads \to's and
 * pops the same layout (see the top of this file). What is left on the
 * stack is the continuation address, which the user of the macro pops and
 * jumps to, or returns to; with \test, ZF is clear when \to's context is
 * to be resumed by jmp. \from and \to point at a coro__ctx (or at a coro,
 * whose ctx comes first: CORO__OFF_SP is 0).
 */
.macro CORO_SWAP from, to, kind, test=0
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    pushq $\kind
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (\from)         /* from->sp = rsp */
    movq (\to), %rsp           /* rsp = to->sp: now on the other stack */
    /* The frame is now the saved context's, which has this layout whoever
     * saved it, with its continuation as the return address. */
    .cfi_def_cfa_offset 64
    .cfi_offset %rip, -8
    .cfi_offset %rbp, -16
    .cfi_offset %rbx, -24
    .cfi_offset %r12, -32
    .cfi_offset %r13, -40
    .cfi_offset %r14, -48
    .cfi_offset %r15, -56
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    .if \test
    testb $1, 6(%rsp)
    .endif
    leaq 8(%rsp), %rsp         /* not addq: it would change the flags */
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
.endm

/* Resumes the context on the stack by ret or by pop + jmp, as it is
 * marked (see "Returning"). */
.macro CORO_RESUME_BY_KIND
    jnz 1f
    ret
1:  popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmpq *%rcx
.endm

/* void coro__ctx_switch(coro__ctx *from (rdi), coro__ctx *to (rsi))
 * Aligned to a cache line: it is on every switch, and where its few
 * branches fell moved a channel ping-pong by 8%. */
    .globl coro__ctx_switch
    .hidden coro__ctx_switch
    .type coro__ctx_switch, @function
    .p2align 6
coro__ctx_switch:
    .cfi_startproc
    CORO_ENDBR
    CORO_SWAP %rdi, %rsi, 0, 1
    CORO_RESUME_BY_KIND
    .cfi_endproc
    .size coro__ctx_switch, .-coro__ctx_switch

/* coro__ctx_park(coro__ctx *from (rdi), coro__ctx *to (rsi)): the same for
 * a context saved without a call. Entered by a jmp, with the continuation
 * already pushed (coro__ctx_park_here in src/ctx.h), and saved marked to be
 * resumed by jmp. */
    .globl coro__ctx_park
    .hidden coro__ctx_park
    .type coro__ctx_park, @function
    .p2align 4
coro__ctx_park:
    .cfi_startproc
    CORO_ENDBR
    CORO_SWAP %rdi, %rsi, -1, 1
    CORO_RESUME_BY_KIND
    .cfi_endproc
    .size coro__ctx_park, .-coro__ctx_park

/* void coro__ctx_jump(coro__ctx *from (rdi), coro__ctx *to (rsi)): the
 * same, left by pop + jmp (see "Returning"). */
    .globl coro__ctx_jump
    .hidden coro__ctx_jump
    .type coro__ctx_jump, @function
    .p2align 4
coro__ctx_jump:
    .cfi_startproc
    CORO_ENDBR
    CORO_SWAP %rdi, %rsi, 0
    popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmpq *%rcx
    .cfi_endproc
    .size coro__ctx_jump, .-coro__ctx_jump

/*
 * void coro__ctx_init(coro__ctx *c (rdi), void *stack_lo (rsi),
 *                     size_t size (rdx), void (*entry)(void *) (rcx),
 *                     void *arg (r8))
 * Builds a saved context whose "return address" is the entry trampoline,
 * with r12 = arg, r13 = entry, rbp = 0 (the end of the frame-pointer chain)
 * and the caller's MXCSR / x87 control word, marked to be resumed by jmp.
 */
    .globl coro__ctx_init
    .hidden coro__ctx_init
    .type coro__ctx_init, @function
    .p2align 4
coro__ctx_init:
    .cfi_startproc
    CORO_ENDBR
    leaq (%rsi,%rdx), %rax
    andq $-16, %rax            /* top of stack, 16-byte aligned */
    subq $64, %rax             /* room for one saved context */
    movq $-1, (%rax)           /* resumed by jmp: no call saved it */
    stmxcsr (%rax)
    fnstcw 4(%rax)
    movq $0, 8(%rax)           /* r15 */
    movq $0, 16(%rax)          /* r14 */
    movq %rcx, 24(%rax)        /* r13 = entry */
    movq %r8, 32(%rax)         /* r12 = arg */
    movq $0, 40(%rax)          /* rbx */
    movq $0, 48(%rax)          /* rbp */
    leaq coro__ctx_start(%rip), %rdx
    movq %rdx, 56(%rax)        /* where the first switch "returns" */
    movq %rax, (%rdi)
    ret
    .cfi_endproc
    .size coro__ctx_init, .-coro__ctx_init

/*
 * The first frame of every coroutine. Entered by the first switch's jump
 * (at coro__ctx_start) with rsp 16-byte aligned; calls entry(arg), which
 * never returns. The nop before the start is for debuggers: they look up
 * the function of a return address by the byte before it, which must be in
 * this function, not in the one above.
 */
    .type coro__ctx_entry, @function
    .p2align 4
coro__ctx_entry:
    .cfi_startproc
    .cfi_undefined %rip        /* outermost frame: backtraces stop here */
    nop
coro__ctx_start:
    CORO_ENDBR
    movq %r12, %rdi
    callq *%r13
    ud2                        /* entry returned: a bug in coro */
    .cfi_endproc
    .size coro__ctx_entry, .-coro__ctx_entry


#ifdef CORO__ASM_FASTPATH
/*
 * The fast paths of coro_resume and coro_yield (see src/config.h): the
 * checks, the bookkeeping of src/coro.c's enter() / coro_yield and the
 * switch, fused in one function each. Anything but the common case jumps,
 * arguments untouched, to the C version (coro__resume_slow,
 * coro__yield_slow), which is the reference for what these do.
 *
 * Why assembly: each side of a round trip returns to a different call site,
 * and a `ret` consults the return-stack predictor, whose top entry is the
 * other side's call. So both functions leave by `pop; jmp *`, predicted per
 * site by the indirect-branch predictor; the C helpers they call are
 * balanced call/ret pairs. With C functions around the switch each round
 * trip took two mispredicted returns, most of its time.
 *
 * A context saved here has the layout coro__ctx_switch uses (the
 * continuation label is its "return address"), so either can switch to a
 * context the other saved. The values the continuation needs (co and out,
 * or cur and in) are pushed below it and popped after the switch back.
 */

/* Saves the running context into the coroutine at \from and continues at
 * \to's; execution comes back at label 1 when \from is switched to. The
 * unwind rules from the swap to the jump describe the other side's frame
 * (see CORO_SWAP); label 1 is back in this function's. */
.macro CORO_SWITCH from, to
    .cfi_remember_state
    leaq 1f(%rip), %r8
    pushq %r8
    .cfi_adjust_cfa_offset 8
    CORO_SWAP \from, \to, -1
    popq %r8
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %r8
    jmpq *%r8
    .cfi_restore_state
    nop                        /* never run: for debuggers, see coro__ctx_entry */
1:
.endm

/* The calling thread's coro__thread (initial-exec TLS) into \reg. */
.macro CORO_TLS reg
    movq coro__tls@gottpoff(%rip), \reg
    movq %fs:(\reg), \reg
.endm

/*
 * int coro_resume(coro *co (rdi), void *in (rsi), void **out (rdx))
 * int coro_call(coro *gen (rdi), void *in (rsi), void **out (rdx))
 * The same code; they differ in what follows a refusal (\slow) and a death
 * (\dead: coro_call passes an error on).
 */
.macro CORO_RESUME name, slow, dead
    .globl \name
    .type \name, @function
    .p2align 4
\name:
    .cfi_startproc
    CORO_ENDBR
    testq %rdi, %rdi
    jz \slow
    CORO_TLS %rax                             /* t */
    cmpq %rax, CORO__OFF_THREAD(%rdi)
    jne \slow
    cmpl $CORO__S_SUSPENDED, CORO__OFF_STATUS(%rdi)
    jne \slow
    testl $(CORO__F_COPY | CORO__F_WORKER), CORO__OFF_FLAGS(%rdi)
    jz 3f                                     /* the common case: neither */
    testl $CORO__F_WORKER, CORO__OFF_FLAGS(%rdi)
    jnz \slow                                 /* a task's: the C path refuses */
    cmpq %rdi, CORO__OFF_OWNER(%rax)          /* copy mode: its frames must be on */
    jne \slow                                 /* the shared stack, or the C path */
3:                                            /* copies them back */
    movq %rsi, CORO__OFF_TRANSFER(%rdi)       /* co->transfer = in */
    movq CORO__OFF_CURRENT(%rax), %rcx        /* cur = t->current */
    movq %rcx, CORO__OFF_RESUMER(%rdi)        /* co->resumer = cur */
    movl $CORO__S_NORMAL, CORO__OFF_STATUS(%rcx)
    movl $CORO__S_RUNNING, CORO__OFF_STATUS(%rdi)
    movq %rdi, CORO__OFF_CURRENT(%rax)        /* t->current = co */
    pushq %rdx
    .cfi_adjust_cfa_offset 8
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    CORO_SWITCH %rcx, %rdi
    popq %rdi                                 /* back: co yielded or died */
    .cfi_adjust_cfa_offset -8
    popq %rdx
    .cfi_adjust_cfa_offset -8
    testq %rdx, %rdx
    jz 2f
    movq CORO__OFF_TRANSFER(%rdi), %rax       /* *out = co->transfer */
    movq %rax, (%rdx)
2:  cmpl $CORO__S_SUSPENDED, CORO__OFF_STATUS(%rdi)
    jne \dead                                 /* releases the stack */
    movl $1, %eax
    popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmpq *%rcx
    .cfi_endproc
    .size \name, .-\name
.endm

    CORO_RESUME coro_resume, coro__resume_slow, coro__resume_dead
    CORO_RESUME coro_call, coro__call_slow, coro__call_dead

/* int coro_yield(void *out (rdi), void **in (rsi)) */
    .globl coro_yield
    .type coro_yield, @function
    .p2align 4
coro_yield:
    .cfi_startproc
    CORO_ENDBR
    CORO_TLS %rax                             /* t */
    testq %rax, %rax
    jz coro__yield_slow
    movq CORO__OFF_CURRENT(%rax), %rcx        /* cur */
    testl $(CORO__F_MAIN | CORO__F_NOYIELD), CORO__OFF_FLAGS(%rcx)
    jnz coro__yield_slow
    movq CORO__OFF_RESUMER(%rcx), %rdx        /* r */
    testl $CORO__F_COPY, CORO__OFF_FLAGS(%rdx)
    jz 4f
    cmpq %rdx, CORO__OFF_OWNER(%rax)
    jne coro__yield_slow
4:
    movq %rdi, CORO__OFF_TRANSFER(%rcx)       /* cur->transfer = out */
    movl $CORO__S_SUSPENDED, CORO__OFF_STATUS(%rcx)
    movl $CORO__S_RUNNING, CORO__OFF_STATUS(%rdx)
    movq %rdx, CORO__OFF_CURRENT(%rax)        /* t->current = r */
    pushq %rsi
    .cfi_adjust_cfa_offset 8
    pushq %rcx
    .cfi_adjust_cfa_offset 8
    CORO_SWITCH %rcx, %rdx
    popq %rdi                                 /* back: resumed or closed */
    .cfi_adjust_cfa_offset -8
    popq %rsi
    .cfi_adjust_cfa_offset -8
    testl $CORO__F_CLOSING, CORO__OFF_FLAGS(%rdi)
    jnz 3f
    testq %rsi, %rsi
    jz 2f
    movq CORO__OFF_TRANSFER(%rdi), %rax       /* *in = cur->transfer */
    movq %rax, (%rsi)
2:  xorl %eax, %eax
    popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmpq *%rcx
3:  .cfi_adjust_cfa_offset 8
    .cfi_offset %rip, -8
    movl $1, %esi                             /* CORO__UNWIND_CLOSE */
    jmp coro__throw                           /* coro__throw(cur, close) */
    .cfi_endproc
    .size coro_yield, .-coro_yield
#endif /* CORO__ASM_FASTPATH */

#endif

    .section .note.GNU-stack, "", @progbits
