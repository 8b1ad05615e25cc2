// kvclient checks a server's etcd v3 compatibility through etcd's own Go
// client (go.etcd.io/etcd/clientv3, 3.4): the KV range options, revisions,
// txn compares (value, version, create, mod and lease, which etcdctl 3.4
// cannot send) and nested txns, the server's error codes, watch with
// history, prev-kv, progress notify and compaction, the lease keep-alive
// stream, concurrent compare-and-swap txns, the cluster and maintenance
// calls, progress notifications the server sends on its own and watch
// fragments. Every key it writes is under one prefix (-prefix, unique a run by
// default), so it may run against a cluster in use; the cluster is expected
// to run with etcd's default limits (128 txn ops, 1.5 MiB requests).
//
// usage: kvclient -endpoints 127.0.0.1:2379,127.0.0.1:22379 [-only NAME]
// Prints "PASS name" or "FAIL name: why" a check; exits 1 if any failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes"
	"go.etcd.io/etcd/mvcc/mvccpb"
	"google.golang.org/grpc/grpclog"
)

type checker struct {
	cli       *clientv3.Client
	endpoints []string
	prefix    string
}

func (c *checker) key(name string) string { return c.prefix + name }

func ctxT(seconds int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
}

// expectKVs says whether resp's keys and values are exactly want (key,
// value, key, value, ...), keys given without the prefix.
func (c *checker) expectKVs(what string, kvs []*mvccpb.KeyValue, want ...string) error {
	var got []string
	for _, kv := range kvs {
		got = append(got, strings.TrimPrefix(string(kv.Key), c.prefix), string(kv.Value))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		return fmt.Errorf("%s: got %q, want %q", what, got, want)
	}
	return nil
}

func (c *checker) kvRanges() error {
	ctx, cancel := ctxT(10)
	defer cancel()
	for _, kv := range [][2]string{{"a", "1"}, {"a/b", "2"}, {"a/c", "3"}, {"b", "4"}, {"c", "5"}} {
		if _, err := c.cli.Put(ctx, c.key(kv[0]), kv[1]); err != nil {
			return err
		}
	}
	r, err := c.cli.Get(ctx, c.key("a"), clientv3.WithPrefix())
	if err != nil {
		return err
	}
	if err := c.expectKVs("prefix", r.Kvs, "a", "1", "a/b", "2", "a/c", "3"); err != nil {
		return err
	}
	r, err = c.cli.Get(ctx, c.key("a/b"), clientv3.WithRange(c.key("b")))
	if err != nil {
		return err
	}
	if err := c.expectKVs("range", r.Kvs, "a/b", "2", "a/c", "3"); err != nil {
		return err
	}
	r, err = c.cli.Get(ctx, c.key("a"), clientv3.WithPrefix(), clientv3.WithLimit(2))
	if err != nil {
		return err
	}
	if err := c.expectKVs("limit", r.Kvs, "a", "1", "a/b", "2"); err != nil {
		return err
	}
	if r.Count != 3 || !r.More {
		return fmt.Errorf("limit 2 of 3: count %d more %v", r.Count, r.More)
	}
	r, err = c.cli.Get(ctx, c.key("a"), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	if r.Count != 3 || len(r.Kvs) != 0 {
		return fmt.Errorf("count only: count %d, %d kvs", r.Count, len(r.Kvs))
	}
	r, err = c.cli.Get(ctx, c.key("a"), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	if err := c.expectKVs("keys only", r.Kvs, "a", "", "a/b", "", "a/c", ""); err != nil {
		return err
	}
	r, err = c.cli.Get(ctx, c.key("b"), clientv3.WithFromKey(), clientv3.WithLimit(10))
	if err != nil {
		return err
	}
	// --from-key runs to the end of the keyspace: other prefixes may follow.
	if len(r.Kvs) < 2 {
		return fmt.Errorf("from key: %d kvs", len(r.Kvs))
	}
	if err := c.expectKVs("from key", r.Kvs[:2], "b", "4", "c", "5"); err != nil {
		return err
	}
	r, err = c.cli.Get(ctx, c.key(""), clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByValue, clientv3.SortDescend), clientv3.WithLimit(2))
	if err != nil {
		return err
	}
	if err := c.expectKVs("sort by value descending", r.Kvs, "c", "5", "b", "4"); err != nil {
		return err
	}
	r, err = c.cli.Get(ctx, c.key("a"), clientv3.WithPrefix(), clientv3.WithMinModRev(r.Header.Revision-2))
	if err != nil {
		return err
	}
	if err := c.expectKVs("min mod revision", r.Kvs, "a/c", "3"); err != nil {
		return err
	}
	p, err := c.cli.Put(ctx, c.key("c"), "6", clientv3.WithPrevKV())
	if err != nil {
		return err
	}
	if p.PrevKv == nil || string(p.PrevKv.Value) != "5" {
		return fmt.Errorf("put prev kv: %v", p.PrevKv)
	}
	d, err := c.cli.Delete(ctx, c.key("a"), clientv3.WithPrefix(), clientv3.WithPrevKV())
	if err != nil {
		return err
	}
	if d.Deleted != 3 || len(d.PrevKvs) != 3 {
		return fmt.Errorf("delete prefix: deleted %d, %d prev kvs", d.Deleted, len(d.PrevKvs))
	}
	if _, err := c.cli.Put(ctx, "", "x"); !errors.Is(err, rpctypes.ErrEmptyKey) {
		return fmt.Errorf("put of an empty key: %v", err)
	}
	return nil
}

func (c *checker) revisions() error {
	ctx, cancel := ctxT(10)
	defer cancel()
	k := c.key("rev")
	p1, err := c.cli.Put(ctx, k, "v1")
	if err != nil {
		return err
	}
	p2, err := c.cli.Put(ctx, k, "v2")
	if err != nil {
		return err
	}
	if p2.Header.Revision != p1.Header.Revision+1 {
		return fmt.Errorf("two puts: revisions %d then %d", p1.Header.Revision, p2.Header.Revision)
	}
	r, err := c.cli.Get(ctx, k)
	if err != nil {
		return err
	}
	kv := r.Kvs[0]
	if kv.CreateRevision != p1.Header.Revision || kv.ModRevision != p2.Header.Revision || kv.Version != 2 {
		return fmt.Errorf("create %d mod %d version %d after puts at %d and %d",
			kv.CreateRevision, kv.ModRevision, kv.Version, p1.Header.Revision, p2.Header.Revision)
	}
	r, err = c.cli.Get(ctx, k, clientv3.WithRev(p1.Header.Revision))
	if err != nil {
		return err
	}
	if string(r.Kvs[0].Value) != "v1" || r.Kvs[0].Version != 1 {
		return fmt.Errorf("get at the first revision: %v", r.Kvs[0])
	}
	if r.Header.Revision < p2.Header.Revision {
		return fmt.Errorf("an old read's header says revision %d", r.Header.Revision)
	}
	if _, err := c.cli.Get(ctx, k, clientv3.WithRev(r.Header.Revision+1000)); !errors.Is(err, rpctypes.ErrFutureRev) {
		return fmt.Errorf("get at a future revision: %v", err)
	}
	d, err := c.cli.Delete(ctx, k)
	if err != nil {
		return err
	}
	p3, err := c.cli.Put(ctx, k, "v3")
	if err != nil {
		return err
	}
	r, err = c.cli.Get(ctx, k)
	if err != nil {
		return err
	}
	if r.Kvs[0].Version != 1 || r.Kvs[0].CreateRevision != p3.Header.Revision || d.Header.Revision+1 != p3.Header.Revision {
		return fmt.Errorf("a key made again: %v (deleted at %d)", r.Kvs[0], d.Header.Revision)
	}
	return nil
}

func (c *checker) txnCompares() error {
	ctx, cancel := ctxT(10)
	defer cancel()
	k := c.key("txn")
	p, err := c.cli.Put(ctx, k, "v1")
	if err != nil {
		return err
	}
	lease, err := c.cli.Grant(ctx, 60)
	if err != nil {
		return err
	}
	defer c.cli.Revoke(context.Background(), lease.ID)
	leased := c.key("txn-leased")
	if _, err := c.cli.Put(ctx, leased, "x", clientv3.WithLease(lease.ID)); err != nil {
		return err
	}
	cases := []struct {
		name string
		cmp  clientv3.Cmp
		want bool
	}{
		{"value =", clientv3.Compare(clientv3.Value(k), "=", "v1"), true},
		{"value !=", clientv3.Compare(clientv3.Value(k), "!=", "v1"), false},
		{"value >", clientv3.Compare(clientv3.Value(k), ">", "v0"), true},
		{"value < on a missing key", clientv3.Compare(clientv3.Value(c.key("missing")), "<", "z"), false},
		{"version =", clientv3.Compare(clientv3.Version(k), "=", 1), true},
		{"version of a missing key", clientv3.Compare(clientv3.Version(c.key("missing")), "=", 0), true},
		{"create =", clientv3.Compare(clientv3.CreateRevision(k), "=", p.Header.Revision), true},
		{"create of a missing key", clientv3.Compare(clientv3.CreateRevision(c.key("missing")), "=", 0), true},
		{"mod <", clientv3.Compare(clientv3.ModRevision(k), "<", p.Header.Revision), false},
		{"mod >", clientv3.Compare(clientv3.ModRevision(k), ">", p.Header.Revision-1), true},
		{"lease =", clientv3.Compare(clientv3.LeaseValue(leased), "=", lease.ID), true},
		{"lease != ", clientv3.Compare(clientv3.LeaseValue(leased), "!=", lease.ID), false},
		{"lease of an unleased key", clientv3.Compare(clientv3.LeaseValue(k), "=", 0), true},
		{"value on a prefix (all match)", clientv3.Compare(clientv3.Value(k), "=", "v1").WithPrefix(), false},
	}
	for _, tc := range cases {
		r, err := c.cli.Txn(ctx).If(tc.cmp).Commit()
		if err != nil {
			return fmt.Errorf("%s: %v", tc.name, err)
		}
		if r.Succeeded != tc.want {
			return fmt.Errorf("%s: succeeded %v, want %v", tc.name, r.Succeeded, tc.want)
		}
	}
	// Then and else with their responses; a nested txn, whose compares
	// (as etcd evaluates them all before any op) see the state before the
	// outer txn, not its put.
	r, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(k), "=", "v1")).
		Then(clientv3.OpPut(k, "v2"), clientv3.OpGet(k),
			clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(k), "=", "v1")},
				[]clientv3.Op{clientv3.OpPut(c.key("nested"), "yes")}, nil)).
		Else(clientv3.OpPut(k, "wrong")).Commit()
	if err != nil {
		return err
	}
	if !r.Succeeded || len(r.Responses) != 3 {
		return fmt.Errorf("then: %v", r)
	}
	if got := string(r.Responses[1].GetResponseRange().Kvs[0].Value); got != "v2" {
		return fmt.Errorf("a get after a put in one txn sees %q", got)
	}
	if !r.Responses[2].GetResponseTxn().Succeeded {
		return fmt.Errorf("the nested txn's compare saw the outer txn's put")
	}
	g, err := c.cli.Get(ctx, c.key("nested"))
	if err != nil || len(g.Kvs) != 1 {
		return fmt.Errorf("the nested txn's put: %v %v", g, err)
	}
	if g.Kvs[0].ModRevision != r.Header.Revision {
		return fmt.Errorf("a txn's writes at revisions %d and %d", g.Kvs[0].ModRevision, r.Header.Revision)
	}
	// The server's limits and refusals.
	ops := make([]clientv3.Op, 129)
	for i := range ops {
		ops[i] = clientv3.OpPut(c.key(fmt.Sprintf("many/%d", i)), "x")
	}
	if _, err := c.cli.Txn(ctx).Then(ops...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		return fmt.Errorf("129 ops: %v", err)
	}
	if _, err := c.cli.Txn(ctx).Then(ops[:128]...).Commit(); err != nil {
		return fmt.Errorf("128 ops: %v", err)
	}
	if _, err := c.cli.Txn(ctx).Then(clientv3.OpPut(k, "1"), clientv3.OpPut(k, "2")).Commit(); !errors.Is(err, rpctypes.ErrDuplicateKey) {
		return fmt.Errorf("one key put twice: %v", err)
	}
	if _, err := c.cli.Txn(ctx).Then(clientv3.OpPut(k, "1"), clientv3.OpDelete(c.key(""), clientv3.WithPrefix())).Commit(); !errors.Is(err, rpctypes.ErrDuplicateKey) {
		return fmt.Errorf("a put and a delete over it: %v", err)
	}
	big := strings.Repeat("a", 1600*1000)
	if _, err := c.cli.Put(ctx, c.key("big"), big); !errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return fmt.Errorf("a 1.6 MB put: %v", err)
	}
	return nil
}

func (c *checker) watch() error {
	ctx, cancel := ctxT(20)
	defer cancel()
	pre := c.key("w/")
	first, err := c.cli.Put(ctx, pre+"a", "1")
	if err != nil {
		return err
	}
	if _, err := c.cli.Put(ctx, pre+"a", "2"); err != nil {
		return err
	}
	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	wch := c.cli.Watch(wctx, pre, clientv3.WithPrefix(), clientv3.WithRev(first.Header.Revision),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	var events []string
	next := func() (clientv3.WatchResponse, error) {
		select {
		case r, ok := <-wch:
			if !ok {
				return r, fmt.Errorf("the watch channel closed")
			}
			return r, r.Err()
		case <-time.After(5 * time.Second):
			return clientv3.WatchResponse{}, fmt.Errorf("no watch response in 5 s (events so far %q)", events)
		}
	}
	collect := func(n int) error {
		for len(events) < n {
			r, err := next()
			if err != nil {
				return err
			}
			for _, e := range r.Events {
				s := fmt.Sprintf("%s %s=%s", e.Type, strings.TrimPrefix(string(e.Kv.Key), pre), e.Kv.Value)
				if e.PrevKv != nil {
					s += fmt.Sprintf(" prev=%s@%d", e.PrevKv.Value, e.PrevKv.ModRevision)
				}
				events = append(events, s)
			}
		}
		return nil
	}
	if err := collect(2); err != nil {
		return err
	}
	if _, err := c.cli.Delete(ctx, pre+"a"); err != nil {
		return err
	}
	last, err := c.cli.Txn(ctx).Then(clientv3.OpPut(pre+"b", "3"), clientv3.OpPut(pre+"c", "4")).Commit()
	if err != nil {
		return err
	}
	if err := collect(5); err != nil {
		return err
	}
	want := []string{"PUT a=1", fmt.Sprintf("PUT a=2 prev=1@%d", first.Header.Revision),
		fmt.Sprintf("DELETE a= prev=2@%d", first.Header.Revision+1), "PUT b=3", "PUT c=4"}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		return fmt.Errorf("events %q, want %q", events, want)
	}
	// Progress: asked for, it comes as an empty response at the current revision.
	if err := c.cli.RequestProgress(wctx); err != nil {
		return fmt.Errorf("request progress: %v", err)
	}
	r, err := next()
	if err != nil {
		return err
	}
	if !r.IsProgressNotify() || r.Header.Revision < last.Header.Revision {
		return fmt.Errorf("after RequestProgress: %d events, revision %d (last write %d)",
			len(r.Events), r.Header.Revision, last.Header.Revision)
	}
	// A watch from a compacted revision is cancelled with the compact revision.
	if _, err := c.cli.Compact(ctx, last.Header.Revision); err != nil {
		return err
	}
	// The compaction is answered once the member that served it applied
	// it; the watch may reach another member, which applies it a moment
	// later (etcd alike), so it is tried for up to 2 s.
	var watchErr error
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		cctx, ccancel := context.WithCancel(ctx)
		cr, ok := <-c.cli.Watch(cctx, pre, clientv3.WithPrefix(), clientv3.WithRev(first.Header.Revision))
		ccancel()
		if ok && cr.Canceled && cr.CompactRevision == last.Header.Revision && errors.Is(cr.Err(), rpctypes.ErrCompacted) {
			watchErr = nil
			break
		}
		watchErr = fmt.Errorf("a watch from a compacted revision: ok %v canceled %v compact revision %d err %v",
			ok, cr.Canceled, cr.CompactRevision, cr.Err())
	}
	if watchErr != nil {
		return watchErr
	}
	// A linearizable get waits until its member has applied what was
	// committed before it, the compaction included: no retry.
	if _, err := c.cli.Get(ctx, pre, clientv3.WithRev(first.Header.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("a get below the compaction: %v", err)
	}
	return nil
}

// progressNotify: a watcher created with progress_notify that sees no
// events gets an empty response at the current revision once the server's
// interval passed (the cluster runs with a short
// --experimental-watch-progress-notify-interval); one without it gets
// nothing.
func (c *checker) progressNotify() error {
	ctx, cancel := ctxT(20)
	defer cancel()
	start, err := c.cli.Put(ctx, c.key("p/other"), "x")
	if err != nil {
		return err
	}
	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	quiet := c.cli.Watch(wctx, c.key("p/quiet"))
	notified := c.cli.Watch(wctx, c.key("p/idle"), clientv3.WithProgressNotify())
	select {
	case r := <-notified:
		if !r.IsProgressNotify() {
			return fmt.Errorf("expected a progress notify, got %d events (canceled %v, err %v)",
				len(r.Events), r.Canceled, r.Err())
		}
		if r.Header.Revision < start.Header.Revision {
			return fmt.Errorf("progress notify at revision %d, before the last write's %d",
				r.Header.Revision, start.Header.Revision)
		}
	case <-time.After(10 * time.Second):
		return fmt.Errorf("no progress notify in 10 s")
	}
	select {
	case r := <-quiet:
		return fmt.Errorf("a watcher without progress_notify got a response: %d events, revision %d",
			len(r.Events), r.Header.Revision)
	default:
	}
	return nil
}

// fragment: one revision whose watch response (five 290 KiB values with
// their previous values, about 2.9 MB) is larger than the server's limit
// (--max-request-bytes plus 512 KiB, 2 MiB by default) reaches a client
// that takes at most 2.5 MB a message, because the watcher asked for
// fragments; clientv3 joins them into one response.
func (c *checker) fragment() error {
	ctx, cancel := ctxT(30)
	defer cancel()
	small, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints, DialTimeout: 5 * time.Second,
		MaxCallRecvMsgSize: 2500 * 1000})
	if err != nil {
		return err
	}
	defer small.Close()
	pre := c.key("f/")
	value := strings.Repeat("f", 290*1024)
	var last *clientv3.PutResponse
	for i := 0; i < 5; i++ {
		if last, err = c.cli.Put(ctx, fmt.Sprintf("%s%d", pre, i), value); err != nil {
			return err
		}
	}
	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	wch := small.Watch(wctx, pre, clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithFragment(),
		clientv3.WithRev(last.Header.Revision+1))
	var ops []clientv3.Op
	for i := 0; i < 5; i++ {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%d", pre, i), strings.ToUpper(value)))
	}
	txn, err := c.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return err
	}
	select {
	case r, ok := <-wch:
		if !ok || r.Err() != nil {
			return fmt.Errorf("watch: closed %v, err %v", !ok, r.Err())
		}
		if len(r.Events) != 5 || r.Header.Revision != txn.Header.Revision {
			return fmt.Errorf("one response with the txn's 5 events at %d, got %d events at %d",
				txn.Header.Revision, len(r.Events), r.Header.Revision)
		}
		for i, e := range r.Events {
			if len(e.Kv.Value) != len(value) || e.PrevKv == nil || len(e.PrevKv.Value) != len(value) ||
				string(e.Kv.Key) != fmt.Sprintf("%s%d", pre, i) {
				return fmt.Errorf("event %d: key %q, %d bytes, prev %v", i, e.Kv.Key, len(e.Kv.Value), e.PrevKv != nil)
			}
		}
	case <-time.After(15 * time.Second):
		return fmt.Errorf("no watch response in 15 s")
	}
	return nil
}

func (c *checker) leaseStream() error {
	ctx, cancel := ctxT(30)
	defer cancel()
	g, err := c.cli.Grant(ctx, 3)
	if err != nil {
		return err
	}
	if g.TTL != 3 {
		return fmt.Errorf("granted TTL %d for 3", g.TTL)
	}
	for _, name := range []string{"l/1", "l/2"} {
		if _, err := c.cli.Put(ctx, c.key(name), "x", clientv3.WithLease(g.ID)); err != nil {
			return err
		}
	}
	kctx, kcancel := context.WithCancel(ctx)
	ka, err := c.cli.KeepAlive(kctx, g.ID)
	if err != nil {
		kcancel()
		return err
	}
	// The client sends a keep-alive every TTL/3: twice the TTL later the
	// keys are still there, and several responses have come.
	deadline := time.After(6 * time.Second)
	responses := 0
wait:
	for {
		select {
		case r, ok := <-ka:
			if !ok {
				kcancel()
				return fmt.Errorf("the keep-alive stream closed after %d responses", responses)
			}
			if r.ID != g.ID || r.TTL != 3 {
				kcancel()
				return fmt.Errorf("keep-alive response %v", r)
			}
			responses++
		case <-deadline:
			break wait
		}
	}
	kcancel()
	if responses < 3 {
		return fmt.Errorf("%d keep-alive responses in 6 s", responses)
	}
	r, err := c.cli.Get(ctx, c.key("l/"), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	if r.Count != 2 {
		return fmt.Errorf("kept alive, %d keys left of 2", r.Count)
	}
	t, err := c.cli.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
	if err != nil {
		return err
	}
	var keys []string
	for _, k := range t.Keys {
		keys = append(keys, strings.TrimPrefix(string(k), c.prefix))
	}
	sort.Strings(keys)
	if t.GrantedTTL != 3 || t.TTL < 1 || t.TTL > 3 || strings.Join(keys, " ") != "l/1 l/2" {
		return fmt.Errorf("time to live: granted %d, ttl %d, keys %q", t.GrantedTTL, t.TTL, keys)
	}
	leases, err := c.cli.Leases(ctx)
	if err != nil {
		return err
	}
	found := false
	for _, l := range leases.Leases {
		found = found || l.ID == g.ID
	}
	if !found {
		return fmt.Errorf("lease %x is not listed", g.ID)
	}
	// Not kept alive any more: it expires on its own and takes its keys.
	gone := false
	for i := 0; i < 100 && !gone; i++ {
		time.Sleep(100 * time.Millisecond)
		r, err = c.cli.Get(ctx, c.key("l/"), clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return err
		}
		gone = r.Count == 0
	}
	if !gone {
		return fmt.Errorf("the keys of an expired lease stay")
	}
	t, err = c.cli.TimeToLive(ctx, g.ID)
	if err != nil || t.TTL != -1 {
		return fmt.Errorf("time to live of an expired lease: %v %v", t, err)
	}
	if _, err := c.cli.KeepAliveOnce(ctx, g.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("keep-alive of an expired lease: %v", err)
	}
	if _, err := c.cli.Revoke(ctx, g.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoke of an expired lease: %v", err)
	}
	return nil
}

// Workers increment one counter by compare-and-swap on its mod revision:
// no increment is lost and every success is its own revision.
func (c *checker) concurrentTxns() error {
	const workers, each = 8, 25
	ctx, cancel := ctxT(60)
	defer cancel()
	k := c.key("counter")
	if _, err := c.cli.Put(ctx, k, "0"); err != nil {
		return err
	}
	var mu sync.Mutex
	revisions := map[int64]bool{}
	conflicts := 0
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				r, err := c.cli.Get(ctx, k)
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(string(r.Kvs[0].Value))
				t, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", r.Kvs[0].ModRevision)).
					Then(clientv3.OpPut(k, strconv.Itoa(n+1))).Commit()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if t.Succeeded {
					done++
					if revisions[t.Header.Revision] {
						mu.Unlock()
						errs <- fmt.Errorf("two successful txns at revision %d", t.Header.Revision)
						return
					}
					revisions[t.Header.Revision] = true
				} else {
					conflicts++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	r, err := c.cli.Get(ctx, k)
	if err != nil {
		return err
	}
	if string(r.Kvs[0].Value) != strconv.Itoa(workers*each) || r.Kvs[0].Version != workers*each+1 {
		return fmt.Errorf("counter %s version %d after %d increments (%d conflicts)",
			r.Kvs[0].Value, r.Kvs[0].Version, workers*each, conflicts)
	}
	return nil
}

// Every member answers Status and agrees on the members and the leader;
// a write through one member is read back from every other, serializably
// once it has applied it.
func (c *checker) cluster() error {
	ctx, cancel := ctxT(20)
	defer cancel()
	members, err := c.cli.MemberList(ctx)
	if err != nil {
		return err
	}
	if len(members.Members) != len(c.endpoints) {
		return fmt.Errorf("%d members for %d endpoints", len(members.Members), len(c.endpoints))
	}
	ids := map[uint64]bool{}
	for _, m := range members.Members {
		ids[m.ID] = true
	}
	leaders := map[uint64]bool{}
	for _, ep := range c.endpoints {
		s, err := c.cli.Status(ctx, ep)
		if err != nil {
			return fmt.Errorf("status of %s: %v", ep, err)
		}
		if !ids[s.Header.MemberId] || s.Header.ClusterId != members.Header.ClusterId {
			return fmt.Errorf("status of %s: member %x cluster %x", ep, s.Header.MemberId, s.Header.ClusterId)
		}
		leaders[s.Leader] = true
	}
	if len(leaders) != 1 {
		return fmt.Errorf("the members name %d leaders", len(leaders))
	}
	for _, ep := range c.endpoints {
		one, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 3 * time.Second})
		if err != nil {
			return err
		}
		p, err := one.Put(ctx, c.key("via/"+ep), ep)
		if err != nil {
			one.Close()
			return err
		}
		for _, other := range c.endpoints {
			o, err := clientv3.New(clientv3.Config{Endpoints: []string{other}, DialTimeout: 3 * time.Second})
			if err != nil {
				one.Close()
				return err
			}
			r, err := o.Get(ctx, c.key("via/"+ep))
			if err == nil && (len(r.Kvs) != 1 || r.Kvs[0].ModRevision != p.Header.Revision) {
				err = fmt.Errorf("a linearizable get from %s missed the put through %s", other, ep)
			}
			o.Close()
			if err != nil {
				one.Close()
				return err
			}
		}
		one.Close()
	}
	return nil
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client endpoints")
	prefix := flag.String("prefix", fmt.Sprintf("kvclient/%d/", os.Getpid()), "the prefix of every key written")
	only := flag.String("only", "", "run only this check")
	flag.Parse()
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))
	eps := strings.Split(*endpoints, ",")
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvclient:", err)
		os.Exit(2)
	}
	defer cli.Close()
	c := &checker{cli: cli, endpoints: eps, prefix: *prefix}
	checks := []struct {
		name string
		run  func() error
	}{
		{"kv_ranges", c.kvRanges},
		{"revisions", c.revisions},
		{"txn_compares", c.txnCompares},
		{"watch", c.watch},
		{"lease_stream", c.leaseStream},
		{"concurrent_txns", c.concurrentTxns},
		{"cluster", c.cluster},
		{"progress_notify", c.progressNotify},
		{"fragment", c.fragment},
	}
	failed := 0
	ran := 0
	for _, check := range checks {
		if *only != "" && *only != check.name {
			continue
		}
		ran++
		start := time.Now()
		if err := check.run(); err != nil {
			fmt.Printf("FAIL %s: %v\n", check.name, err)
			failed++
		} else {
			fmt.Printf("PASS %s (%.1fs)\n", check.name, time.Since(start).Seconds())
		}
	}
	if ran == 0 {
		fmt.Fprintf(os.Stderr, "kvclient: no check named %q\n", *only)
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
