/*
 * x86_64.S - context switch for the System V AMD64 ABI (see src/ctx.h).
 *
 * A saved context is 64 bytes on the coroutine's own stack; coro__ctx holds
 * only the stack pointer. Layout from the saved sp upward:
 *    0  MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes padding
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
 *   - Returning: the switch ends with pop + indirect jmp instead of ret. A
 *     ret after swapping stacks always misses the return-stack predictor
 *     (its prediction is the other coroutine's call site); the indirect
 *     branch predictor learns the ping-pong pattern.
 *   - CFI: the pushes are described, and the layout is the same on both
 *     stacks, so the unwind table is right at every instruction. The entry
 *     trampoline marks rip undefined: backtraces end there.
 */
#if defined(__x86_64__) && !defined(CORO_BACKEND_UCONTEXT)

#if defined(__CET__)
#define CORO_ENDBR endbr64
#else
#define CORO_ENDBR
#endif

    .text

/* void coro__ctx_switch(coro__ctx *from (rdi), coro__ctx *to (rsi)) */
    .globl coro__ctx_switch
    .hidden coro__ctx_switch
    .type coro__ctx_switch, @function
    .p2align 4
coro__ctx_switch:
    .cfi_startproc
    CORO_ENDBR
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
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)

    movq %rsp, (%rdi)          /* from->sp = rsp */
    movq (%rsi), %rsp          /* rsp = to->sp: now on the other stack */

    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
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
    popq %rcx                  /* the return address, see "Returning" */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmpq *%rcx
    .cfi_endproc
    .size coro__ctx_switch, .-coro__ctx_switch

/*
 * void coro__ctx_init(coro__ctx *c (rdi), void *stack_lo (rsi),
 *                     size_t size (rdx), void (*entry)(void *) (rcx),
 *                     void *arg (r8))
 * Builds a saved context whose "return address" is the entry trampoline,
 * with r12 = arg, r13 = entry, rbp = 0 (the end of the frame-pointer chain)
 * and the caller's MXCSR / x87 control word.
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
    movq $0, (%rax)
    stmxcsr (%rax)
    fnstcw 4(%rax)
    movq $0, 8(%rax)           /* r15 */
    movq $0, 16(%rax)          /* r14 */
    movq %rcx, 24(%rax)        /* r13 = entry */
    movq %r8, 32(%rax)         /* r12 = arg */
    movq $0, 40(%rax)          /* rbx */
    movq $0, 48(%rax)          /* rbp */
    leaq coro__ctx_entry(%rip), %rdx
    movq %rdx, 56(%rax)        /* where the first switch "returns" */
    movq %rax, (%rdi)
    ret
    .cfi_endproc
    .size coro__ctx_init, .-coro__ctx_init

/*
 * The first frame of every coroutine. Entered by the first switch's jump
 * with rsp 16-byte aligned; calls entry(arg), which never returns.
 */
    .type coro__ctx_entry, @function
    .p2align 4
coro__ctx_entry:
    .cfi_startproc
    .cfi_undefined %rip        /* outermost frame: backtraces stop here */
    CORO_ENDBR
    movq %r12, %rdi
    callq *%r13
    ud2                        /* entry returned: a bug in coro */
    .cfi_endproc
    .size coro__ctx_entry, .-coro__ctx_entry

#endif

    .section .note.GNU-stack, "", @progbits
