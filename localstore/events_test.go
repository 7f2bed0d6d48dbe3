package localstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
)

// nextEvent waits up to d for an event; ok is false on timeout or a closed
// channel.
func nextEvent(ch <-chan Event, d time.Duration) (Event, bool) {
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(d):
		return Event{}, false
	}
}

func TestEventsAfterCommit(t *testing.T) {
	s := openTest(t)
	events, cancel := s.Subscribe(16)
	defer cancel()
	ns := model.NSStatus
	a, b := model.StatusKey(testProject, testPageID("a")), model.StatusKey(testProject, testPageID("b"))
	v := statusValue(model.StatusQueued, testStamp)

	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutLocal(ns, a, v); err != nil {
			return err
		}
		// Two writes of one key in a Tx give one event.
		if err := tx.PutLocal(ns, a, statusValue(model.StatusQueued, testStamp2)); err != nil {
			return err
		}
		if err := tx.PutRemote(ns, b, v, model.ValueHash(v)); err != nil {
			return err
		}
		// Nothing may be delivered before the commit.
		if ev, ok := nextEvent(events, 30*time.Millisecond); ok {
			t.Errorf("event %+v delivered inside the transaction", ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{NS: ns, Key: a}, {NS: ns, Key: b, Remote: true}}
	for i, w := range want {
		ev, ok := nextEvent(events, time.Second)
		if !ok || ev != w {
			t.Fatalf("event %d = %+v (ok %v); want %+v", i, ev, ok, w)
		}
	}
	// An identical local write is a no-op: no event.
	put(t, s, ns, b, v)
	if ev, ok := nextEvent(events, 30*time.Millisecond); ok {
		t.Fatalf("event %+v for an identical write", ev)
	}
	// Every subscriber gets every event.
	other, cancel2 := s.Subscribe(4)
	defer cancel2()
	put(t, s, ns, b, statusValue(model.StatusProcessing, testStamp2))
	for _, ch := range []<-chan Event{events, other} {
		if ev, ok := nextEvent(ch, time.Second); !ok || ev != (Event{NS: ns, Key: b}) {
			t.Fatalf("event = %+v, %v", ev, ok)
		}
	}
}

// TestSlowSubscriberNeverBlocks: a subscriber that does not read must not
// slow down or block 10,000 writes; when it reads again it learns it missed
// events (Overflow) without needing another write.
func TestSlowSubscriberNeverBlocks(t *testing.T) {
	s := openTest(t)
	s.db.NoSync = true // this test is about the bus, not the disk
	const buf = 8
	slow, cancelSlow := s.Subscribe(buf)
	defer cancelSlow()
	fast, cancelFast := s.Subscribe(100)
	defer cancelFast()
	var fastGot, fastOverflow int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Read until the final marker write (the only NIMBUS_STATUS event).
		for ev := range fast {
			if ev.Overflow {
				fastOverflow++
			} else {
				fastGot++
			}
			if ev.NS == model.NSStatus {
				return
			}
		}
	}()

	const n = 10000
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		for i := range n {
			v := model.Canonical(model.LogData{PageID: testPageID("a"), Entries: []model.LogEntry{
				{Timestamp: testStamp, Level: model.LevelInfo, Step: "test", Message: fmt.Sprint("write ", i)},
			}})
			if err := s.Update(ctx, func(tx *Tx) error {
				return tx.PutLocal(model.NSLogs, model.LogsKey(testProject, testPageID("a")), v)
			}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("10,000 writes did not finish: a slow subscriber blocked the writer")
	}
	t.Logf("%d writes with a stalled subscriber in %v", n, time.Since(start))

	// The stalled subscriber now reads: the Overflow comes first, then at
	// most buf events published after the overflow.
	var got []Event
	for {
		ev, ok := nextEvent(slow, 100*time.Millisecond)
		if !ok {
			break
		}
		got = append(got, ev)
	}
	if len(got) == 0 || !got[0].Overflow || len(got) > buf+1 {
		t.Fatalf("stalled subscriber got %d events (first %+v); want an Overflow first and at most %d", len(got), got, buf+1)
	}
	for _, ev := range got[1:] {
		if ev.Overflow {
			t.Fatalf("second Overflow in %+v", got)
		}
	}
	// After catching up it receives events normally again.
	put(t, s, model.NSStatus, model.StatusKey(testProject, testPageID("z")), statusValue(model.StatusQueued, testStamp))
	if ev, ok := nextEvent(slow, time.Second); !ok || ev.Overflow || ev.NS != model.NSStatus {
		t.Fatalf("after catching up: %+v, %v", ev, ok)
	}
	wg.Wait()
	if fastGot+fastOverflow == 0 || (fastOverflow == 0 && fastGot != n+1) {
		t.Fatalf("reading subscriber got %d events and %d overflows of %d", fastGot, fastOverflow, n+1)
	}
	t.Logf("reading subscriber: %d events, %d overflows", fastGot, fastOverflow)
}

func TestSubscribeCancelAndClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	a, cancelA := s.Subscribe(0) // buf < 1 still works
	b, cancelB := s.Subscribe(4)
	defer cancelB()

	// cancel closes the channel and is idempotent, also concurrently.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); cancelA() }()
	}
	wg.Wait()
	if _, ok := nextEvent(a, time.Second); ok {
		t.Fatal("cancelled channel still delivers")
	}
	if _, open := <-a; open {
		t.Fatal("cancelled channel not closed")
	}
	// Writes after a cancel do not panic or block.
	put(t, s, model.NSStatus, model.StatusKey(testProject, testPageID("a")), statusValue(model.StatusQueued, testStamp))
	if ev, ok := nextEvent(b, time.Second); !ok || ev.Overflow {
		t.Fatalf("live subscriber: %+v %v", ev, ok)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, open := <-b:
		if open {
			t.Fatal("event after Close")
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not close the subscription")
	}
	cancelB() // after Close: still fine
	c, cancelC := s.Subscribe(4)
	defer cancelC()
	if _, open := <-c; open {
		t.Fatal("Subscribe after Close gave an open channel")
	}
}
