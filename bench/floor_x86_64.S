/*
 * floor_x86_64.S - the floor reference of the benchmark: the smallest
 * correct context switch for the System V AMD64 ABI, in two variants.
 *
 *   void floor_switch(void **save_sp (rdi), void *load_sp (rsi))
 *       pushes the six callee-saved general registers, stores rsp in
 *       *save_sp, loads load_sp, pops them and jumps to the saved return
 *       address. Nothing else: no status, no error state, no sanitizer.
 *   void floor_switch_fp(void **save_sp, void *load_sp)
 *       the same, also saving and loading MXCSR and the x87 control word,
 *       as coro and Boost.Context do.
 *
 * A saved context, from the saved sp upward:
 *   floor_switch:     r15 r14 r13 r12 rbx rbp, return address
 *   floor_switch_fp:  MXCSR (4 bytes) x87 CW (2) pad (2), then the same
 *
 * The ABI (System V AMD64, 3.2.1 and 3.2.3): rbx, rbp and r12-r15 are
 * callee-saved; so are the control bits of MXCSR and the x87 control word
 * (rounding, exception masks, precision); everything else is caller-saved
 * and the compiler already assumes a call clobbers it. The direction flag
 * is clear at every call and return, so it needs no saving.
 * Traps:
 *   - Returning: pop + indirect jmp, not ret. A ret after a stack swap
 *     always misses the return-stack predictor (it predicts the other
 *     side's call site); the indirect predictor learns the ping-pong.
 *   - Alignment: the context built by floor.c puts the entry function's
 *     "return address" 8 bytes below a 16-byte boundary, so it starts with
 *     the alignment a call gives.
 *   - No CFI beyond the bare minimum: this is a reference, not a library.
 */
#if defined(__x86_64__)

    .text

    .globl floor_switch
    .hidden floor_switch
    .type floor_switch, @function
    .p2align 4
floor_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %rcx
    jmpq *%rcx
    .cfi_endproc
    .size floor_switch, .-floor_switch

    .globl floor_switch_fp
    .hidden floor_switch_fp
    .type floor_switch_fp, @function
    .p2align 4
floor_switch_fp:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %rcx
    jmpq *%rcx
    .cfi_endproc
    .size floor_switch_fp, .-floor_switch_fp

#endif

    .section .note.GNU-stack, "", @progbits
