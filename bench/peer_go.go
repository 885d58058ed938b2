// peer_go.go - the Go reference of the benchmark suite (golang-go, run with
// GOMAXPROCS=1 unless the environment sets it): goroutines handing values over unbuffered channels, the
// nearest Go has to a resume / yield; and the same work as coro's runtime
// rows (ops_rt.c): spawn, channel ping-pong, select, sleep. Standard
// library only.
//
//	peer_go OP N         OP: roundtrip lifecycle wrap value spawn chan bchan
//	                     select sleep; prints ns/op
//	peer_go mem N PAGE   prints the resident bytes one more parked goroutine
//	                     costs, from N/2 to N
//	peer_go version      prints the Go version
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Two switches per round trip: main -> echo -> main.
func roundtrip(n int) time.Duration {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	ping <- 0
	<-pong
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	d := time.Since(t0)
	close(ping)
	return d
}

// Start a goroutine, let it run to its end, wait for it.
func lifecycle(n int) time.Duration {
	done := make(chan int)
	bad := false
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(x int) { done <- x }(i)
		bad = bad || <-done != i
	}
	d := time.Since(t0)
	if bad {
		panic("lifecycle: wrong value")
	}
	return d
}

// A generator: a goroutine sending 1, 2, 3, ... on an unbuffered channel.
func wrap(n int) time.Duration {
	gen := make(chan int)
	go func() {
		for i := 1; ; i++ {
			gen <- i
		}
	}()
	bad := false
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		bad = bad || <-gen != i
	}
	d := time.Since(t0)
	if bad {
		panic("wrap: wrong value")
	}
	return d
}

// Send v, receive v + 1, checked.
func value(n int) time.Duration {
	in, out := make(chan int), make(chan int)
	go func() {
		for v := range in {
			out <- v + 1
		}
	}()
	bad := false
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		in <- i
		bad = bad || <-out != i+1
	}
	d := time.Since(t0)
	close(in)
	if bad {
		panic("value: wrong value")
	}
	return d
}

// Send v, receive v + 1 from a goroutine, over channels of capacity c.
func pingpong(n, c int) time.Duration {
	in, out := make(chan int, c), make(chan int, c)
	go func() {
		for v := range in {
			out <- v + 1
		}
	}()
	in <- -1
	bad := <-out != 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		in <- i
		bad = bad || <-out != i+1
	}
	d := time.Since(t0)
	close(in)
	if bad {
		panic("pingpong: wrong value")
	}
	return d
}

// A select over 4 receive cases; a goroutine sends i on channel i % 4, so
// one case is ready each time.
func select4(n int) time.Duration {
	var cs [4]chan int
	for k := range cs {
		cs[k] = make(chan int)
	}
	go func() {
		for i := 0; i <= n; i++ {
			cs[i%4] <- i
		}
	}()
	bad := false
	var t0 time.Time
	for i := 0; i <= n; i++ {
		if i == 1 {
			t0 = time.Now()
		}
		var v, k int
		select {
		case v = <-cs[0]:
			k = 0
		case v = <-cs[1]:
			k = 1
		case v = <-cs[2]:
			k = 2
		case v = <-cs[3]:
			k = 3
		}
		bad = bad || v != i || k != i%4
	}
	d := time.Since(t0)
	if bad {
		panic("select: wrong value")
	}
	return d
}

// 1,000 goroutines each looping time.Sleep(1 us), n sleeps in all; let go
// together once they all exist and wait, and timed to the end of the last
// sleep (they end after it), as coro's tasks are.
func sleep(n int) time.Duration {
	tasks := 1000
	if n < tasks {
		tasks = n
	}
	start, finish := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var done, finished int64
	var mu sync.Mutex
	var t1 time.Time
	wg.Add(tasks)
	for i := 0; i < tasks; i++ {
		k := n / tasks
		if i < n%tasks {
			k++
		}
		go func(k int) {
			<-start
			for j := 0; j < k; j++ {
				time.Sleep(time.Microsecond)
			}
			mu.Lock()
			done += int64(k)
			if finished++; finished == int64(tasks) {
				t1 = time.Now()
				close(finish)
			}
			mu.Unlock()
			<-finish
			wg.Done()
		}(k)
	}
	runtime.Gosched() // each runs to its receive
	t0 := time.Now()
	close(start)
	wg.Wait()
	d := t1.Sub(t0)
	if done != int64(n) {
		panic("sleep: wrong count")
	}
	return d
}

func residentPages() int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	var size, resident int
	fmt.Sscan(string(b), &size, &resident)
	return resident
}

// The cost of one more goroutine parked on a channel receive: the growth
// from n/2 to n of them.
func memory(n, page int) float64 {
	block := make(chan int)
	var wg sync.WaitGroup
	spawn := func(k int) {
		wg.Add(k)
		for i := 0; i < k; i++ {
			go func() {
				wg.Done()
				<-block
			}()
		}
		wg.Wait()
		runtime.GC()
	}
	half := n / 2
	spawn(half)
	r0 := residentPages()
	spawn(n - half)
	r1 := residentPages()
	runtime.KeepAlive(block)
	return float64(r1-r0) * float64(page) / float64(n-half)
}

// Each operation runs warmup times untimed before its timed run. Go takes
// about 100,000 goroutine starts to reach its steady state (goroutine
// structures and stacks to reuse, the collector's pacing); a short sample
// timed from a cold start measured up to 1.7x the steady cost of a spawn
// and 1.2x that of a channel ping-pong, while coro's rows are timed warm
// (each sample is a slice of one long run, after a first untimed operation).
const warmup = 300000

func main() {
	if os.Getenv("GOMAXPROCS") == "" { // the suite's rows are on one P; bench/cores.c asks for two
		runtime.GOMAXPROCS(1)
	}
	if len(os.Args) >= 2 && os.Args[1] == "version" {
		fmt.Println(runtime.Version())
		return
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peer_go OP N | mem N [PAGE] | version")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "peer_go: bad N")
		os.Exit(2)
	}
	ops := map[string]func(int) time.Duration{
		"roundtrip": roundtrip, "lifecycle": lifecycle, "wrap": wrap, "value": value,
		// spawn is lifecycle's go func(x) { done <- x }(i); <-done
		"spawn":  lifecycle,
		"chan":   func(n int) time.Duration { return pingpong(n, 0) },
		"bchan":  func(n int) time.Duration { return pingpong(n, 64) },
		"select": select4, "sleep": sleep,
	}
	if os.Args[1] == "mem" {
		page := 4096
		if len(os.Args) > 3 {
			page, _ = strconv.Atoi(os.Args[3])
		}
		fmt.Printf("%.1f\n", memory(n, page))
		return
	}
	op, ok := ops[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "peer_go: unknown operation", os.Args[1])
		os.Exit(2)
	}
	op(warmup) // untimed: see warmup
	fmt.Printf("%.4f\n", float64(op(n).Nanoseconds())/float64(n))
}
