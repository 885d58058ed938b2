/*
 * peer_boost.cpp - the Boost.Context reference (libboost-context-dev), built
 * as a peer module (peer_boost.so) that the driver loads with dlopen:
 * fcontext, the low-level jump_fcontext / make_fcontext API that also saves
 * MXCSR and the x87 control word, and fiber, the C++ API on top of it.
 */
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/version.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "bench.h"

namespace ctx = boost::context;
namespace fc = boost::context::detail;

namespace
{

const std::size_t stack_size = 64 * 1024;
alignas(64) char stack[stack_size];
char *const stack_top = stack + stack_size;

/* ---- fcontext ---- */

void fc_pingpong(fc::transfer_t t)
{
    for (;;)
        t = fc::jump_fcontext(t.fctx, nullptr);
}

double fc_roundtrip(long n)
{
    fc::transfer_t t =
        fc::jump_fcontext(fc::make_fcontext(stack_top, stack_size, fc_pingpong), nullptr);
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        t = fc::jump_fcontext(t.fctx, nullptr);
    return bench_now_ns() - t0;
}

void *nothing(void *arg)
{
    return arg;
}
void *(*volatile body)(void *) = nothing;

/* Runs the body and switches out for good: an fcontext function must
 * never return. */
void fc_run(fc::transfer_t t)
{
    fc::jump_fcontext(t.fctx, body(t.data));
    std::abort();
}

double fc_lifecycle(long n)
{
    std::uintptr_t bad = 0;
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        fc::fcontext_t c = fc::make_fcontext(stack_top, stack_size, fc_run);
        fc::transfer_t t = fc::jump_fcontext(c, reinterpret_cast<void *>(i));
        bad |= reinterpret_cast<std::uintptr_t>(t.data) ^ static_cast<std::uintptr_t>(i);
    }
    double t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

void fc_successor(fc::transfer_t t)
{
    for (;;)
        t = fc::jump_fcontext(
            t.fctx, reinterpret_cast<void *>(reinterpret_cast<std::uintptr_t>(t.data) + 1));
}

double fc_value(long n)
{
    std::uintptr_t bad = 0;
    fc::transfer_t t =
        fc::jump_fcontext(fc::make_fcontext(stack_top, stack_size, fc_successor), nullptr);
    double t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        t = fc::jump_fcontext(t.fctx, reinterpret_cast<void *>(i));
        bad |= reinterpret_cast<std::uintptr_t>(t.data) ^ static_cast<std::uintptr_t>(i + 1);
    }
    double t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

/* ---- fiber ---- */

double fiber_roundtrip(long n)
{
    ctx::fiber f{[](ctx::fiber &&m) {
        for (;;)
            m = std::move(m).resume();
        return std::move(m);
    }};
    f = std::move(f).resume();
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        f = std::move(f).resume();
    return bench_now_ns() - t0;
    /* f is destroyed suspended: Boost unwinds it */
}

/* With fiber's default stack allocator (fixedsize_stack: malloc, no guard). */
double fiber_lifecycle(long n)
{
    std::uintptr_t bad = 0;
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        void *out = nullptr;
        ctx::fiber f{[i, &out](ctx::fiber &&m) {
            out = body(reinterpret_cast<void *>(i));
            return std::move(m);
        }};
        f = std::move(f).resume();
        bad |= reinterpret_cast<std::uintptr_t>(out) ^ static_cast<std::uintptr_t>(i);
    }
    double t1 = bench_now_ns();
    return bad ? -1 : t1 - t0;
}

bench_op ops[] = {
    {BENCH_FIG_ROUNDTRIP, "fcontext", fc_roundtrip},
    {BENCH_FIG_ROUNDTRIP, "fiber", fiber_roundtrip},
    {BENCH_FIG_LIFECYCLE, "fcontext", fc_lifecycle},
    {BENCH_FIG_LIFECYCLE, "fiber", fiber_lifecycle},
    {BENCH_FIG_VALUE, "fcontext", fc_value},
    {"version", nullptr, nullptr}, /* not an operation: the version, named below */
    {nullptr, nullptr, nullptr},
};
const int version_op = 5;
char version[32];

} // namespace

extern "C" __attribute__((visibility("default"))) const bench_op *bench_peer_ops(void)
{
    std::snprintf(version, sizeof version, "Boost %d.%d", BOOST_VERSION / 100000,
                  BOOST_VERSION / 100 % 1000);
    ops[version_op].name = version;
    return ops;
}
