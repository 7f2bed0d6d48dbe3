package localstore

import (
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-desktop/nimbus/model"
)

// kept is the kept outbox count when it is current, and the walked one.
func kept(t *testing.T, s *Store) (n int, current bool, walked int) {
	t.Helper()
	if err := s.view(func(tx *Tx) error {
		n, current = tx.storedOutboxLen()
		walked = tx.countOutbox()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n, current, walked
}

// The outbox count the window shows is kept with every write, not walked:
// it equals the walk after puts, acks, a batch of concurrent writers, a
// reopen, and a write by a program that does not keep it (then it is
// walked once and kept again).
func TestOutboxLenKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, want int) {
		t.Helper()
		n, current, walked := kept(t, s)
		if !current || n != want || walked != want {
			t.Fatalf("%s: kept %d (current %v), walked %d; want %d", step, n, current, walked, want)
		}
		if got, err := s.OutboxLen(); err != nil || got != want {
			t.Fatalf("%s: OutboxLen = %d, %v; want %d", step, got, err, want)
		}
	}
	ns := model.NSStatus
	key := func(set string, i int) string {
		return model.StatusKey(testProject, testPageID(fmt.Sprintf("%s/%d.html", set, i)))
	}
	v1, v2 := statusValue("queued", testStamp), statusValue("queued", testStamp2)
	for i := range 5 {
		put(t, s, ns, key("p", i), v1)
	}
	check("five puts", 5)
	put(t, s, ns, key("p", 0), v2) // an entry already pending
	check("a re-put", 5)
	if err := s.AckPush(ns, key("p", 1), model.ValueHash(v1)); err != nil {
		t.Fatal(err)
	}
	if err := s.AckPush(ns, key("p", 1), model.ValueHash(v1)); err != nil {
		t.Fatal(err) // twice: nothing left to remove
	}
	check("an ack", 4)
	// Within one transaction, OutboxLen counts its own entries.
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutLocal(ns, key("p", 9), v1); err != nil {
			return err
		}
		if got := tx.OutboxLen(); got != 5 {
			return fmt.Errorf("OutboxLen inside the write = %d, want 5", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("inside a write", 5)
	// Concurrent Batch callers share one bbolt transaction.
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			errs <- s.Batch(ctx, func(tx *Tx) error { return tx.PutLocal(ns, key("q", i), v1) })
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	check("a batch", 25)
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	check("reopened", 25)
	// An older Nimbus adds an entry without keeping the count.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Put(seqKey(1<<40), []byte(`{}`)) }); err != nil {
		t.Fatal(err)
	}
	if _, current, _ := kept(t, s); current {
		t.Fatal("the kept count is current after a write that did not keep it")
	}
	if got, _ := s.OutboxLen(); got != 26 {
		t.Fatalf("OutboxLen after a foreign write = %d, want 26 (walked)", got)
	}
	put(t, s, ns, key("r", 0), v1)
	check("the next write", 27)
	s.Close()
}
