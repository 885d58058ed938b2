/*
 * error.c - error codes and messages, and errors as values: raising an error
 * records its message and value in the running coroutine, and unwind.c
 * carries it to the nearest protected scope.
 *
 * A message is formatted into a malloc'd buffer. When that allocation fails
 * the message becomes the string literal "not enough memory", as Lua turns
 * any error into a memory error when it cannot allocate: an error is never
 * lost for want of memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char msg_nomem[] = "not enough memory";
static const char msg_nostring[] = "(error object is not a string)";

const char *coro_strerror(int err)
{
    switch (err) {
#define CORO_X_(name, value, msg)                                                                  \
    case CORO_##name:                                                                              \
        return msg;
        CORO_ERRNO_MAP(CORO_X_)
#undef CORO_X_
    case 0:
        return "success";
    default:
        break;
    }
    /* The I/O calls pass other negative errno codes on (EISDIR, EROFS ...):
     * the system's message for those (glibc's table is constant strings). */
    if (err < 0 && err > -1000) {
        const char *msg = strerror(-err);

        if (msg != NULL && strncmp(msg, "Unknown error", 13) != 0)
            return msg;
    }
    return "unknown error";
}

const char *coro_errname(int err)
{
    switch (err) {
#define CORO_X_(name, value, msg)                                                                  \
    case CORO_##name:                                                                              \
        return "CORO_" #name;
        CORO_ERRNO_MAP(CORO_X_)
#undef CORO_X_
    case 0:
        return "CORO_OK";
    default:
        return "CORO_UNKNOWN";
    }
}

void coro__err_free(coro__err *e)
{
    if (e->owned)
        coro__free(e->msg);
    e->msg = NULL;
    e->value = NULL;
    e->owned = 0;
}

/* Replaces co's error with (value, msg); co owns msg unless it is one of the
 * literals above. */
static void set_owned(coro *co, void *value, char *msg, int is_static)
{
    coro__err_drop(&co->err);
    co->err.msg = msg;
    co->err.value = value;
    co->err.owned = !is_static;
}

/* Sets co's error to a copy of msg (NULL: "not a string"). */
void coro__error_set(coro *co, void *value, const char *msg)
{
    char *copy;

    if (msg == NULL) {
        set_owned(co, value, (char *)msg_nostring, 1);
        return;
    }
    copy = coro__strdup(msg);
    if (copy == NULL)
        set_owned(co, value, (char *)msg_nomem, 1);
    else
        set_owned(co, value, copy, 0);
}

static char *format(const char *fmt, va_list ap)
{
    va_list ap2;
    char *buf;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    buf = coro__malloc((size_t)n + 1);
    if (buf != NULL)
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
    return buf;
}

/* Formats the message and throws; returns only when nothing can catch. */
static int raise_v(void *value, const char *fmt, va_list ap)
{
    coro__thread *t = coro__thread_get();
    coro *cur;
    char *msg;

    if (t == NULL)
        return CORO_ENOMEM;
    cur = t->current;
    if (cur->frame == NULL)
        return CORO_ENOHANDLER;
    if (fmt == NULL) {
        set_owned(cur, value, (char *)msg_nostring, 1);
    } else {
        msg = format(fmt, ap);
        if (msg == NULL)
            set_owned(cur, value, (char *)msg_nomem, 1);
        else
            set_owned(cur, value, msg, 0);
    }
    return 1;
}

int coro_error(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = raise_v(NULL, fmt, ap);
    va_end(ap);
    if (r < 0)
        return r;
    coro__throw(coro__tls->current, CORO_EERROR);
}

int coro_error_value(void *value, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = raise_v(value, fmt, ap);
    va_end(ap);
    if (r < 0)
        return r;
    coro__throw(coro__tls->current, CORO_EERROR);
}

const char *coro_errmsg(const coro *co)
{
    return co != NULL ? co->err.msg : NULL;
}

void *coro_errvalue(const coro *co)
{
    return co != NULL ? co->err.value : NULL;
}
