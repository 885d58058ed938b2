/*
 * config.h - build-time facts shared by the C sources and the assembly:
 * whether AddressSanitizer or ThreadSanitizer is on, whether the x86-64
 * fast paths are used, and the control-block layout those fast paths rely
 * on. Preprocessor only, so the .S files can include it.
 */
#ifndef CORO_CONFIG_H
#define CORO_CONFIG_H

/* AddressSanitizer, for gcc (__SANITIZE_ADDRESS__) and clang. */
#if defined(__SANITIZE_ADDRESS__)
#define CORO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO__ASAN 1
#endif
#endif

/* ThreadSanitizer, for gcc (__SANITIZE_THREAD__) and clang. */
#if defined(__SANITIZE_THREAD__)
#define CORO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORO__TSAN 1
#endif
#endif

/* A sanitizer that must be told about every switch (src/switch.c): ASan
 * keeps state per stack, TSan per fiber. */
#if defined(CORO__ASAN) || defined(CORO__TSAN)
#define CORO__ANNOUNCE 1
#endif

/*
 * On x86-64 with the assembly backend, coro_resume and coro_yield have
 * assembly fast paths (src/arch/x86_64.S) that do the common case, the
 * bookkeeping and the switch in one function and return by an indirect
 * jump, and fall back to the C versions (coro__resume_slow,
 * coro__yield_slow) for everything else. Under ASan or TSan the C versions
 * run always: every switch must be announced.
 */
#if defined(__x86_64__) && !defined(CORO_BACKEND_UCONTEXT) && !defined(CORO__ANNOUNCE)
#define CORO__ASM_FASTPATH 1
#endif

/* Statuses (the values of enum coro_status_code in coro.h). */
#define CORO__S_SUSPENDED 0
#define CORO__S_RUNNING 1
#define CORO__S_NORMAL 2

/* Flags of struct coro. */
#define CORO__F_MAIN 0x01    /* a thread's main coroutine */
#define CORO__F_STARTED 0x02 /* the body has been entered */
#define CORO__F_CLOSING 0x04 /* coro_close is unwinding it */
#define CORO__F_CLOSED 0x08  /* coro_close has run (or the error was passed on) */
#define CORO__F_ERRORED 0x10 /* it died by an error */
#define CORO__F_NOYIELD 0x20 /* running cleanups for coro_close */
#define CORO__F_COPY 0x40    /* runs on the thread's shared stack (copystack.c) */
#define CORO__F_WORKER 0x80  /* a runtime worker: only its loop resumes or frees it */

/* Offsets in struct coro and struct coro__thread used by the assembly;
 * coro.c checks them against the structs at compile time. */
#define CORO__OFF_SP 0        /* ctx.sp */
#define CORO__OFF_STATUS 8    /* int status */
#define CORO__OFF_FLAGS 12    /* unsigned flags */
#define CORO__OFF_RESUMER 16  /* coro *resumer */
#define CORO__OFF_THREAD 24   /* coro__thread *thread */
#define CORO__OFF_TRANSFER 32 /* void *transfer */
#define CORO__OFF_CURRENT 0   /* coro__thread: coro *current */
#define CORO__OFF_OWNER 8     /* coro__thread: coro *owner */

#endif /* CORO_CONFIG_H */
