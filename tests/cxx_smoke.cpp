/*
 * cxx_smoke.cpp - coro.h used from C++ (built as C++11 and C++20 by
 * tests/check_cxx.sh): the header compiles with extern "C" and no C++20
 * keyword in the way, and a coroutine runs from C++ code.
 * Exits 0 and prints "cxx ok" when every check holds.
 */
#include <cstdio>
#include <cstring>

#include "coro.h"

static int failures = 0;

#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            std::fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c);                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

struct counter {
    long start;
    long sum;
};

/* Yields start, start+1, start+2, adding what each resume sends in. */
static void *count_up(void *arg)
{
    counter *c = static_cast<counter *>(arg);

    for (long i = 0; i < 3; i++) {
        void *in = nullptr;
        EXPECT(coro_isyieldable(nullptr) == 1);
        EXPECT(coro_yield(reinterpret_cast<void *>(c->start + i), &in) == 0);
        c->sum += reinterpret_cast<long>(in);
    }
    return c;
}

static void *raise_error(void *)
{
    coro_error("from C++: %d", 7);
    return nullptr;
}

int main()
{
    counter c = {10, 0};
    coro_options opt = CORO_OPTIONS_INIT;
    coro *co = nullptr;
    void *out = nullptr;

    opt.name = "cxx";
    EXPECT(coro_create(&co, count_up, &opt) == CORO_OK);
    EXPECT(std::strcmp(coro_name(co), "cxx") == 0);
    EXPECT(coro_status(co) == CORO_SUSPENDED);
    EXPECT(coro_resume(co, &c, &out) == 1);
    EXPECT(out == reinterpret_cast<void *>(10L));
    EXPECT(coro_resume(co, reinterpret_cast<void *>(1L), &out) == 1);
    EXPECT(out == reinterpret_cast<void *>(11L));
    EXPECT(coro_resume(co, reinterpret_cast<void *>(2L), &out) == 1);
    EXPECT(out == reinterpret_cast<void *>(12L));
    EXPECT(coro_resume(co, reinterpret_cast<void *>(3L), &out) == 0);
    EXPECT(out == &c);
    EXPECT(c.sum == 6);
    EXPECT(coro_status(co) == CORO_DEAD);
    EXPECT(coro_resume(co, nullptr, nullptr) == CORO_EDEAD);
    EXPECT(std::strcmp(coro_strerror(CORO_EDEAD), "cannot resume dead coroutine") == 0);
    EXPECT(coro_destroy(co) == CORO_OK);

    EXPECT(coro_create(&co, raise_error, nullptr) == CORO_OK);
    EXPECT(coro_resume(co, nullptr, &out) == CORO_EERROR);
    EXPECT(coro_errmsg(co) != nullptr && std::strcmp(coro_errmsg(co), "from C++: 7") == 0);
    EXPECT(coro_destroy(co) == CORO_OK);

    int ismain = 0;
    EXPECT(coro_running(&ismain) != nullptr && ismain == 1);
    EXPECT(coro_yield(nullptr, nullptr) == CORO_EOUTSIDE);

    if (failures != 0)
        return 1;
    std::printf("cxx ok\n");
    return 0;
}
