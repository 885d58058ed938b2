// go_server.go - the Go reference of the network benchmark (golang-go, run
// with GOMAXPROCS=1 set by the caller): the same two servers as
// epoll_server.c, written the way Go is meant to be used. Standard library
// only; builds as a single file, no go.mod.
//
//	go_server http|echo PORT      (PORT 0: any free port)
//
// Prints "listening on 127.0.0.1:<port>" once listening, serves until
// SIGTERM or SIGINT, then exits 0.
//
// http is net/http, the standard library server. Its answer carries the same
// headers and body as the C servers' but not the same bytes: net/http writes
// the headers sorted by name (Content-Length, Content-Type, Server), and it
// answers pipelined requests one at a time, one write each, where the C
// servers coalesce them. The Date header is suppressed (set to nil), so the
// length is the same. echo is net.Listen and a goroutine per connection with
// a read / write loop.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var body = []byte("Hello, World!\n")

func hello(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Date"] = nil // nil, not deleted: net/http adds a Date unless the key is present
	h["Server"] = []string{"coro"}
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{"14"}
	w.Write(body)
}

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16384)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of fds and the like: back off, as net/http does
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go echo(c)
	}
}

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "http" && os.Args[1] != "echo") {
		fmt.Fprintln(os.Stderr, "usage: go_server http|echo PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_server:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if os.Args[1] == "http" {
		go http.Serve(ln, http.HandlerFunc(hello))
	} else {
		go serveEcho(ln)
	}
	<-stop
	ln.Close()
}
