// Go's figures for the shapes ./lab bench measures in C, printed beside
// them when go is installed (never needed to build or test). Goroutines
// cannot be pinned: GOMAXPROCS=1 stands for "one CPU", 2 for "two CPUs".
//
//	go run floor.go
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const reps = 7

func median(v []float64) (float64, float64, float64) {
	sort.Float64s(v)
	return v[len(v)/2], v[0], v[len(v)-1]
}

// With GO_CSV set, each row is also appended there as go,NAME,MEDIAN,UNIT,
// for ./lab bench's table of here beside Go.
func row(name string, v []float64, unit string) {
	m, lo, hi := median(v)
	fmt.Printf("  %-58s %12.2f %s [%.2f-%.2f]\n", name, m, unit, lo, hi)
	if path := os.Getenv("GO_CSV"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "go,%s,%.3f,%s\n", name, m, unit)
			f.Close()
		}
	}
}

// Microseconds per round trip over two unbuffered channels.
func pingPong(rounds int) float64 {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < rounds; i++ {
			pong <- <-ping
		}
	}()
	start := time.Now()
	for i := 0; i < rounds; i++ {
		ping <- i
		<-pong
	}
	return float64(time.Since(start).Nanoseconds()) / float64(rounds) / 1000
}

// Milliseconds from cancel to the last goroutine's return.
func wakeAll(n int) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	var ready sync.WaitGroup
	var left int64 = int64(n)
	done := make(chan time.Time, 1)
	ready.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			ready.Done()
			<-ctx.Done()
			if atomic.AddInt64(&left, -1) == 0 {
				done <- time.Now()
			}
		}()
	}
	ready.Wait()
	time.Sleep(time.Duration(2+n/50) * time.Millisecond) // let them block
	start := time.Now()
	cancel()
	return float64((<-done).Sub(start).Nanoseconds()) / 1e6
}

// Millions of messages a second through one channel of 128 slots, pairs
// senders to pairs receivers, total messages in all.
func throughput(pairs, total int) float64 {
	ch := make(chan int, 128)
	per := total / pairs
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < pairs; p++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ch <- i
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				<-ch
			}
		}()
	}
	wg.Wait()
	return float64(per*pairs) / time.Since(start).Seconds() / 1e6
}

// Nanoseconds per select over two channels of 64 slots that another
// goroutine feeds in turn.
func selectCost(total int) float64 {
	a, b := make(chan int, 64), make(chan int, 64)
	go func() {
		for i := 0; i < total; i++ {
			if i%2 == 0 {
				a <- i
			} else {
				b <- i
			}
		}
	}()
	start := time.Now()
	for i := 0; i < total; i++ {
		select {
		case <-a:
		case <-b:
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(total)
}

func main() {
	fmt.Printf("\nGo %s, for comparison (median [min-max] of %d)\n", runtime.Version(), reps)
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		v := make([]float64, reps)
		for r := range v {
			v[r] = pingPong(100000)
		}
		row(fmt.Sprintf("Go ping-pong, GOMAXPROCS=%d", procs), v, "us")
	}
	runtime.GOMAXPROCS(runtime.NumCPU())
	for _, pairs := range []int{1, 4} {
		v := make([]float64, reps)
		for r := range v {
			v[r] = throughput(pairs, 1000000)
		}
		row(fmt.Sprintf("Go buffered (128), %d -> %d", pairs, pairs), v, "M msgs/s")
	}
	v := make([]float64, reps)
	for r := range v {
		v[r] = selectCost(500000)
	}
	row("Go select over 2 channels, fed by another goroutine", v, "ns/op")
	for _, n := range []int{1000, 10000} {
		v := make([]float64, reps)
		for r := range v {
			v[r] = wakeAll(n)
		}
		row(fmt.Sprintf("Go: %d goroutines, cancel to the last return", n), v, "ms")
	}
}
