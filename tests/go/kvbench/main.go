// kvbench is the KV benchmark's client: one workload against an
// etcd-compatible cluster through etcd's Go client (clientv3 3.4), its
// result printed as one JSON line on stdout.
//
// Workloads:
//
//	put    CLIENTS goroutines put random keys of a KEYSPACE (VALUE-byte values)
//	       for DURATION; each waits for its put before the next.
//	get    the KEYSPACE is written first, then CLIENTS goroutines get random
//	       keys for DURATION, linearizable (-consistency l) or serializable (s).
//	watch  WATCHERS watches on one key prefix, spread over STREAMS watch
//	       streams and CONNS connections, all created (the server has said
//	       so) before PUTS puts under the prefix at PUT-RATE a second, or
//	       one after another as fast as they are answered with -put-rate 0
//	       (the fan-out's throughput); every watcher must receive every put.
//	       Ops are events received, over the time from the first put to the
//	       last event. Latency is from the start of a put to a watcher
//	       receiving its event (one clock: one process). -ready-file names a
//	       file created once every watcher is, and -settle how long to wait
//	       then before the first put (a script measures the server's memory
//	       with the watchers open in that time).
//
// Clients share CONNS gRPC connections (clientv3.Client, each balanced over
// every endpoint); by default one for every ten clients, at most 100.
//
// usage: kvbench -endpoints A,B,C -workload put -clients 100 -duration 10s
// Output: {"workload":"put","clients":100,...,"ops_per_sec":N,"p50_ms":N,"p99_ms":N}
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/metadata"
)

type options struct {
	endpoints   []string
	workload    string
	clients     int
	conns       int
	duration    time.Duration
	valueSize   int
	keySpace    int
	consistency string
	watchers    int
	streams     int
	puts        int
	putRate     int
	settle      time.Duration
	readyFile   string
	prefix      string
}

// result is the JSON line printed; fields a workload does not use are left out.
type result struct {
	Workload     string  `json:"workload"`
	Consistency  string  `json:"consistency,omitempty"`
	Clients      int     `json:"clients,omitempty"`
	Conns        int     `json:"conns"`
	Watchers     int     `json:"watchers,omitempty"`
	Streams      int     `json:"streams,omitempty"`
	Puts         int     `json:"puts,omitempty"`
	Ops          int64   `json:"ops"`
	Errors       int64   `json:"errors"`
	Seconds      float64 `json:"seconds"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	Missing      int64   `json:"missing,omitempty"`
	SetupSeconds float64 `json:"setup_seconds,omitempty"`
	FirstError   string  `json:"first_error,omitempty"`
}

func connect(o *options) ([]*clientv3.Client, error) {
	clis := make([]*clientv3.Client, o.conns)
	for i := range clis {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:          o.endpoints,
			DialTimeout:        5 * time.Second,
			MaxCallSendMsgSize: 4 << 20,
		})
		if err != nil {
			return nil, err
		}
		clis[i] = c
	}
	return clis, nil
}

// latencies gathers every operation's duration, one slice a worker.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

func (l *latencies) fill(r *result) {
	if len(l.all) == 0 {
		return
	}
	sort.Slice(l.all, func(i, j int) bool { return l.all[i] < l.all[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(l.all)-1))
		return float64(l.all[i].Microseconds()) / 1000
	}
	r.P50Ms, r.P99Ms, r.MaxMs = at(0.50), at(0.99), at(1)
}

type errorCount struct {
	n     int64
	first atomic.Value
}

func (e *errorCount) add(err error) {
	if atomic.AddInt64(&e.n, 1) == 1 {
		e.first.Store(err.Error())
	}
}

func (e *errorCount) fill(r *result) {
	r.Errors = atomic.LoadInt64(&e.n)
	if s, ok := e.first.Load().(string); ok {
		r.FirstError = s
	}
}

func (o *options) key(i int) string { return fmt.Sprintf("%sk/%08d", o.prefix, i) }

// closedLoop runs op on CLIENTS goroutines until the duration is up.
func closedLoop(o *options, clis []*clientv3.Client, r *result, op func(c *clientv3.Client, rng *rand.Rand) error) {
	var lat latencies
	var errs errorCount
	var ops int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.duration)
	for w := 0; w < o.clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := clis[w%len(clis)]
			rng := rand.New(rand.NewSource(int64(w) + time.Now().UnixNano()))
			mine := make([]time.Duration, 0, 1024)
			for {
				t := time.Now()
				if t.After(deadline) {
					break
				}
				if err := op(c, rng); err != nil {
					errs.add(err)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			atomic.AddInt64(&ops, int64(len(mine)))
			lat.add(mine)
		}(w)
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.Ops = ops
	r.OpsPerSec = float64(ops) / r.Seconds
	lat.fill(r)
	errs.fill(r)
}

func value(size int) string { return strings.Repeat("v", size) }

func runPut(o *options, clis []*clientv3.Client, r *result) {
	r.Clients = o.clients
	v := value(o.valueSize)
	closedLoop(o, clis, r, func(c *clientv3.Client, rng *rand.Rand) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.Put(ctx, o.key(rng.Intn(o.keySpace)), v)
		return err
	})
}

// preload writes every key of the key space (100 at a time in parallel).
func preload(o *options, clis []*clientv3.Client) error {
	v := value(o.valueSize)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	next := int64(-1)
	for w := 0; w < 100; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(o.keySpace) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := clis[w%len(clis)].Put(ctx, o.key(int(i)), v)
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func runGet(o *options, clis []*clientv3.Client, r *result) error {
	r.Clients = o.clients
	r.Consistency = o.consistency
	var opts []clientv3.OpOption
	switch o.consistency {
	case "l":
	case "s":
		opts = append(opts, clientv3.WithSerializable())
	default:
		return fmt.Errorf("-consistency is l or s, not %q", o.consistency)
	}
	if err := preload(o, clis); err != nil {
		return fmt.Errorf("preload: %v", err)
	}
	closedLoop(o, clis, r, func(c *clientv3.Client, rng *rand.Rand) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g, err := c.Get(ctx, o.key(rng.Intn(o.keySpace)), opts...)
		if err == nil && len(g.Kvs) != 1 {
			err = fmt.Errorf("a preloaded key is missing")
		}
		return err
	})
	return nil
}

func runWatch(o *options, clis []*clientv3.Client, r *result) error {
	r.Watchers, r.Streams, r.Puts = o.watchers, o.streams, o.puts
	prefix := o.prefix + "w/"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// clientv3 shares one gRPC watch stream among the watches whose
	// contexts carry the same metadata: a stream's number makes it its own.
	streamCtx := make([]context.Context, o.streams)
	for s := range streamCtx {
		streamCtx[s] = metadata.AppendToOutgoingContext(ctx, "kvbench-stream", strconv.Itoa(s))
	}
	var lat latencies
	var received, missing int64
	var created, done sync.WaitGroup
	var errs errorCount
	setup := time.Now()
	for w := 0; w < o.watchers; w++ {
		created.Add(1)
		done.Add(1)
		s := w % o.streams
		wch := clis[s%len(clis)].Watch(streamCtx[s], prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		go func() {
			defer done.Done()
			mine := make([]time.Duration, 0, o.puts)
			isCreated := false
			defer func() {
				if !isCreated {
					created.Done()
				}
				atomic.AddInt64(&missing, int64(o.puts-len(mine)))
				atomic.AddInt64(&received, int64(len(mine)))
				lat.add(mine)
			}()
			for resp := range wch {
				if err := resp.Err(); err != nil {
					errs.add(err)
					return
				}
				if resp.Created && !isCreated {
					isCreated = true
					created.Done()
				}
				now := time.Now()
				for _, e := range resp.Events {
					sent, err := strconv.ParseInt(strings.SplitN(string(e.Kv.Value), " ", 2)[0], 10, 64)
					if err != nil {
						errs.add(fmt.Errorf("an event's value %.30q", e.Kv.Value))
						continue
					}
					mine = append(mine, now.Sub(time.Unix(0, sent)))
				}
				if len(mine) >= o.puts {
					return
				}
			}
		}()
	}
	created.Wait()
	r.SetupSeconds = time.Since(setup).Seconds()
	if o.readyFile != "" {
		if err := os.WriteFile(o.readyFile, []byte("ready\n"), 0o644); err != nil {
			return err
		}
	}
	time.Sleep(o.settle)
	// The puts from one goroutine: PUT-RATE a second, or unpaced (0).
	pad := value(o.valueSize)
	var interval time.Duration
	if o.putRate > 0 {
		interval = time.Second / time.Duration(o.putRate)
	}
	start := time.Now()
	for i := 0; i < o.puts; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		v := strconv.FormatInt(time.Now().UnixNano(), 10) + " "
		v += pad[:max(0, o.valueSize-len(v))]
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := clis[0].Put(pctx, fmt.Sprintf("%s%06d", prefix, i), v)
		pcancel()
		if err != nil {
			errs.add(err)
		}
	}
	// Every event delivered, or 30 s more at most.
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		cancel()
		<-finished
	}
	r.Seconds = time.Since(start).Seconds()
	r.Ops = atomic.LoadInt64(&received)
	r.Missing = atomic.LoadInt64(&missing)
	r.OpsPerSec = float64(r.Ops) / r.Seconds
	lat.fill(r)
	errs.fill(r)
	return nil
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func main() {
	var o options
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client endpoints")
	flag.StringVar(&o.workload, "workload", "put", "put, get or watch")
	flag.IntVar(&o.clients, "clients", 1, "concurrent clients (put, get)")
	flag.IntVar(&o.conns, "conns", 0, "gRPC connections (0: one for every ten clients or hundred watchers, at most 100)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to run (put, get)")
	flag.IntVar(&o.valueSize, "value-size", 256, "bytes a value")
	flag.IntVar(&o.keySpace, "key-space", 10000, "distinct keys (put, get)")
	flag.StringVar(&o.consistency, "consistency", "l", "get: l (linearizable) or s (serializable)")
	flag.IntVar(&o.watchers, "watchers", 1000, "watch: watchers")
	flag.IntVar(&o.streams, "streams", 0, "watch: gRPC watch streams (0: one for every hundred watchers)")
	flag.IntVar(&o.puts, "puts", 100, "watch: puts made while watching")
	flag.IntVar(&o.putRate, "put-rate", 100, "watch: puts a second (0: unpaced, each put after the last is answered)")
	flag.DurationVar(&o.settle, "settle", 0, "watch: wait this long after every watcher is created before the first put")
	flag.StringVar(&o.readyFile, "ready-file", "", "watch: create this file once every watcher is created")
	flag.StringVar(&o.prefix, "prefix", fmt.Sprintf("kvbench/%d/", os.Getpid()), "the prefix of every key")
	flag.Parse()
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	o.endpoints = strings.Split(*endpoints, ",")
	if o.clients < 1 || o.keySpace < 1 || o.watchers < 1 || o.puts < 1 || o.putRate < 0 || o.settle < 0 {
		fmt.Fprintln(os.Stderr, "kvbench: -clients, -key-space, -watchers and -puts must be positive, -put-rate and -settle not negative")
		os.Exit(2)
	}
	if o.streams == 0 {
		o.streams = (o.watchers + 99) / 100
	}
	if o.conns == 0 {
		n := o.clients
		if o.workload == "watch" {
			n = o.streams
		}
		o.conns = (n + 9) / 10
		if o.conns > 100 {
			o.conns = 100
		}
	}
	clis, err := connect(&o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		os.Exit(1)
	}
	r := result{Workload: o.workload, Conns: o.conns}
	switch o.workload {
	case "put":
		runPut(&o, clis, &r)
	case "get":
		err = runGet(&o, clis, &r)
	case "watch":
		err = runWatch(&o, clis, &r)
	default:
		err = fmt.Errorf("no workload %q (put, get, watch)", o.workload)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvbench:", err)
		os.Exit(1)
	}
	// Remove what the run wrote, so the next starts from the same store.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if _, err := clis[0].Delete(ctx, o.prefix, clientv3.WithPrefix()); err != nil {
		fmt.Fprintln(os.Stderr, "kvbench: cleaning up:", err)
	}
	cancel()
	for _, c := range clis {
		c.Close()
	}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
	if r.Errors > 0 || r.Missing > 0 {
		os.Exit(1)
	}
}
