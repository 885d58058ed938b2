/*
 * test_abi.c - the context switch keeps the ABI's promises: callee-saved
 * registers survive a switch both ways, a coroutine's stack is aligned for
 * SSE and printf's floating point, and the floating-point control state
 * (rounding mode) belongs to each coroutine. Runs on every backend.
 */
#include <fenv.h> /* only the FE_* names: the registers are read directly */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "test.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* ---- callee-saved registers ---- */

/*
 * abi_call_with(in, out, fn, a, b): loads every callee-saved register with
 * in[], calls fn(a, b), stores what the registers hold afterwards in out[],
 * and restores its caller's values. fn must preserve them, as any function
 * must; so out[] differs from in[] only if fn (a switch) failed to.
 */
#if defined(__x86_64__)
#define NREGS 6
static const char *const reg_names[NREGS] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
#if defined(__CET__)
#define ABI_ENDBR "    endbr64\n"
#else
#define ABI_ENDBR ""
#endif
__asm__(".text\n"
        ".globl abi_call_with\n"
        ".hidden abi_call_with\n"
        ".type abi_call_with, @function\n"
        ".p2align 4\n"
        "abi_call_with:\n" ABI_ENDBR "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    pushq %rsi\n" /* out; rsp is 16-byte aligned again for the call */
        "    movq %rdx, %rax\n"
        "    movq 0(%rdi), %rbx\n"
        "    movq 8(%rdi), %rbp\n"
        "    movq 16(%rdi), %r12\n"
        "    movq 24(%rdi), %r13\n"
        "    movq 32(%rdi), %r14\n"
        "    movq 40(%rdi), %r15\n"
        "    movq %rcx, %rdi\n"
        "    movq %r8, %rsi\n"
        "    callq *%rax\n"
        "    popq %rsi\n"
        "    movq %rbx, 0(%rsi)\n"
        "    movq %rbp, 8(%rsi)\n"
        "    movq %r12, 16(%rsi)\n"
        "    movq %r13, 24(%rsi)\n"
        "    movq %r14, 32(%rsi)\n"
        "    movq %r15, 40(%rsi)\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size abi_call_with, .-abi_call_with\n");
#elif defined(__aarch64__)
#define NREGS 19
static const char *const reg_names[NREGS] = {"x19", "x20", "x21", "x22", "x23", "x24", "x25",
                                             "x26", "x27", "x28", "x29", "d8",  "d9",  "d10",
                                             "d11", "d12", "d13", "d14", "d15"};
__asm__(".text\n"
        ".globl abi_call_with\n"
        ".hidden abi_call_with\n"
        ".type abi_call_with, %function\n"
        ".p2align 2\n"
        "abi_call_with:\n"
        "    stp x29, x30, [sp, #-176]!\n"
        "    stp x19, x20, [sp, #16]\n"
        "    stp x21, x22, [sp, #32]\n"
        "    stp x23, x24, [sp, #48]\n"
        "    stp x25, x26, [sp, #64]\n"
        "    stp x27, x28, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    str x1, [sp, #160]\n"
        "    mov x9, x0\n"
        "    mov x10, x2\n"
        "    mov x0, x3\n"
        "    mov x1, x4\n"
        "    ldp x19, x20, [x9, #0]\n"
        "    ldp x21, x22, [x9, #16]\n"
        "    ldp x23, x24, [x9, #32]\n"
        "    ldp x25, x26, [x9, #48]\n"
        "    ldp x27, x28, [x9, #64]\n"
        "    ldr x29, [x9, #80]\n"
        "    ldp d8, d9, [x9, #88]\n"
        "    ldp d10, d11, [x9, #104]\n"
        "    ldp d12, d13, [x9, #120]\n"
        "    ldp d14, d15, [x9, #136]\n"
        "    blr x10\n"
        "    ldr x9, [sp, #160]\n"
        "    stp x19, x20, [x9, #0]\n"
        "    stp x21, x22, [x9, #16]\n"
        "    stp x23, x24, [x9, #32]\n"
        "    stp x25, x26, [x9, #48]\n"
        "    stp x27, x28, [x9, #64]\n"
        "    str x29, [x9, #80]\n"
        "    stp d8, d9, [x9, #88]\n"
        "    stp d10, d11, [x9, #104]\n"
        "    stp d12, d13, [x9, #120]\n"
        "    stp d14, d15, [x9, #136]\n"
        "    ldp x19, x20, [sp, #16]\n"
        "    ldp x21, x22, [sp, #32]\n"
        "    ldp x23, x24, [sp, #48]\n"
        "    ldp x25, x26, [sp, #64]\n"
        "    ldp x27, x28, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldp x29, x30, [sp], #176\n"
        "    ret\n"
        ".size abi_call_with, .-abi_call_with\n");
#elif defined(CORO__ARCH_RISCV64)
#define NREGS 24
static const char *const reg_names[NREGS] = {
    "s0",  "s1",  "s2",  "s3",  "s4",  "s5",  "s6",  "s7",  "s8",  "s9",  "s10",  "s11",
    "fs0", "fs1", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11"};
__asm__(".text\n"
        ".globl abi_call_with\n"
        ".hidden abi_call_with\n"
        ".type abi_call_with, @function\n"
        ".p2align 2\n"
        "abi_call_with:\n"
        "    addi sp, sp, -208\n" /* 26 slots: sp stays 16-byte aligned */
        "    sd ra, 0(sp)\n"
        "    sd a1, 8(sp)\n" /* out */
        "    sd s0, 16(sp)\n"
        "    sd s1, 24(sp)\n"
        "    sd s2, 32(sp)\n"
        "    sd s3, 40(sp)\n"
        "    sd s4, 48(sp)\n"
        "    sd s5, 56(sp)\n"
        "    sd s6, 64(sp)\n"
        "    sd s7, 72(sp)\n"
        "    sd s8, 80(sp)\n"
        "    sd s9, 88(sp)\n"
        "    sd s10, 96(sp)\n"
        "    sd s11, 104(sp)\n"
        "    fsd fs0, 112(sp)\n"
        "    fsd fs1, 120(sp)\n"
        "    fsd fs2, 128(sp)\n"
        "    fsd fs3, 136(sp)\n"
        "    fsd fs4, 144(sp)\n"
        "    fsd fs5, 152(sp)\n"
        "    fsd fs6, 160(sp)\n"
        "    fsd fs7, 168(sp)\n"
        "    fsd fs8, 176(sp)\n"
        "    fsd fs9, 184(sp)\n"
        "    fsd fs10, 192(sp)\n"
        "    fsd fs11, 200(sp)\n"
        "    mv a5, a0\n"
        "    mv a6, a2\n"
        "    mv a0, a3\n"
        "    mv a1, a4\n"
        "    ld s0, 0(a5)\n"
        "    ld s1, 8(a5)\n"
        "    ld s2, 16(a5)\n"
        "    ld s3, 24(a5)\n"
        "    ld s4, 32(a5)\n"
        "    ld s5, 40(a5)\n"
        "    ld s6, 48(a5)\n"
        "    ld s7, 56(a5)\n"
        "    ld s8, 64(a5)\n"
        "    ld s9, 72(a5)\n"
        "    ld s10, 80(a5)\n"
        "    ld s11, 88(a5)\n"
        "    fld fs0, 96(a5)\n"
        "    fld fs1, 104(a5)\n"
        "    fld fs2, 112(a5)\n"
        "    fld fs3, 120(a5)\n"
        "    fld fs4, 128(a5)\n"
        "    fld fs5, 136(a5)\n"
        "    fld fs6, 144(a5)\n"
        "    fld fs7, 152(a5)\n"
        "    fld fs8, 160(a5)\n"
        "    fld fs9, 168(a5)\n"
        "    fld fs10, 176(a5)\n"
        "    fld fs11, 184(a5)\n"
        "    jalr a6\n"
        "    ld a5, 8(sp)\n"
        "    sd s0, 0(a5)\n"
        "    sd s1, 8(a5)\n"
        "    sd s2, 16(a5)\n"
        "    sd s3, 24(a5)\n"
        "    sd s4, 32(a5)\n"
        "    sd s5, 40(a5)\n"
        "    sd s6, 48(a5)\n"
        "    sd s7, 56(a5)\n"
        "    sd s8, 64(a5)\n"
        "    sd s9, 72(a5)\n"
        "    sd s10, 80(a5)\n"
        "    sd s11, 88(a5)\n"
        "    fsd fs0, 96(a5)\n"
        "    fsd fs1, 104(a5)\n"
        "    fsd fs2, 112(a5)\n"
        "    fsd fs3, 120(a5)\n"
        "    fsd fs4, 128(a5)\n"
        "    fsd fs5, 136(a5)\n"
        "    fsd fs6, 144(a5)\n"
        "    fsd fs7, 152(a5)\n"
        "    fsd fs8, 160(a5)\n"
        "    fsd fs9, 168(a5)\n"
        "    fsd fs10, 176(a5)\n"
        "    fsd fs11, 184(a5)\n"
        "    ld s0, 16(sp)\n"
        "    ld s1, 24(sp)\n"
        "    ld s2, 32(sp)\n"
        "    ld s3, 40(sp)\n"
        "    ld s4, 48(sp)\n"
        "    ld s5, 56(sp)\n"
        "    ld s6, 64(sp)\n"
        "    ld s7, 72(sp)\n"
        "    ld s8, 80(sp)\n"
        "    ld s9, 88(sp)\n"
        "    ld s10, 96(sp)\n"
        "    ld s11, 104(sp)\n"
        "    fld fs0, 112(sp)\n"
        "    fld fs1, 120(sp)\n"
        "    fld fs2, 128(sp)\n"
        "    fld fs3, 136(sp)\n"
        "    fld fs4, 144(sp)\n"
        "    fld fs5, 152(sp)\n"
        "    fld fs6, 160(sp)\n"
        "    fld fs7, 168(sp)\n"
        "    fld fs8, 176(sp)\n"
        "    fld fs9, 184(sp)\n"
        "    fld fs10, 192(sp)\n"
        "    fld fs11, 200(sp)\n"
        "    ld ra, 0(sp)\n"
        "    addi sp, sp, 208\n"
        "    ret\n"
        ".size abi_call_with, .-abi_call_with\n");
#endif

#ifdef NREGS
typedef void (*abi_fn)(void); /* called as void fn(void *a, void *b) */
void abi_call_with(const uint64_t *in, uint64_t *out, abi_fn fn, void *a, void *b);

/* A pattern per (seed, register) that no other pair shares. */
static void fill(uint64_t *v, unsigned seed)
{
    for (unsigned i = 0; i < NREGS; i++)
        v[i] = 0xc0de000000000000ULL | (uint64_t)seed << 32 | (uint64_t)(i + 1) * 0x01010101u;
}

static void check_regs(const uint64_t *in, const uint64_t *out, const char *where, unsigned seed)
{
    for (int i = 0; i < NREGS; i++)
        if (out[i] != in[i])
            test_fail(__FILE__, __LINE__, "%s (seed %u): %s is %#llx, was %#llx", where, seed,
                      reg_names[i], (unsigned long long)out[i], (unsigned long long)in[i]);
}

/* fn(a, b) called with every callee-saved register holding seed's pattern,
 * checked to hold it after (in and out are the caller's: the bodies on raw
 * stacks keep theirs static, see below). */
static void call_checked(uint64_t *in, uint64_t *out, abi_fn fn, void *a, void *b,
                         const char *where, unsigned seed)
{
    fill(in, seed);
    abi_call_with(in, out, fn, a, b);
    check_regs(in, out, where, seed);
}

/* One step of a switching dance: resume `next`, or yield if it is NULL,
 * with every callee-saved register holding a fresh pattern around it. */
struct hop {
    coro *next;
    unsigned seed;
    int rc;
};

static void hop_switch(void *arg, void *unused)
{
    struct hop *h = arg;

    (void)unused;
    h->rc = h->next != NULL ? coro_resume(h->next, NULL, NULL) : coro_yield(NULL, NULL);
}

static void hop_checked(struct hop *h, coro *next, const char *where, int want_rc)
{
    uint64_t in[NREGS], out[NREGS];

    h->next = next;
    call_checked(in, out, (abi_fn)hop_switch, h, NULL, where, h->seed++);
    CHECK_INT(h->rc, want_rc);
}

/* Its seed comes in its user data. */
static void *hop_yield_twice(void *arg)
{
    struct hop h = {NULL, (unsigned)(uintptr_t)coro_userdata(coro_running(NULL)), 0};

    (void)arg;
    hop_checked(&h, NULL, "coroutine across its first yield", 0);
    hop_checked(&h, NULL, "coroutine across its second yield", 0);
    return NULL;
}

TEST(callee_saved_registers_survive_resume_and_yield)
{
    coro_options opt = {0, NULL, (void *)(uintptr_t)50, 0};
    struct hop h = {NULL, 1, 0};
    coro *co;

    CHECK_ERR(coro_create(&co, hop_yield_twice, &opt), 0);
    /* resume starts it, it yields; resume, it yields; resume, it returns
     * (the last switch out of a dying coroutine) */
    hop_checked(&h, co, "main across the first resume", 1);
    hop_checked(&h, co, "main across the second resume", 1);
    hop_checked(&h, co, "main across the last resume", 0);
    CHECK_ERR(coro_destroy(co), 0);
}

struct nested {
    coro *inner;
};

/* Its struct nested comes in its user data. */
static void *hop_through_inner(void *arg)
{
    struct nested *n = coro_userdata(coro_running(NULL));
    struct hop h = {NULL, 200, 0};

    (void)arg;
    hop_checked(&h, n->inner, "outer across resuming inner", 1);
    hop_checked(&h, NULL, "outer across its yield", 0);
    hop_checked(&h, n->inner, "outer across inner's second yield", 1);
    return NULL;
}

TEST(callee_saved_registers_survive_nested_switches)
{
    coro_options opt = {0, NULL, (void *)(uintptr_t)300, 0};
    struct nested n;
    struct hop h = {NULL, 100, 0};
    coro *outer;

    CHECK_ERR(coro_create(&n.inner, hop_yield_twice, &opt), 0);
    opt.user_data = &n;
    CHECK_ERR(coro_create(&outer, hop_through_inner, &opt), 0);
    /* main -> outer -> inner, which yields -> outer, which yields -> main */
    hop_checked(&h, outer, "main across outer's yield", 1);
    /* main -> outer -> inner, which yields again -> outer, which ends */
    hop_checked(&h, outer, "main across outer's end", 0);
    CHECK_INT(coro_status(n.inner), CORO_SUSPENDED);
    hop_checked(&h, n.inner, "main across inner's end", 0);
    CHECK_ERR(coro_destroy(outer), 0);
    CHECK_ERR(coro_destroy(n.inner), 0);
}

/*
 * The same at the bottom layer: abi_call_with calls coro__ctx_switch
 * itself, so no C frame in between can save and restore a register the
 * switch forgot (coro_resume's own frames may well do so). The body on the
 * other stack keeps its arrays static: it never returns, and ASan must not
 * see frames of its own there.
 */
static coro__ctx raw_main, raw_co;
static uint64_t raw_in[NREGS], raw_out[NREGS];

static void raw_entry(void *arg)
{
    unsigned seed = 1000;

    (void)arg;
    for (;;) {
        call_checked(raw_in, raw_out, (abi_fn)coro__ctx_switch, &raw_co, &raw_main,
                     "the other side across coro__ctx_switch", seed++);
    }
}

/* A raw context on a stack of its own, to run entry at the first switch. */
static void raw_start(coro__stack *s, coro__ctx *c, void (*entry)(void *))
{
    CHECK_ERR(coro__stack_get(s, coro__stack_round(0)), 0);
    coro__ctx_init(c, s->lo, s->size, entry, NULL);
}

/* Main's side: one coro__ctx_switch from `from` to `to`, checked. */
static void main_switch(coro__ctx *from, coro__ctx *to, const char *where, unsigned seed)
{
    uint64_t in[NREGS], out[NREGS];

    call_checked(in, out, (abi_fn)coro__ctx_switch, from, to, where, seed);
}

TEST(ctx_switch_itself_preserves_callee_saved_registers)
{
    coro__stack s;

    raw_start(&s, &raw_co, raw_entry);
    for (unsigned seed = 1; seed <= 3; seed++)
        main_switch(&raw_main, &raw_co, "main across coro__ctx_switch", seed);
    coro__stack_put(&s); /* the other side is abandoned mid-loop */
}
#endif

/* ---- stack alignment, SSE and printf ---- */

/* Hides a pointer's value from the optimiser, which would otherwise fold
 * "the address of a 16-aligned local, mod 16" to 0. */
__attribute__((noinline)) static uintptr_t launder(const void *p)
{
    uintptr_t u = (uintptr_t)p;

    __asm__ volatile("" : "+r"(u));
    return u;
}

#if defined(__x86_64__)
#include <xmmintrin.h>

/* movaps loads and stores: they fault on an address that is not 16-aligned. */
__attribute__((noinline)) static float sse_sum(const float *v)
{
    float out[4] __attribute__((aligned(16)));
    __m128 s = _mm_add_ps(_mm_load_ps(v), _mm_load_ps(v + 4));

    _mm_store_ps(out, s);
    return out[0] + out[1] + out[2] + out[3];
}
#else
static float sse_sum(const float *v)
{
    float s = 0;

    for (int i = 0; i < 8; i++)
        s += v[i];
    return s;
}
#endif

/* 0 if a 16-aligned local, the frame address and SSE on locals are fine;
 * else which one is not. */
__attribute__((noinline)) static int alignment_problem(int depth)
{
    float v16[8] __attribute__((aligned(16))) = {1, 2, 3, 4, 5, 6, 7, 8};
    float v32[8] __attribute__((aligned(32))) = {8, 7, 6, 5, 4, 3, 2, 1};

    if (launder(v16) % 16 != 0)
        return 1;
    if (launder(__builtin_frame_address(0)) % 16 != 0)
        return 2;
    if (sse_sum(v16) != 36 || sse_sum(v32) != 36)
        return 3;
    if (depth > 0)
        return alignment_problem(depth - 1);
    return 0;
}

static void *check_alignment(void *arg)
{
    char here __attribute__((aligned(16))) = 0;

    (void)arg;
    CHECK_INT(launder(&here) % 16, 0);
    CHECK_INT(launder(__builtin_frame_address(0)) % 16, 0);
    CHECK_INT(alignment_problem(0), 0);
    CHECK_INT(alignment_problem(3), 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    CHECK_INT(alignment_problem(1), 0);
    CHECK_INT(alignment_problem(2), 0);
    return NULL;
}

TEST(stack_is_16_byte_aligned_for_sse_in_coroutine)
{
    coro_options small = {CORO_STACK_MIN + 1, NULL, NULL, 0}; /* odd sizes too */
    coro *co;

    CHECK_INT(alignment_problem(2), 0);
    CHECK_ERR(coro_create(&co, check_alignment, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
    CHECK_ERR(coro_create(&co, check_alignment, &small), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *nested_alignment(void *arg)
{
    coro *co;

    (void)arg;
    CHECK_ERR(coro_create(&co, check_alignment, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_INT(alignment_problem(1), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
    return NULL;
}

TEST(stack_is_aligned_in_coroutine_created_by_coroutine)
{
    coro *co;

    CHECK_ERR(coro_create(&co, nested_alignment, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

static volatile double pi = 3.14159265358979, tiny = 1e-300, tenth = 0.1, big = 12345.678,
                       neg = -2.5, onev = 1.0, threev = 3.0;
static volatile long double half_l = 1.5L;

static void format_doubles(char *buf, size_t size)
{
    snprintf(buf, size, "%f|%g|%.17g|%e|%.3f|%g|%Lf|%a|%g", pi, tiny, tenth, big, neg,
             onev / threev, half_l, 1.0 + tenth, strtod("2.718281828", NULL));
}

static const char doubles_text[] = "3.141593|1e-300|0.10000000000000001|1.234568e+04|-2.500|"
                                   "0.333333|1.500000|0x1.199999999999ap+0|2.71828";

static void *print_doubles(void *arg)
{
    char buf[256];

    (void)arg;
    format_doubles(buf, sizeof buf);
    CHECK_STR(buf, doubles_text);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    format_doubles(buf, sizeof buf);
    CHECK_STR(buf, doubles_text);
    return NULL;
}

TEST(snprintf_of_doubles_in_coroutine_gives_right_text)
{
    coro_options min = {CORO_STACK_MIN, "printf", NULL, 0};
    char buf[256];
    coro *co;

    format_doubles(buf, sizeof buf);
    CHECK_STR(buf, doubles_text); /* the reference, on the main stack */
    CHECK_ERR(coro_create(&co, print_doubles, NULL), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
    /* printf-family calls fit in the smallest stack */
    CHECK_ERR(coro_create(&co, print_doubles, &min), 0);
    CHECK_INT(coro_resume(co, NULL, NULL), 1);
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_ERR(coro_destroy(co), 0);
}

/* ---- floating-point control state ---- */

/*
 * The rounding mode, read and set in the registers themselves (so no libm
 * is needed): on x86-64 both MXCSR (SSE arithmetic) and the x87 control
 * word (long double), which fesetround() also sets together; on aarch64
 * FPCR; on riscv64 fcsr's frm field (long double is software quad there,
 * and libgcc's soft-fp reads frm too). Values are <fenv.h>'s FE_* for the
 * architecture.
 */
#if defined(__x86_64__)
#define HAVE_ROUNDING 1
static unsigned get_mxcsr(void)
{
    unsigned m;

    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}

static unsigned short get_x87cw(void)
{
    unsigned short cw;

    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static int round_mode(void)
{
    return (int)((get_mxcsr() >> 3) & 0xc00); /* MXCSR.RC is bits 13-14 */
}

static int x87_round_mode(void)
{
    return get_x87cw() & 0xc00; /* the control word's RC is bits 10-11 */
}

static void set_round_mode(int mode)
{
    unsigned m = (get_mxcsr() & ~0x6000u) | ((unsigned)mode << 3);
    unsigned short cw = (unsigned short)((get_x87cw() & ~0xc00) | mode);

    __asm__ volatile("ldmxcsr %0" : : "m"(m) : "memory");
    __asm__ volatile("fldcw %0" : : "m"(cw) : "memory");
}
#elif defined(__aarch64__)
#define HAVE_ROUNDING 1
static int round_mode(void)
{
    uint64_t v;

    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return (int)(v & 0xc00000); /* FPCR.RMode is bits 22-23 */
}

static int x87_round_mode(void)
{
    return round_mode(); /* one control register for everything */
}

static void set_round_mode(int mode)
{
    uint64_t v;

    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    v = (v & ~(uint64_t)0xc00000) | (uint64_t)mode;
    __asm__ volatile("msr fpcr, %0" : : "r"(v) : "memory");
}
#elif defined(CORO__ARCH_RISCV64)
#define HAVE_ROUNDING 1
static int round_mode(void)
{
    unsigned long v;

    __asm__ volatile("frrm %0" : "=r"(v));
    return (int)v; /* fcsr.frm, bits 5-7; FE_* are its encodings */
}

static int x87_round_mode(void)
{
    return round_mode(); /* one control register for everything */
}

static void set_round_mode(int mode)
{
    __asm__ volatile("fsrm %0" : : "r"((unsigned long)mode) : "memory");
}
#endif

#ifdef HAVE_ROUNDING
static volatile double one = 1.0, three = 3.0;
static volatile long double one_l = 1.0L, seven_l = 7.0L;

/* 1/3 as a double, rounded by the current mode: the bits differ in the last
 * place between nearest (...555) and upward (...556). */
#define THIRD_NEAREST 0x3fd5555555555555ULL
#define THIRD_UPWARD 0x3fd5555555555556ULL

__attribute__((noinline)) static uint64_t third_bits(void)
{
    double q = one / three;
    uint64_t u;

    memcpy(&u, &q, sizeof u);
    return u;
}

/* 1/7 in the x87's 64-bit significand: to nearest rounds it down, so
 * upward gives a larger value. */
__attribute__((noinline)) static long double seventh_long(void)
{
    return one_l / seven_l;
}

/* valgrind keeps each coroutine's MXCSR and control word as the machine
 * would, but its arithmetic rounds to nearest whatever they say (a
 * documented limitation), so under it only the registers are checked. */
#define ARITH_ROUNDS (!RUNNING_ON_VALGRIND)

struct round_run {
    int mode[2], x87_mode[2];
    uint64_t bits[2];
    long double seventh_l[2];
};

static void observe(struct round_run *r, int i)
{
    r->mode[i] = round_mode();
    r->x87_mode[i] = x87_round_mode();
    r->bits[i] = third_bits();
    r->seventh_l[i] = seventh_long();
}

static void *round_upward(void *arg)
{
    struct round_run *r = arg;

    set_round_mode(FE_UPWARD);
    observe(r, 0);
    CHECK_ERR(coro_yield(NULL, NULL), 0);
    observe(r, 1);
    return NULL;
}

TEST(rounding_mode_is_per_coroutine)
{
    struct round_run r;
    long double seventh_near;
    coro *co;

    memset(&r, 0, sizeof r);
    CHECK_INT(round_mode(), FE_TONEAREST);
    CHECK_INT(third_bits(), THIRD_NEAREST);
    seventh_near = seventh_long();
    CHECK_ERR(coro_create(&co, round_upward, NULL), 0);

    CHECK_INT(coro_resume(co, &r, NULL), 1);
    CHECK_INT(r.mode[0], FE_UPWARD); /* it rounds up ... */
    CHECK_INT(r.x87_mode[0], FE_UPWARD);
    if (ARITH_ROUNDS) {
        CHECK_INT(r.bits[0], THIRD_UPWARD);
        CHECK(r.seventh_l[0] > seventh_near);
    }
    CHECK_INT(round_mode(), FE_TONEAREST); /* ... and main still to nearest */
    CHECK_INT(x87_round_mode(), FE_TONEAREST);
    if (ARITH_ROUNDS) {
        CHECK_INT(third_bits(), THIRD_NEAREST);
        CHECK(seventh_long() == seventh_near);
    }

    set_round_mode(FE_DOWNWARD); /* main's change does not reach it either */
    CHECK_INT(coro_resume(co, NULL, NULL), 0);
    CHECK_INT(r.mode[1], FE_UPWARD);
    CHECK_INT(r.x87_mode[1], FE_UPWARD);
    if (ARITH_ROUNDS) {
        CHECK_INT(r.bits[1], THIRD_UPWARD);
        CHECK(r.seventh_l[1] > seventh_near);
    }
    CHECK_INT(round_mode(), FE_DOWNWARD);
    CHECK_INT(x87_round_mode(), FE_DOWNWARD);
    if (ARITH_ROUNDS) {
        CHECK_INT(third_bits(), THIRD_NEAREST); /* down and nearest agree on 1/3 */
        CHECK(seventh_long() < r.seventh_l[1]);
    }

    set_round_mode(FE_TONEAREST);
    CHECK_ERR(coro_destroy(co), 0);
}

static void *observe_at_start(void *arg)
{
    observe(arg, 0);
    return NULL;
}

/* A new coroutine starts with the rounding mode of its creator at
 * coro_create (the backends capture it when building the first context:
 * x86_64.S, aarch64.S and riscv64.S store MXCSR / x87 CW / FPCR / fcsr, ucontext's
 * getcontext saves the FP environment), not the mode of whoever first
 * resumes it. */
TEST(coroutine_starts_with_creators_rounding_mode)
{
#if defined(CORO_DEFAULT_COPY_STACK) && defined(CORO_BACKEND_UCONTEXT)
    return; /* the first frame is built at the first resume (see copystack.c) */
#endif
    struct round_run r;
    coro *co;

    memset(&r, 0, sizeof r);
    set_round_mode(FE_TOWARDZERO);
    CHECK_ERR(coro_create(&co, observe_at_start, NULL), 0);
    set_round_mode(FE_TONEAREST);
    CHECK_INT(coro_resume(co, &r, NULL), 0);
    CHECK_INT(r.mode[0], FE_TOWARDZERO);
    CHECK_INT(r.x87_mode[0], FE_TOWARDZERO);
    CHECK_INT(round_mode(), FE_TONEAREST);
    CHECK_ERR(coro_destroy(co), 0);

    CHECK_ERR(coro_create(&co, observe_at_start, NULL), 0);
    set_round_mode(FE_UPWARD);
    CHECK_INT(coro_resume(co, &r, NULL), 0);
    CHECK_INT(r.mode[0], FE_TONEAREST);
    if (ARITH_ROUNDS)
        CHECK_INT(r.bits[0], THIRD_NEAREST);
    CHECK_INT(round_mode(), FE_UPWARD);
    set_round_mode(FE_TONEAREST);
    CHECK_ERR(coro_destroy(co), 0);
}
#endif

/* ---- the call-less switch of an idle worker (x86-64) ---- */

#if defined(CORO__CTX_PARK) && defined(NREGS) && defined(HAVE_ROUNDING)
/*
 * coro__ctx_park_here saves a context that coro__ctx_switch resumes by a
 * jump (it was saved without a call), and resumes by a return a context
 * that coro__ctx_switch saved. Both sides go through abi_call_with, so a
 * callee-saved register that either direction forgot shows; each side
 * keeps its own rounding mode. park_fn is not inlined, and the statement
 * declares only caller-saved registers clobbered, so nothing but
 * coro__ctx_park itself can save the callee-saved ones.
 */
static coro__ctx park_main, park_co;
static uint64_t park_in[NREGS], park_out[NREGS];
static unsigned park_laps;
static int park_mode;

__attribute__((noinline)) static void park_fn(void *from, void *to)
{
    coro__ctx_park_here(from, to);
}

static void park_entry(void *arg)
{
    unsigned seed = 3000;

    (void)arg;
    set_round_mode(FE_UPWARD);
    for (;;) {
        call_checked(park_in, park_out, (abi_fn)park_fn, &park_co, &park_main,
                     "the parked side across coro__ctx_park_here", seed++);
        park_laps++;
        park_mode = round_mode();
    }
}

TEST(ctx_park_here_keeps_both_sides_registers_and_rounding_modes)
{
    coro__stack s;

    raw_start(&s, &park_co, park_entry);
    for (unsigned seed = 1; seed <= 4; seed++) {
        main_switch(&park_main, &park_co, "main across a switch to a parked context", seed + 500);
        CHECK_INT(park_laps, seed - 1); /* the first switch started it */
        CHECK_INT(round_mode(), FE_TONEAREST);
        CHECK_INT(x87_round_mode(), FE_TONEAREST);
        if (seed > 1)
            CHECK_INT(park_mode, FE_UPWARD);
    }
    coro__stack_put(&s); /* the other side is abandoned mid-loop */
}
#endif
