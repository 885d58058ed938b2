/*
 * hooks.h - the I/O layer's test hooks: its system call sites (each of
 * which a test can make fail, core/fault.h), reads and writes cut into
 * chunks, and the receive-ahead ring's size and state.
 */
#ifndef CORO_IO_HOOKS_H
#define CORO_IO_HOOKS_H

#include "internal.h"

/* The system calls of the I/O layer, by site. A site covers every call of
 * its kind. */
enum coro__sys {
    CORO__SYS_SOCKET,       /* socket(): listen, connect, UDP */
    CORO__SYS_ACCEPT,       /* accept4() */
    CORO__SYS_CONNECT,      /* connect() */
    CORO__SYS_READ,         /* read, readv, recvfrom of the I/O calls */
    CORO__SYS_WRITE,        /* write, writev, send, sendmsg, sendto, sendfile */
    CORO__SYS_FCNTL,        /* making an adopted fd non-blocking */
    CORO__SYS_EPOLL_CREATE, /* the loop's poller */
    CORO__SYS_EPOLL_CTL,    /* watching an fd, changing or ending a watch */
    CORO__SYS_EPOLL_WAIT,   /* the loop's wait in epoll */
    CORO__SYS_EVENTFD,      /* the completion eventfds (offload pool, io_uring) */
    CORO__SYS_THREAD,       /* pthread_create for the offload pool */
    CORO__SYS_URING_SETUP,  /* io_uring_setup: file and receive-ahead rings */
    CORO__SYS_URING_SQE,    /* no free submission entry in a ring */
    CORO__SYS_URING_SUBMIT, /* a ring's submission refused */
    CORO__SYS_N
};

typedef char coro__sys_sites_fit[CORO__SYS_N <= CORO__SYS_MAX ? 1 : -1];

/* Reads and writes move at most `chunk` bytes (0: no limit). */
CORO__HIDDEN void coro__io_inject(size_t chunk);
/* Receiving ahead (rx.h): the next loop's ring gets nbuf buffers (a power
 * of two; 0: the default), so that tests can run out of them; and whether
 * fd is received ahead now (1), or read with read() (0). */
CORO__HIDDEN void coro__rx_inject(unsigned nbuf);
CORO__HIDDEN int coro__fd_read_ahead(int fd);
/* Ends the running loop's ring's poll of epoll, as a kernel may: 0, or
 * CORO_ENOSYS when the loop does not receive ahead. */
CORO__HIDDEN int coro__rx_test_end_poll(void);

#endif /* CORO_IO_HOOKS_H */
