/*
 * aarch64.S - context switch for AAPCS64 (see src/ctx.h).
 *
 * A saved context is 176 bytes on the coroutine's own stack; coro__ctx holds
 * only the stack pointer. Layout from the saved sp upward:
 *     0 x19 x20   16 x21 x22   32 x23 x24   48 x25 x26   64 x27 x28
 *    80 x29 (fp) x30 (lr)
 *    96 d8 d9   112 d10 d11   128 d12 d13   144 d14 d15
 *   160 FPCR    168 padding (sp stays 16-byte aligned)
 *
 * What is saved and why (Procedure Call Standard for the Arm 64-bit
 * Architecture, 6.1.1 and 6.1.2):
 *   - x19-x28 are callee-saved; x29 is the frame pointer and x30 the link
 *     register, which holds where the switch returns to.
 *   - Only the low 64 bits (d8-d15) of v8-v15 are callee-saved.
 *   - FPCR (rounding mode, flush-to-zero, trap enables) is callee-saved
 *     state like MXCSR on x86-64: each coroutine keeps its own. FPSR holds
 *     cumulative status flags and is not preserved across calls.
 * Traps:
 *   - sp must be 16-byte aligned whenever it is used to access memory;
 *     coro__ctx_init aligns the top down to 16 and the frame is 176 bytes.
 *   - The switch returns with "br x30" rather than "ret": ret consults the
 *     return-address predictor, whose prediction is the other coroutine's
 *     call site.
 *   - The entry trampoline marks x30 undefined in its CFI so backtraces end
 *     there, and starts with x29 = 0 so frame-pointer walks end too.
 */
#if defined(__aarch64__) && !defined(CORO_BACKEND_UCONTEXT)

    .text

/* void coro__ctx_switch(coro__ctx *from (x0), coro__ctx *to (x1)) */
    .globl coro__ctx_switch
    .hidden coro__ctx_switch
    .type coro__ctx_switch, %function
    .p2align 4
coro__ctx_switch:
    .cfi_startproc
    sub sp, sp, #176
    .cfi_adjust_cfa_offset 176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    .cfi_rel_offset x29, 80
    .cfi_rel_offset x30, 88
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]

    mov x9, sp
    str x9, [x0]               /* from->sp = sp */
    ldr x9, [x1]
    mov sp, x9                 /* sp = to->sp: now on the other stack */

    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    .cfi_adjust_cfa_offset -176
    br x30
    .cfi_endproc
    .size coro__ctx_switch, .-coro__ctx_switch

/*
 * void coro__ctx_init(coro__ctx *c (x0), void *stack_lo (x1),
 *                     size_t size (x2), void (*entry)(void *) (x3),
 *                     void *arg (x4))
 * Builds a saved context whose x30 is the entry trampoline, with x19 = arg,
 * x20 = entry, x29 = 0 and the caller's FPCR.
 */
    .globl coro__ctx_init
    .hidden coro__ctx_init
    .type coro__ctx_init, %function
    .p2align 4
coro__ctx_init:
    .cfi_startproc
    add x9, x1, x2
    and x9, x9, #~15           /* top of stack, 16-byte aligned */
    sub x9, x9, #176           /* room for one saved context */
    mov x10, #0
    mov x11, #0
    stp x4, x3, [x9, #0]       /* x19 = arg, x20 = entry */
    stp x10, x11, [x9, #16]
    stp x10, x11, [x9, #32]
    stp x10, x11, [x9, #48]
    stp x10, x11, [x9, #64]
    adr x12, coro__ctx_entry
    stp x10, x12, [x9, #80]    /* x29 = 0, x30 = trampoline */
    stp x10, x11, [x9, #96]
    stp x10, x11, [x9, #112]
    stp x10, x11, [x9, #128]
    stp x10, x11, [x9, #144]
    mrs x12, fpcr
    stp x12, x11, [x9, #160]
    str x9, [x0]
    ret
    .cfi_endproc
    .size coro__ctx_init, .-coro__ctx_init

/* The first frame of every coroutine: calls entry(arg), never returns. */
    .type coro__ctx_entry, %function
    .p2align 4
coro__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30         /* outermost frame: backtraces stop here */
    mov x0, x19
    blr x20
    brk #0                     /* entry returned: a bug in coro */
    .cfi_endproc
    .size coro__ctx_entry, .-coro__ctx_entry

#endif

    .section .note.GNU-stack, "", %progbits
