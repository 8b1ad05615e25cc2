// kvhistory is the workload of the KV's fault-injection test
// (tests/host/kv_faults.sh): N concurrent clients do random gets, puts,
// compare-and-set txns and deletes on a few keys of a 3-member cluster
// while the driver pauses, kills and restarts members, and one watcher
// follows every key. It writes what happened for the checkers of
// tests/cluster: the history in keel_check_history's word form (docs/kv.md,
// "The file format") and the watch stream in keel_check_watches' form
// (docs/kv.md, "Watch guarantees").
//
// Outcomes: a response is ok; an error that says the request was refused
// (invalid argument, failed precondition, out of range, resource
// exhausted, ..., "no leader") is failed; anything else — a deadline, Unavailable, a
// lost connection, "leader changed" — is unknown: the write may still take
// effect. A client whose call ended unknown goes on under a new client id,
// as its call may still be in flight.
//
// Even-numbered clients talk to one member each (client 0 to the first
// endpoint, 2 to the second, ...); odd ones to all. With -stale-reads the
// gets are serializable (answered from the member's own state), which a
// paused or restarted member must give away as a non-linearizable read:
// that mode is how the harness proves it can fail.
//
// usage: kvhistory -endpoints A,B,C -history FILE -watches FILE
//
//	[-clients 6] [-ops 2000] [-duration 20s] [-keys 4] [-prefix fault/]
//	[-timeout 2s] [-seed N] [-stale-reads]
//
// Stops at -ops operations or after -duration, whichever comes first;
// exits 0 when the files are written, 2 on bad usage or a failed setup.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes"
	"go.etcd.io/etcd/mvcc/mvccpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/status"
)

var (
	endpointsFlag = flag.String("endpoints", "", "comma-separated client endpoints")
	historyPath   = flag.String("history", "", "where the history goes")
	watchesPath   = flag.String("watches", "", "where the watch log goes")
	clientCount   = flag.Int("clients", 6, "concurrent clients")
	maxOps        = flag.Int("ops", 2000, "operations in all, at most")
	duration      = flag.Duration("duration", 20*time.Second, "wall time, at most")
	keyCount      = flag.Int("keys", 4, "keys")
	prefix        = flag.String("prefix", "fault/", "every key starts with it")
	opTimeout     = flag.Duration("timeout", 2*time.Second, "a call's deadline")
	seed          = flag.Int64("seed", 0, "random seed (0: from the clock)")
	staleReads    = flag.Bool("stale-reads", false, "serializable gets (a deliberate bug)")
)

var start = time.Now()

// now is the monotonic time since start, in nanoseconds.
func now() int64 { return int64(time.Since(start)) }

// recorder collects the history's lines and the writes with their
// revisions, from every client.
type recorder struct {
	mu      sync.Mutex
	lines   []string
	writes  []string
	unknown bool
	maxRev  int64
	// errors seen, by text, for the summary
	errors map[string]int
}

func (r *recorder) add(line string) {
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}

func (r *recorder) write(rev int64, kind, key, value string) {
	r.mu.Lock()
	r.writes = append(r.writes, fmt.Sprintf("write %d %s %s %s", rev, kind, token(key), token(value)))
	if rev > r.maxRev {
		r.maxRev = rev
	}
	r.mu.Unlock()
}

func (r *recorder) sawUnknownWrite() {
	r.mu.Lock()
	r.unknown = true
	r.mu.Unlock()
}

// word is a value in the history's word form: plain, or a JSON string
// when it could read as something else (values here never need it).
func word(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"{#~") || strings.HasPrefix(v, "rev=") || v == "->" {
		return fmt.Sprintf("%q", v)
	}
	return v
}

// token is a string in the watch log: bytes outside printable ASCII, `%`
// and `"` as %XX; the empty string as "".
func token(v string) string {
	if v == "" {
		return `""`
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '%' || c == '"' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

type outcome int

const (
	ok outcome = iota
	failed
	unknown
)

func (r *recorder) sawError(err error) {
	text := err.Error()
	if s, isStatus := status.FromError(err); isStatus {
		text = s.Code().String() + ": " + s.Message()
	}
	r.mu.Lock()
	r.errors[text]++
	r.mu.Unlock()
}

// classify says what an error means for the call's effect.
func classify(err error) outcome {
	if err == nil {
		return ok
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return unknown
	}
	// Refused before it was proposed: etcd's gRPC interceptor, and keel's
	// member when it knows no leader to forward to.
	if errors.Is(err, rpctypes.ErrNoLeader) {
		return failed
	}
	if s, isStatus := status.FromError(err); isStatus {
		switch s.Code() {
		case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange,
			codes.ResourceExhausted, codes.PermissionDenied, codes.Unauthenticated,
			codes.NotFound, codes.AlreadyExists:
			return failed
		}
	}
	return unknown
}

type client struct {
	id      int
	cli     *clientv3.Client
	rng     *rand.Rand
	rec     *recorder
	counter int
	// last value this client read or wrote per key, a likely CAS guess.
	seen map[string]string
	// the error of the call under way, counted when it ends
	lastErr error
}

func (c *client) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), *opTimeout)
}

func (c *client) times(call int64, o outcome) string {
	switch o {
	case ok:
		return fmt.Sprintf("%d %d %d ok", c.id, call, now())
	case failed:
		return fmt.Sprintf("%d %d %d failed", c.id, call, now())
	}
	return fmt.Sprintf("%d %d ? unknown", c.id, call)
}

// after records the end of a call: a client whose call ended unknown
// continues under a new id (the call may still be pending).
func (c *client) after(o outcome) {
	if o == unknown {
		c.id += *clientCount
	}
}

func (c *client) step() {
	key := fmt.Sprintf("%sk%d", *prefix, c.rng.Intn(*keyCount))
	c.counter++
	value := fmt.Sprintf("c%d-%d", c.id, c.counter)
	ctx, cancel := c.ctx()
	defer cancel()
	call := now()
	defer func() {
		if c.lastErr != nil {
			c.rec.sawError(c.lastErr)
			c.lastErr = nil
		}
	}()
	switch n := c.rng.Intn(100); {
	case n < 40:
		var opts []clientv3.OpOption
		if *staleReads {
			opts = append(opts, clientv3.WithSerializable())
		}
		r, err := c.cli.Get(ctx, key, opts...)
		c.lastErr = err
		o := classify(err)
		if o == ok {
			read := "~"
			if len(r.Kvs) > 0 {
				read = word(string(r.Kvs[0].Value))
				c.seen[key] = string(r.Kvs[0].Value)
			} else {
				delete(c.seen, key)
			}
			c.rec.add(fmt.Sprintf("%s get %s -> %s rev=%d", c.times(call, o), word(key), read, r.Header.Revision))
		} else {
			c.rec.add(fmt.Sprintf("%s get %s", c.times(call, o), word(key)))
		}
		c.after(o)
	case n < 65:
		r, err := c.cli.Put(ctx, key, value)
		c.lastErr = err
		o := classify(err)
		line := fmt.Sprintf("%s put %s %s", c.times(call, o), word(key), word(value))
		if o == ok {
			line += fmt.Sprintf(" rev=%d", r.Header.Revision)
			c.rec.write(r.Header.Revision, "put", key, value)
			c.seen[key] = value
		} else if o == unknown {
			c.rec.sawUnknownWrite()
		}
		c.rec.add(line)
		c.after(o)
	case n < 85:
		expected, known := c.seen[key]
		cmp := clientv3.Compare(clientv3.Version(key), "=", 0)
		expectedWord := "~"
		if known {
			cmp = clientv3.Compare(clientv3.Value(key), "=", expected)
			expectedWord = word(expected)
		}
		r, err := c.cli.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, value)).Commit()
		c.lastErr = err
		o := classify(err)
		line := fmt.Sprintf("%s cas %s %s %s", c.times(call, o), word(key), expectedWord, word(value))
		if o == ok {
			line += fmt.Sprintf(" -> %t rev=%d", r.Succeeded, r.Header.Revision)
			if r.Succeeded {
				c.rec.write(r.Header.Revision, "put", key, value)
				c.seen[key] = value
			} else {
				delete(c.seen, key) // a guess no longer: read it again
			}
		} else if o == unknown {
			c.rec.sawUnknownWrite()
		}
		c.rec.add(line)
		c.after(o)
	default:
		r, err := c.cli.Delete(ctx, key)
		c.lastErr = err
		o := classify(err)
		line := fmt.Sprintf("%s delete %s", c.times(call, o), word(key))
		if o == ok {
			line += fmt.Sprintf(" rev=%d", r.Header.Revision)
			if r.Deleted > 0 {
				c.rec.write(r.Header.Revision, "delete", key, "")
			}
			delete(c.seen, key)
		} else if o == unknown {
			c.rec.sawUnknownWrite()
		}
		c.rec.add(line)
		c.after(o)
	}
}

// watcher follows every key from `from` on, writing the watch log's
// message lines; it resumes after the last revision seen when its stream
// ends.
type watcher struct {
	cli     *clientv3.Client
	lines   []string
	lastRev int64
	mu      sync.Mutex
}

func (w *watcher) addLine(line string, rev int64) {
	w.mu.Lock()
	w.lines = append(w.lines, line)
	if rev > w.lastRev {
		w.lastRev = rev
	}
	w.mu.Unlock()
}

func (w *watcher) seenRev() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastRev
}

func (w *watcher) run(ctx context.Context, from int64) {
	next := from
	for ctx.Err() == nil {
		ch := w.cli.Watch(clientv3.WithRequireLeader(ctx), *prefix, clientv3.WithPrefix(), clientv3.WithRev(next))
		for resp := range ch {
			if resp.IsProgressNotify() {
				w.addLine(fmt.Sprintf("progress w %d", resp.Header.Revision), resp.Header.Revision)
				continue
			}
			if resp.Err() != nil {
				break
			}
			if len(resp.Events) == 0 {
				continue
			}
			var b strings.Builder
			b.WriteString("events w")
			var rev int64
			for _, ev := range resp.Events {
				kind, value := "put", string(ev.Kv.Value)
				if ev.Type == mvccpb.DELETE {
					kind, value = "delete", ""
				}
				rev = ev.Kv.ModRevision
				fmt.Fprintf(&b, " %d %s %s %s", rev, kind, token(string(ev.Kv.Key)), token(value))
			}
			w.addLine(b.String(), rev)
			next = rev + 1
		}
		if ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
		w.addLine(fmt.Sprintf("resume w %d", next), 0)
	}
}

func newClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          2 * time.Second,
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
	})
}

func writeFile(path string, lines []string) {
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "kvhistory:", err)
		os.Exit(2)
	}
}

func main() {
	flag.Parse()
	if *endpointsFlag == "" || *historyPath == "" || *watchesPath == "" || *clientCount < 1 || *keyCount < 1 {
		fmt.Fprintln(os.Stderr, "usage: kvhistory -endpoints A,B,C -history FILE -watches FILE [-clients N] [-ops N] [-duration D] [-keys N] [-stale-reads]")
		os.Exit(2)
	}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	endpoints := strings.Split(*endpointsFlag, ",")
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	fmt.Fprintf(os.Stderr, "kvhistory: seed %d, %d clients, %d keys\n", *seed, *clientCount, *keyCount)

	// The watcher starts after the revision the cluster is at now.
	wcli, err := newClient(endpoints)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvhistory: watcher:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	r, err := wcli.Get(ctx, *prefix+"start")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvhistory: first get:", err)
		os.Exit(2)
	}
	from := r.Header.Revision + 1
	w := &watcher{cli: wcli}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() { w.run(watchCtx, from); close(watchDone) }()

	rec := &recorder{errors: map[string]int{}}
	var left int64 = int64(*maxOps)
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for i := 0; i < *clientCount; i++ {
		eps := endpoints
		if i%2 == 0 {
			eps = []string{endpoints[(i/2)%len(endpoints)]}
		}
		cli, err := newClient(eps)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kvhistory: client:", err)
			os.Exit(2)
		}
		c := &client{id: i, cli: cli, rng: rand.New(rand.NewSource(*seed + int64(i))), rec: rec, seen: map[string]string{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && atomic.AddInt64(&left, -1) >= 0 {
				c.step()
			}
			// Closing the client cancels nothing pending: every call has returned.
			c.cli.Close()
		}()
	}
	wg.Wait()

	// Let the watcher catch up with the last write it should see: asks for
	// progress, so its last revision covers the writes' tail.
	rec.mu.Lock()
	maxRev := rec.maxRev
	rec.mu.Unlock()
	catchUp := time.Now().Add(10 * time.Second)
	for w.seenRev() < maxRev && time.Now().Before(catchUp) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = wcli.RequestProgress(clientv3.WithRequireLeader(ctx))
		cancel()
		time.Sleep(200 * time.Millisecond)
	}
	if w.seenRev() < maxRev {
		fmt.Fprintf(os.Stderr, "kvhistory: the watcher saw revision %d, the last write was %d\n", w.seenRev(), maxRev)
	}
	stopWatch()
	wcli.Close()
	<-watchDone

	writeFile(*historyPath, rec.lines)
	watchLines := []string{fmt.Sprintf("watcher w %s %s %d", token(*prefix), token(clientv3.GetPrefixRangeEnd(*prefix)), from)}
	if rec.unknown {
		watchLines = append(watchLines, "partial")
	}
	watchLines = append(watchLines, rec.writes...)
	w.mu.Lock()
	watchLines = append(watchLines, w.lines...)
	w.mu.Unlock()
	writeFile(*watchesPath, watchLines)
	counts := map[string]int{}
	for _, l := range rec.lines {
		counts[strings.Fields(l)[3]]++
	}
	fmt.Fprintf(os.Stderr, "kvhistory: %d operations (%d ok, %d failed, %d unknown), %d watch messages\n",
		len(rec.lines), counts["ok"], counts["failed"], counts["unknown"], len(w.lines))
	for text, n := range rec.errors {
		fmt.Fprintf(os.Stderr, "kvhistory: %d× %s\n", n, text)
	}
}
