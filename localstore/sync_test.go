package localstore

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
)

func outboxKeys(t *testing.T, s *Store) []string {
	t.Helper()
	ob, err := s.Outbox(0)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(ob))
	for i, e := range ob {
		if i > 0 && ob[i-1].Seq >= e.Seq {
			t.Fatalf("outbox not ordered by seq: %+v", ob)
		}
		keys[i] = e.Key
	}
	return keys
}

func mustState(t *testing.T, s *Store, ns model.Namespace, key string) SyncState {
	t.Helper()
	st, ok, err := s.SyncState(ns, key)
	if err != nil || !ok {
		t.Fatalf("SyncState(%s) = %+v, %v, %v", key, st, ok, err)
	}
	return st
}

func TestOutboxOrderAndAck(t *testing.T) {
	s := openTest(t)
	ns := model.NSStatus
	a, b, c := model.StatusKey(testProject, testPageID("a")), model.StatusKey(testProject, testPageID("b")), model.StatusKey(testProject, testPageID("c"))
	// Writes in the order b, c, a: the outbox keeps write order, not key order.
	v1 := statusValue(model.StatusUploaded, testStamp)
	for _, k := range []string{b, c, a} {
		put(t, s, ns, k, v1)
	}
	if got, want := outboxKeys(t, s), []string{b, c, a}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox = %v; want %v", got, want)
	}
	seqB := mustState(t, s, ns, b).Seq

	// Identical bytes: a no-op.
	put(t, s, ns, b, v1)
	// A re-put of b before its push keeps its one entry and its place.
	v2 := statusValue(model.StatusQueued, testStamp2)
	put(t, s, ns, b, v2)
	if got, want := outboxKeys(t, s), []string{b, c, a}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after re-put outbox = %v; want %v", got, want)
	}
	stB := mustState(t, s, ns, b)
	if stB.Seq != seqB || stB.LocalHash != model.ValueHash(v2) || !stB.Dirty {
		t.Fatalf("b state after re-put = %+v; want seq %d, hash of v2, dirty", stB, seqB)
	}
	ob, _ := s.Outbox(1)
	if len(ob) != 1 || ob[0].Key != b || ob[0].Hash != model.ValueHash(v2) || ob[0].NS != ns {
		t.Fatalf("Outbox(1) = %+v; want b with the hash of v2", ob)
	}

	// The engine pushed v1 of b (read before the re-put): ack keeps b pending.
	if err := s.AckPush(ns, b, model.ValueHash(v1)); err != nil {
		t.Fatal(err)
	}
	stB = mustState(t, s, ns, b)
	if !stB.Dirty || stB.RemoteHash != model.ValueHash(v1) || stB.Seq != seqB {
		t.Fatalf("after stale ack b = %+v; want still dirty and pending, remote = v1", stB)
	}
	// Ack of the current value clears it.
	if err := s.AckPush(ns, b, model.ValueHash(v2)); err != nil {
		t.Fatal(err)
	}
	stB = mustState(t, s, ns, b)
	if stB.Dirty || stB.Seq != 0 || stB.RemoteHash != model.ValueHash(v2) {
		t.Fatalf("after ack b = %+v; want clean", stB)
	}
	if got, want := outboxKeys(t, s), []string{c, a}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after ack outbox = %v; want %v", got, want)
	}
	// A new write after the ack queues b again, at the end.
	put(t, s, ns, b, v1)
	if got, want := outboxKeys(t, s), []string{c, a, b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after new write outbox = %v; want %v", got, want)
	}
	if n, _ := s.OutboxLen(); n != 3 {
		t.Fatalf("OutboxLen = %d", n)
	}
	// The record itself is never touched by sync bookkeeping.
	if got, _ := s.Get(ns, b); string(got) != string(v1) {
		t.Fatalf("value of b = %s", got)
	}
	for _, bad := range []struct{ ns model.Namespace }{{model.NSPages}, {"NIMBUS_NOPE"}} {
		if err := s.AckPush(bad.ns, b, model.ValueHash(v1)); err == nil {
			t.Errorf("AckPush in %s accepted %s", bad.ns, b)
		}
	}
	if err := s.AckPush(ns, b, ""); err == nil {
		t.Error("AckPush accepted an empty hash")
	}
}

func TestPutRemoteDirtyRule(t *testing.T) {
	ns := model.NSStatus
	key := model.StatusKey(testProject, testPageID("a"))
	local := statusValue(model.StatusQueued, testStamp)
	remote := statusValue(model.StatusProcessing, testStamp2)
	merged := statusValue(model.StatusDone, testStamp2)
	for _, tc := range []struct {
		name       string
		localFirst bool
		value      []byte // what the caller stores after merging
		remoteHash string
		wantDirty  bool
		wantOutbox int
		wantEvent  bool
	}{
		{"fresh remote value", false, remote, model.ValueHash(remote), false, 0, true},
		{"remote wins over pending local", true, remote, model.ValueHash(remote), false, 0, true},
		{"merge keeps local intent", true, merged, model.ValueHash(remote), true, 1, true},
		{"merge equals local", true, local, model.ValueHash(remote), true, 1, false},
		{"remote equals local", true, local, model.ValueHash(local), false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			var seq uint64
			if tc.localFirst {
				put(t, s, ns, key, local)
				seq = mustState(t, s, ns, key).Seq
			}
			events, cancel := s.Subscribe(10)
			defer cancel()
			err := s.Update(ctx, func(tx *Tx) error { return tx.PutRemote(ns, key, tc.value, tc.remoteHash) })
			if err != nil {
				t.Fatal(err)
			}
			st := mustState(t, s, ns, key)
			if st.Dirty != tc.wantDirty || st.RemoteHash != tc.remoteHash || st.LocalHash != model.ValueHash(tc.value) {
				t.Fatalf("state = %+v; want dirty=%v remote=%s", st, tc.wantDirty, tc.remoteHash)
			}
			if n, _ := s.OutboxLen(); n != tc.wantOutbox {
				t.Fatalf("OutboxLen = %d; want %d", n, tc.wantOutbox)
			}
			if tc.wantDirty && seq != 0 && st.Seq != seq {
				t.Fatalf("pending entry moved from seq %d to %d", seq, st.Seq)
			}
			if !tc.wantDirty && st.Seq != 0 {
				t.Fatalf("clean key keeps seq %d", st.Seq)
			}
			if got, _ := s.Get(ns, key); string(got) != string(tc.value) {
				t.Fatalf("stored %s", got)
			}
			ev, got := nextEvent(events, 200*time.Millisecond)
			if got != tc.wantEvent || (got && ev != (Event{NS: ns, Key: key, Remote: true})) {
				t.Fatalf("event %+v (got one: %v, want one: %v)", ev, got, tc.wantEvent)
			}
		})
	}
	s := openTest(t)
	err := s.Update(ctx, func(tx *Tx) error { return tx.PutRemote(ns, key, remote, "") })
	if err == nil {
		t.Fatal("PutRemote accepted an empty remote hash")
	}
}

func TestSetRemoteHash(t *testing.T) {
	s := openTest(t)
	ns := model.NSStatus
	a, b := model.StatusKey(testProject, testPageID("a")), model.StatusKey(testProject, testPageID("b"))
	va := statusValue(model.StatusQueued, testStamp)
	put(t, s, ns, a, va)
	put(t, s, ns, b, va)
	// The listing shows the remote already holds a's value: nothing to push.
	if err := s.SetRemoteHash(ns, a, model.ValueHash(va)); err != nil {
		t.Fatal(err)
	}
	// b differs remotely: stays pending.
	if err := s.SetRemoteHash(ns, b, "ffff"); err != nil {
		t.Fatal(err)
	}
	if got, want := outboxKeys(t, s), []string{b}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox = %v; want %v", got, want)
	}
	if st := mustState(t, s, ns, a); st.Dirty || st.RemoteHash != model.ValueHash(va) {
		t.Fatalf("a = %+v", st)
	}
	if st := mustState(t, s, ns, b); !st.Dirty || st.RemoteHash != "ffff" {
		t.Fatalf("b = %+v", st)
	}
	// A key only the remote has gets a state with just the remote hash.
	c := model.StatusKey(testProject, testPageID("c"))
	if err := s.SetRemoteHash(ns, c, "abcd"); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err := s.SyncStates(ns, "status:", func(k string, st SyncState) error {
		seen = append(seen, k)
		if k == c && (st.RemoteHash != "abcd" || st.LocalHash != "" || st.Dirty) {
			t.Errorf("remote-only state = %+v", st)
		}
		return nil
	})
	want := []string{a, b, c}
	slices.Sort(want)
	if err != nil || !reflect.DeepEqual(seen, want) {
		t.Fatalf("SyncStates = %v, %v", seen, err)
	}
	if _, err := s.Get(ns, c); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetRemoteHash created a record: %v", err)
	}
}

func TestOutboxLimit(t *testing.T) {
	s := openTest(t)
	for _, p := range []string{"a", "b", "c", "d"} {
		put(t, s, model.NSStatus, model.StatusKey(testProject, testPageID(p)), statusValue(model.StatusQueued, testStamp))
	}
	for _, tc := range []struct{ limit, want int }{{0, 4}, {-1, 4}, {2, 2}, {10, 4}} {
		if ob, err := s.Outbox(tc.limit); err != nil || len(ob) != tc.want {
			t.Errorf("Outbox(%d) = %d entries, %v; want %d", tc.limit, len(ob), err, tc.want)
		}
	}
}
