#!/usr/bin/env python3
"""server_probes.py - hostile clients for the example servers, run by
tests/check_servers.sh:

    server_probes.py PROBE PORT PID

runs one group of checks against a server listening on 127.0.0.1:PORT
(PID: its process, whose memory and fds some checks read from /proc) and
exits 0, or 1 with what went wrong. The deadline probes expect the server
to run with SERVER_TIMEOUTS_MS="1000 3000 1000" (request, idle, write);
each group runs its slow checks in threads at once, so that a group takes
a few seconds.
"""
import os
import select
import socket
import sys
import threading
import time

REQUEST, IDLE = 1.0, 3.0  # the short deadlines the deadline probes expect


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Conn:
    """A client connection with a read buffer."""

    def __init__(self, port, timeout=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _more(self):
        try:
            data = self.s.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        """Everything until the server closes (a reset counts as a close)."""
        try:
            while True:
                self._more()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out

    def close(self):
        self.s.close()


def closed_within(c, limit, trickle=None):
    """Seconds until the server closes c (end of file or reset), sending
    one byte of trickle every 0.2 s meanwhile; None if it is still open
    after limit seconds."""
    start = time.monotonic()
    next_byte = start
    while time.monotonic() - start < limit:
        if trickle is not None and time.monotonic() >= next_byte:
            try:
                c.s.send(trickle)
            except OSError:
                return time.monotonic() - start
            next_byte += 0.2
        if select.select([c.s], [], [], 0.05)[0]:
            try:
                if not c.s.recv(65536):
                    return time.monotonic() - start
            except OSError:
                return time.monotonic() - start
    return None


def expect_cut(c, low, high, trickle=None, what="connection"):
    t = closed_within(c, high, trickle)
    check(t is not None, "%s still open after %.1f s" % (what, high))
    check(t >= low, "%s closed after %.2f s, before its deadline (%.1f s)" % (what, t, low))


def together(*checks):
    """Runs the checks in threads at once; raises the first failure."""
    errors = []

    def run(f):
        try:
            f()
        except Exception as e:  # pylint: disable=broad-except
            errors.append("%s: %s" % (f.__name__, e))

    threads = [threading.Thread(target=run, args=(f,)) for f in checks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise Failure("; ".join(errors))


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Failure("no %s in /proc/%d/status" % (field, pid))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    check(state not in ("Z", "X", "gone"), "the server died")


# ---- Redis ----

def cmd(*args):
    """A command as redis-cli sends it: an array of bulk strings."""
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def reply(c):
    """One whole answer, as bytes."""
    head = c.line()
    if head[:1] == b"$" and int(head[1:-2]) >= 0:
        return head + c.exact(int(head[1:-2]) + 2)
    return head


def ask(c, *args):
    c.send(cmd(*args))
    return reply(c)


def redis_ping(port):
    c = Conn(port)
    check(ask(c, "PING") == b"+PONG\r\n", "PING not answered")
    c.close()


def redis_protocol(port, pid):
    """Malformed commands get Redis's protocol errors and a close; the
    server survives them (a count line of spaces used to make it read past
    its buffer)."""
    count, length = b"invalid multibulk length", b"invalid bulk length"
    bad = [
        (b"*" + b" " * ((1 << 20) - 3) + b"\r\n", count),
        (b"*\r\n" + b" " * 4000, count),
        (b"*1\r\n$" + b" " * 4000 + b"\r\n", length),
        (b"*1\r\n$-1\r\n", length),
        (b"*1\r\n$9999999999999999999999\r\n", length),
        (b"*2\r\n$3\r\nGET\r\n$2000000\r\n", length),
        (b"*1\r\nPING\r\n", b"expected '$', got 'P'"),
        (b"*1\r\n\r\n", b"expected '$', got ' '"),
        (b"*1\r\n\0", b"expected '$', got ' '"),
        (b"*9223372036854775808\r\n", count),
        (b"*65\r\n", b"too many arguments"),
        (b"*1\r\n$4\r\nPINGxx", b"bulk string not followed by CRLF"),
        (b"x" * 70000, b"too big inline request"),
    ]
    for data, why in bad:
        want = b"-ERR Protocol error: " + why + b"\r\n"
        c = Conn(port)
        c.send(data)
        got = c.rest()
        c.close()
        check(got == want, "%r...: answered %r, not %r" % (data[:24], got[:80], want))
        alive(pid)
        redis_ping(port)
    # A line of spaces alone is an empty inline command: no answer, as in
    # Redis; so is "*0". Inline words are separated by spaces.
    c = Conn(port)
    c.send(b" " * 3000 + b"\r\n*0\r\n*-1\r\n  PING  \r\nECHO   hi\n")
    check(reply(c) == b"+PONG\r\n", "inline PING after blank lines")
    check(reply(c) == b"$2\r\nhi\r\n", "inline ECHO")
    c.close()


def redis_integers(port, pid):
    """Integer arguments: Redis's answers, never an overflow."""
    big = "9223372036854775807"
    not_int = b"-ERR value is not an integer or out of range\r\n"
    set_time = b"-ERR invalid expire time in 'set' command\r\n"
    expire_time = b"-ERR invalid expire time in 'expire' command\r\n"
    script = [
        (("SET", "k", "v", "EX", "10000000000"), b"+OK\r\n"),
        (("TTL", "k"), b":10000000000\r\n"),
        (("SET", "k", "v", "PX", "10000000000000"), b"+OK\r\n"),
        (("TTL", "k"), b":10000000000\r\n"),
        (("SET", "k", "v", "EX", "9223372036854776"), set_time),
        (("SET", "k", "v", "EX", big), set_time),
        (("SET", "k", "v", "PX", big), set_time),
        (("SET", "k", "v", "EX", "0"), set_time),
        (("SET", "k", "v", "EX", "-1"), set_time),
        (("SET", "k", "v", "EX", "99999999999999999999"), not_int),
        (("SET", "k", "v", "EX", "1x"), not_int),
        (("SET", "k", "v", "EX", " 1"), not_int),
        (("SET", "k", "v", "EX", "01"), not_int),
        (("SET", "k", "v", "EX"), b"-ERR syntax error\r\n"),
        (("SET", "k", "v", "XX", "10"), b"-ERR syntax error\r\n"),
        (("TTL", "k"), b":10000000000\r\n"),
        (("EXPIRE", "k", big), expire_time),
        (("EXPIRE", "k", "-9223372036854775808"), expire_time),
        (("EXPIRE", "nokey", big), expire_time),
        (("EXPIRE", "k", "x"), not_int),
        (("EXPIRE", "nokey", "100"), b":0\r\n"),
        (("EXPIRE", "k", "100"), b":1\r\n"),
        (("TTL", "k"), b":100\r\n"),
        (("EXPIRE", "k", "0"), b":1\r\n"),
        (("GET", "k"), b"$-1\r\n"),
        (("TTL", "k"), b":-2\r\n"),
        (("SET", "n", "9223372036854775806"), b"+OK\r\n"),
        (("INCR", "n"), b":9223372036854775807\r\n"),
        (("INCR", "n"), b"-ERR increment or decrement would overflow\r\n"),
        (("GET", "n"), b"$19\r\n9223372036854775807\r\n"),
        (("SET", "n", "9223372036854775808"), b"+OK\r\n"),
        (("INCR", "n"), not_int),
        (("SET", "n", "-9223372036854775808"), b"+OK\r\n"),
        (("INCR", "n"), b":-9223372036854775807\r\n"),
        (("SET", "n", "007"), b"+OK\r\n"),
        (("INCR", "n"), not_int),
        (("SET", "n", " 5"), b"+OK\r\n"),
        (("INCR", "n"), not_int),
        (("SET", "n", ""), b"+OK\r\n"),
        (("INCR", "n"), not_int),
        (("SET", "n", "-1"), b"+OK\r\n"),
        (("INCR", "n"), b":0\r\n"),
        (("INCR", "fresh"), b":1\r\n"),
        (("SET", "t", "5", "EX", "100"), b"+OK\r\n"),
        (("INCR", "t"), b":6\r\n"),
        (("TTL", "t"), b":100\r\n"),
        (("DEL", "n", "fresh", "t", "nokey"), b":3\r\n"),
    ]
    c = Conn(port)
    for args, want in script:
        got = ask(c, *args)
        check(got == want, "%s: answered %r, not %r" % (" ".join(args), got, want))
    c.close()
    alive(pid)


def redis_output_bound(port, pid):
    """Pipelined GETs of a 1 MB value that the client does not read: the
    server's memory stays bounded, and every answer arrives once read."""
    value = (bytes(range(256)) * 3907)[:1000000]
    n = 200
    c = Conn(port)
    check(ask(c, "SET", "big", value) == b"+OK\r\n", "SET big")
    check(ask(c, "PING") == b"+PONG\r\n", "PING")
    try:  # the peak from here on (VmHWM), where the kernel can reset it
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
    except OSError:
        pass
    before = rss_kb(pid)
    c.send(cmd("GET", "big") * n)
    time.sleep(1.5)  # the server runs what it can meanwhile
    grew = max(rss_kb(pid, "VmHWM"), rss_kb(pid)) - before
    check(grew < 32 * 1024,
          "%d GETs of 1 MB not read: the server grew by %d MB" % (n, grew // 1024))
    want = b"$1000000\r\n" + value + b"\r\n"
    for i in range(n):
        got = c.exact(len(want))
        check(got == want, "answer %d of %d differs" % (i + 1, n))
    check(ask(c, "DEL", "big") == b":1\r\n", "DEL big")
    c.close()
    print("%d pipelined GETs of 1 MB, not read for 1.5 s: server grew by %d KB" % (n, grew))


def redis_deadlines(port, pid):
    """With SERVER_TIMEOUTS_MS="1000 3000 1000": a command trickling in is
    cut at 1 s, an idle connection at 3 s but not at 1.5 s, and a client
    that pipelines without reading once its answers stop moving."""
    def slow_command():
        c = Conn(port)
        c.send(b"*2\r\n$4\r\nECHO\r\n$100\r\n")
        expect_cut(c, REQUEST - 0.1, REQUEST + 4, trickle=b"x", what="a trickling command")

    def slow_value():
        c = Conn(port)
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + b"v" * 50000)
        expect_cut(c, REQUEST - 0.1, REQUEST + 4, what="a half-sent value")

    def idle_is_longer():
        c = Conn(port)
        check(ask(c, "PING") == b"+PONG\r\n", "PING")
        time.sleep(REQUEST + 0.5)
        check(ask(c, "PING") == b"+PONG\r\n", "PING after %.1f s idle" % (REQUEST + 0.5))
        c.close()

    def idle_cut():
        c = Conn(port)
        expect_cut(c, IDLE - 0.1, IDLE + 5, what="an idle connection")

    def never_reads():
        c = Conn(port)
        check(ask(c, "SET", "big2", b"v" * 1000000) == b"+OK\r\n", "SET big2")
        c.send(cmd("GET", "big2") * 50)
        time.sleep(3)
        c.s.settimeout(5)
        try:
            got = c.rest()
        except socket.timeout:
            raise Failure("a client that does not read its answers is still connected after 3 s")
        check(len(got) < 50 * 1000012, "all 50 answers were kept for a client that did not read")

    together(slow_command, slow_value, idle_is_longer, idle_cut, never_reads)
    alive(pid)
    redis_ping(port)


# ---- HTTP ----

def response(c):
    """One response: (status line, head, body)."""
    status = c.line()
    head = b""
    while True:
        line = c.line()
        if line == b"\r\n":
            break
        head += line
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status.rstrip(), head, c.exact(length)


def responses(data, port):
    """The status lines of every response to data, until the server closes."""
    c = Conn(port)
    c.send(data)
    out = []
    try:
        while True:
            out.append(response(c)[0])
    except EOFError:
        pass
    c.close()
    return out


def http_get(port):
    c = Conn(port)
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = response(c)
    check(status == b"HTTP/1.1 200 OK" and body == b"Hello, World!\n", "GET / after the checks")
    c.close()


def http_bodies(port, pid):
    """A body is read and dropped by its Content-Length, never taken for
    the next request; what the server cannot frame is refused and closed."""
    last = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    smuggled = b"GET /nothing HTTP/1.1\r\n\r\n"
    ok, post = b"HTTP/1.1 200 OK", b"POST / HTTP/1.1\r\n"
    no = b"HTTP/1.1 405 Method Not Allowed"
    bad, big = b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 413 Content Too Large"
    te = b"HTTP/1.1 501 Not Implemented"
    cases = [
        (post + b"Content-Length: %d\r\n\r\n%s%s" % (len(smuggled), smuggled, last), [no, ok]),
        (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + last, [ok, ok]),
        (post + b"Content-Length: 0\r\n\r\n" + last, [no, ok]),
        (post + b"Content-Length: 3\r\ncontent-length: 3\r\n\r\nabc" + last, [no, ok]),
        (b"\r\n\r\n" + last, [ok]),
        (post + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + last, [te]),
        (post + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + last, [te]),
        (post + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" + last, [bad]),
        (post + b"Content-Length: 5, 5\r\n\r\nhello" + last, [bad]),
        (post + b"Content-Length: +5\r\n\r\nhello" + last, [bad]),
        (post + b"Content-Length: 0x5\r\n\r\nhello" + last, [bad]),
        (post + b"Content-Length : 5\r\n\r\nhello" + last, [bad]),
        (post + b"X: a\r\n Content-Length: 5\r\n\r\nhello" + last, [bad]),
        (b"GET / HTTP/1.1\nContent-Length: 5\r\n\r\nhello" + last, [bad]),
        (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n" + last, [bad]),
        (post + b"Content-Length: 1048577\r\n\r\n", [big]),
        (post + b"Content-Length: 99999999999999999999999\r\n\r\n", [big]),
        (b"GET / HTTP/2.0\r\n\r\n", [b"HTTP/1.1 505 HTTP Version Not Supported"]),
    ]
    for data, want in cases:
        got = responses(data, port)
        check(got == want, "%r: answered %r, not %r" % (data[:60], got, want))
        alive(pid)
    # A body that comes in pieces, after its head, with the next request.
    c = Conn(port)
    c.send(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n")
    time.sleep(0.2)
    c.send(b"GET /")
    time.sleep(0.2)
    c.send(b"x\r\n\r\nGET / HTTP/1.1\r\n\r\n")
    check(response(c)[0] == no, "POST with a body in pieces")
    check(response(c)[0] == ok, "the request after a body in pieces")
    c.close()
    # A body of 1 MiB is dropped, and the connection goes on.
    c = Conn(port)
    c.send(post + b"Content-Length: 1048576\r\n\r\n" + b"b" * 1048576 + b"GET / HTTP/1.1\r\n\r\n")
    check(response(c)[0] == no, "POST of 1 MiB")
    check(response(c)[0] == ok, "the request after 1 MiB of body")
    c.close()
    http_get(port)


def http_deadlines(port, pid):
    """With SERVER_TIMEOUTS_MS="1000 3000 1000": a head or a body
    trickling in is cut at 1 s from its first byte, an idle connection at
    3 s but not at 1.5 s, a client that pipelines without reading once its
    answers stop moving."""
    def slow_head():
        c = Conn(port)
        c.send(b"GET / HTTP/1.1\r\n")
        expect_cut(c, REQUEST - 0.1, REQUEST + 4, trickle=b"x", what="a trickling head")

    def slow_body():
        c = Conn(port)
        c.send(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
        expect_cut(c, REQUEST - 0.1, REQUEST + 4, trickle=b"x", what="a trickling body")

    def idle_is_longer():
        c = Conn(port)
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        check(response(c)[0] == b"HTTP/1.1 200 OK", "GET /")
        time.sleep(REQUEST + 0.5)
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        check(response(c)[0] == b"HTTP/1.1 200 OK", "GET / after %.1f s idle" % (REQUEST + 0.5))
        c.close()

    def idle_cut():
        c = Conn(port)
        expect_cut(c, IDLE - 0.1, IDLE + 5, what="an idle connection")

    def never_reads():
        c = Conn(port)
        n = 500
        c.send(b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n" * n)
        time.sleep(3)
        c.s.settimeout(5)
        count = 0
        try:
            while True:
                response(c)
                count += 1
        except EOFError:
            pass
        except socket.timeout:
            raise Failure("a client that does not read its answers is still connected after 3 s")
        check(count < n, "all %d answers were kept for a client that did not read" % n)

    together(slow_head, slow_body, idle_is_longer, idle_cut, never_reads)
    alive(pid)
    http_get(port)


def http_fd_limit(port, pid):
    """The server runs with a low fd limit: more slow clients than it has
    fds are cut at their deadline, and a client behind them is served."""
    slow = []
    for _ in range(80):
        c = Conn(port)
        c.send(b"GET /")
        slow.append(c)
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for c in list(slow):
                try:
                    c.s.send(b"a")
                except OSError:
                    slow.remove(c)
            time.sleep(0.3)

    t = threading.Thread(target=trickle)
    t.start()
    try:
        start = time.monotonic()
        c = Conn(port, timeout=15)
        c.send(b"GET / HTTP/1.1\r\n\r\n")
        try:
            status = response(c)[0]
        except socket.timeout:
            raise Failure("a client behind 80 slow ones was not served within 15 s")
        check(status == b"HTTP/1.1 200 OK", "the client behind the slow ones: %r" % status)
        print("served behind 80 slow clients after %.1f s" % (time.monotonic() - start))
    finally:
        stop.set()
        t.join()
        for c in slow:
            c.close()
    alive(pid)


PROBES = {f.__name__: f for f in (redis_protocol, redis_integers, redis_output_bound,
                                  redis_deadlines, http_bodies, http_deadlines, http_fd_limit)}

if __name__ == "__main__":
    probe, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        PROBES[probe](port, pid)
    except (Failure, OSError, EOFError) as e:
        print("%s: %s: %s" % (probe, type(e).__name__, e))
        sys.exit(1)
    print("%s: ok" % probe)
