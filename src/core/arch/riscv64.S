/*
 * riscv64.S - context switch for RV64GC with the LP64D ABI (see src/ctx.h).
 *
 * A saved context is 208 bytes on the coroutine's own stack; coro__ctx holds
 * only the stack pointer. Layout from the saved sp upward:
 *     0 ra
 *     8 s0 (fp)  16 s1   24 s2   32 s3   40 s4   48 s5   56 s6   64 s7
 *    72 s8       80 s9   88 s10  96 s11
 *   104 fs0     112 fs1 120 fs2 128 fs3 136 fs4 144 fs5 152 fs6 160 fs7
 *   168 fs8     176 fs9 184 fs10 192 fs11
 *   200 fcsr (the low 32 bits; sp stays 16-byte aligned)
 *
 * What is saved and why (RISC-V ABIs Specification, "RISC-V Calling
 * Conventions": Register Convention, and Procedure Calling Convention):
 *   - s0-s11 are callee-saved ("Preserved across calls? Yes"); s0 is also
 *     the frame pointer when there is one. sp is kept in coro__ctx. ra is
 *     not preserved across calls, but it is where the switch returns to.
 *     gp and tp are never changed by any procedure (tp is the thread's,
 *     and every coroutine of a thread shares it), so they are left alone.
 *   - fs0-fs11 are callee-saved in the hardware floating-point convention
 *     when they hold values no wider than ABI_FLEN (64 for LP64D), so fsd
 *     and fld of the 64-bit registers are enough.
 *   - "The Floating-Point Control and Status Register (fcsr) must have
 *     thread storage duration in accordance with C11 section 7.6": fcsr is
 *     the C floating-point environment, frm (bits 5-7, the dynamic rounding
 *     mode) and fflags (bits 0-4, the accrued exceptions) together. A
 *     coroutine is a thread of control with its own environment, so the
 *     whole register is saved, like MXCSR on x86-64: fesetround() and
 *     fetestexcept() inside one coroutine see that coroutine's state only.
 *     It is one CSR access either way. A new coroutine starts with its
 *     creator's frm and no exception flags raised.
 *   - The vector state (v0-v31, vl, vtype, vxrm, vxsat) is not preserved
 *     across calls, so the switch, an ordinary call, need not save it.
 * Traps:
 *   - Alignment: sp must be 16-byte aligned on procedure entry and stay
 *     aligned throughout. coro__ctx_init aligns the top of the stack down to
 *     16 and the frame is 208 bytes (a multiple of 16).
 *   - Returning: RISC-V encodes return-address-stack hints in the registers
 *     of a jalr (Unprivileged ISA, JALR): "jr ra", which is "ret", pops the
 *     return-address stack, whose prediction is the other coroutine's call
 *     site. The switch loads the saved ra into t1 and ends with "jr t1", a
 *     plain indirect jump (not through ra or t0, the two link registers),
 *     which the indirect-branch predictor can learn; like x86_64.S.
 *   - CFI: every saved register is described, and the layout is the same
 *     on both stacks, so the unwind table is right at every instruction.
 *     The entry trampoline marks ra undefined, so backtraces end there, and
 *     starts with s0 = 0 so that frame-pointer walks end too.
 */
#if defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_flen) && __riscv_flen >= 64 && \
    !defined(CORO_BACKEND_UCONTEXT)

    .text

/* void coro__ctx_switch(coro__ctx *from (a0), coro__ctx *to (a1)) */
    .globl coro__ctx_switch
    .hidden coro__ctx_switch
    .type coro__ctx_switch, @function
    .p2align 4
coro__ctx_switch:
    .cfi_startproc
    addi sp, sp, -208
    .cfi_adjust_cfa_offset 208
    sd ra, 0(sp)
    .cfi_rel_offset ra, 0
    sd s0, 8(sp)
    .cfi_rel_offset s0, 8
    sd s1, 16(sp)
    .cfi_rel_offset s1, 16
    sd s2, 24(sp)
    .cfi_rel_offset s2, 24
    sd s3, 32(sp)
    .cfi_rel_offset s3, 32
    sd s4, 40(sp)
    .cfi_rel_offset s4, 40
    sd s5, 48(sp)
    .cfi_rel_offset s5, 48
    sd s6, 56(sp)
    .cfi_rel_offset s6, 56
    sd s7, 64(sp)
    .cfi_rel_offset s7, 64
    sd s8, 72(sp)
    .cfi_rel_offset s8, 72
    sd s9, 80(sp)
    .cfi_rel_offset s9, 80
    sd s10, 88(sp)
    .cfi_rel_offset s10, 88
    sd s11, 96(sp)
    .cfi_rel_offset s11, 96
    fsd fs0, 104(sp)
    .cfi_rel_offset fs0, 104
    fsd fs1, 112(sp)
    .cfi_rel_offset fs1, 112
    fsd fs2, 120(sp)
    .cfi_rel_offset fs2, 120
    fsd fs3, 128(sp)
    .cfi_rel_offset fs3, 128
    fsd fs4, 136(sp)
    .cfi_rel_offset fs4, 136
    fsd fs5, 144(sp)
    .cfi_rel_offset fs5, 144
    fsd fs6, 152(sp)
    .cfi_rel_offset fs6, 152
    fsd fs7, 160(sp)
    .cfi_rel_offset fs7, 160
    fsd fs8, 168(sp)
    .cfi_rel_offset fs8, 168
    fsd fs9, 176(sp)
    .cfi_rel_offset fs9, 176
    fsd fs10, 184(sp)
    .cfi_rel_offset fs10, 184
    fsd fs11, 192(sp)
    .cfi_rel_offset fs11, 192
    frcsr t2
    sd t2, 200(sp)

    sd sp, 0(a0)               /* from->sp = sp */
    ld sp, 0(a1)               /* sp = to->sp: now on the other stack */

    ld t2, 200(sp)
    fscsr t2
    ld s0, 8(sp)
    ld s1, 16(sp)
    ld s2, 24(sp)
    ld s3, 32(sp)
    ld s4, 40(sp)
    ld s5, 48(sp)
    ld s6, 56(sp)
    ld s7, 64(sp)
    ld s8, 72(sp)
    ld s9, 80(sp)
    ld s10, 88(sp)
    ld s11, 96(sp)
    fld fs0, 104(sp)
    fld fs1, 112(sp)
    fld fs2, 120(sp)
    fld fs3, 128(sp)
    fld fs4, 136(sp)
    fld fs5, 144(sp)
    fld fs6, 152(sp)
    fld fs7, 160(sp)
    fld fs8, 168(sp)
    fld fs9, 176(sp)
    fld fs10, 184(sp)
    fld fs11, 192(sp)
    ld t1, 0(sp)               /* the return address, see "Returning" */
    .cfi_register ra, t1
    addi sp, sp, 208
    .cfi_adjust_cfa_offset -208
    .cfi_restore s0
    .cfi_restore s1
    .cfi_restore s2
    .cfi_restore s3
    .cfi_restore s4
    .cfi_restore s5
    .cfi_restore s6
    .cfi_restore s7
    .cfi_restore s8
    .cfi_restore s9
    .cfi_restore s10
    .cfi_restore s11
    .cfi_restore fs0
    .cfi_restore fs1
    .cfi_restore fs2
    .cfi_restore fs3
    .cfi_restore fs4
    .cfi_restore fs5
    .cfi_restore fs6
    .cfi_restore fs7
    .cfi_restore fs8
    .cfi_restore fs9
    .cfi_restore fs10
    .cfi_restore fs11
    jr t1
    .cfi_endproc
    .size coro__ctx_switch, .-coro__ctx_switch

/*
 * void coro__ctx_init(coro__ctx *c (a0), void *stack_lo (a1),
 *                     size_t size (a2), void (*entry)(void *) (a3),
 *                     void *arg (a4))
 * Builds a saved context whose ra is the entry trampoline, with s1 = arg,
 * s2 = entry, s0 = 0 (the end of the frame-pointer chain), every other
 * register 0, and an fcsr holding the caller's frm with no flags raised.
 */
    .globl coro__ctx_init
    .hidden coro__ctx_init
    .type coro__ctx_init, @function
    .p2align 4
coro__ctx_init:
    .cfi_startproc
    add t2, a1, a2
    andi t2, t2, -16           /* top of stack, 16-byte aligned */
    addi t2, t2, -208          /* room for one saved context */
    lla t1, coro__ctx_entry
    sd t1, 0(t2)               /* where the first switch "returns" */
    sd zero, 8(t2)             /* s0 */
    sd a4, 16(t2)              /* s1 = arg */
    sd a3, 24(t2)              /* s2 = entry */
    sd zero, 32(t2)            /* s3-s11 */
    sd zero, 40(t2)
    sd zero, 48(t2)
    sd zero, 56(t2)
    sd zero, 64(t2)
    sd zero, 72(t2)
    sd zero, 80(t2)
    sd zero, 88(t2)
    sd zero, 96(t2)
    sd zero, 104(t2)           /* fs0-fs11 */
    sd zero, 112(t2)
    sd zero, 120(t2)
    sd zero, 128(t2)
    sd zero, 136(t2)
    sd zero, 144(t2)
    sd zero, 152(t2)
    sd zero, 160(t2)
    sd zero, 168(t2)
    sd zero, 176(t2)
    sd zero, 184(t2)
    sd zero, 192(t2)
    frcsr t1
    andi t1, t1, 0xe0          /* frm only: the flags start clear */
    sd t1, 200(t2)
    sd t2, 0(a0)
    ret
    .cfi_endproc
    .size coro__ctx_init, .-coro__ctx_init

/*
 * The first frame of every coroutine. Entered by the first switch's jump
 * with sp 16-byte aligned; calls entry(arg), which never returns.
 */
    .type coro__ctx_entry, @function
    .p2align 4
coro__ctx_entry:
    .cfi_startproc
    .cfi_undefined ra          /* outermost frame: backtraces stop here */
    mv a0, s1
    jalr s2
    unimp                      /* entry returned: a bug in coro */
    .cfi_endproc
    .size coro__ctx_entry, .-coro__ctx_entry

#endif

    .section .note.GNU-stack, "", @progbits
