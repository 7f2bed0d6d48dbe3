package localstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
)

func TestPrepareAndPutPrepared(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	p := testPage("dist/a.html", 4, "x")
	key := model.PageKey(p.ProjectID, p.PageID)
	value := model.Canonical(p)
	pr, err := Prepare(model.NSPages, key, value, &p)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Key() != key {
		t.Fatalf("Key() = %q", pr.Key())
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutPrepared(pr) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(model.NSPages, key)
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("stored %s, %v", got, err)
	}
	// The same outcome as PutLocal: dirty, local_hash = sha256, one outbox entry.
	st, ok, err := s.SyncState(model.NSPages, key)
	if err != nil || !ok || !st.Dirty || st.LocalHash != model.ValueHash(value) {
		t.Fatalf("sync state %+v %v %v", st, ok, err)
	}
	if n, _ := s.OutboxLen(); n != 1 {
		t.Fatalf("outbox has %d entries, want 1", n)
	}
	// Identical bytes again: a no-op.
	again, _ := Prepare(model.NSPages, key, bytes.Clone(value), &p)
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutPrepared(again) }); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(); n != 1 {
		t.Fatalf("outbox has %d entries after an identical write, want 1", n)
	}

	// Prepare refuses what PutLocal refuses, naming the field or the key.
	bad := p
	bad.Uploaded = "yesterday"
	if _, err := Prepare(model.NSPages, key, model.Canonical(bad), &bad); !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "uploaded") {
		t.Fatalf("invalid page: %v", err)
	}
	if _, err := Prepare(model.NSStatus, key, value, &p); err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("page key in the status namespace: %v", err)
	}
	// Without a typed record the value is decoded and checked.
	if _, err := Prepare(model.NSPages, key, []byte(`{"page_id":1}`), nil); err == nil {
		t.Fatal("an undecodable page value was prepared")
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutPrepared(Prepared{}) }); err == nil {
		t.Fatal("a zero Prepared was written")
	}
}

func TestWriteTx(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	events, cancel := s.Subscribe(16)
	defer cancel()
	put := func(w *WriteTx, path string) string {
		t.Helper()
		p := testPage(path, 2, "x")
		key := model.PageKey(p.ProjectID, p.PageID)
		if err := w.Do(func(tx *Tx) error { return tx.PutJSON(model.NSPages, key, p) }); err != nil {
			t.Fatal(err)
		}
		return key
	}

	// Several Do calls, one commit: everything lands, events after the commit.
	w, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := put(w, "dist/a.html"), put(w, "dist/b.html")
	select {
	case ev := <-events:
		t.Fatalf("event %+v before the commit", ev)
	default:
	}
	if _, err := s.Get(model.NSPages, k1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted write visible to readers: %v", err)
	}
	if w.Age() <= 0 || w.Age() > time.Minute {
		t.Fatalf("Age() = %v", w.Age())
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{k1, k2} {
		if _, err := s.Get(model.NSPages, k); err != nil {
			t.Fatalf("%s after commit: %v", k, err)
		}
	}
	for range 2 {
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("no event after the commit")
		}
	}
	if err := w.Commit(ctx); !errors.Is(err, ErrTxDone) {
		t.Fatalf("second commit: %v", err)
	}

	// A failing Do drops everything since Begin.
	w, err = s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k3 := put(w, "dist/c.html")
	boom := errors.New("boom")
	if err := w.Do(func(tx *Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Do: %v", err)
	}
	if err := w.Do(func(tx *Tx) error { return nil }); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Do after a failure: %v", err)
	}
	if _, err := s.Get(model.NSPages, k3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a write of a failed transaction was kept: %v", err)
	}

	// Rollback and a cancelled commit write nothing; the lock is released.
	w, _ = s.Begin(ctx)
	k4 := put(w, "dist/d.html")
	w.Rollback()
	w.Rollback() // no-op
	cctx, stop := context.WithCancel(ctx)
	w, _ = s.Begin(cctx)
	k5 := put(w, "dist/e.html")
	stop()
	if err := w.Commit(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled commit: %v", err)
	}
	for _, k := range []string{k4, k5} {
		if _, err := s.Get(model.NSPages, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s was written: %v", k, err)
		}
	}
	if err := s.Update(ctx, func(tx *Tx) error { return nil }); err != nil {
		t.Fatalf("the store stayed locked: %v", err)
	}
	if _, err := s.Begin(cctx); err == nil {
		t.Fatal("Begin with a cancelled context")
	}
}

func TestWalkAndCount(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	want := map[string][]byte{}
	if err := s.Update(ctx, func(tx *Tx) error {
		for _, path := range []string{"dist/a.html", "dist/b.html", "dist/c.html"} {
			p := testPage(path, 2, "x")
			key := model.PageKey(p.ProjectID, p.PageID)
			want[key] = model.Canonical(p)
			if err := tx.PutJSON(model.NSPages, key, p); err != nil {
				return err
			}
		}
		n, err := tx.Count(model.NSPages, model.ProjectPrefix(model.KindPage, testProject))
		if n != 3 || err != nil {
			t.Errorf("Tx.Count = %d, %v", n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := s.Walk(model.NSPages, model.ProjectPrefix(model.KindPage, testProject), func(key string, v []byte) error {
		seen++
		if !bytes.Equal(v, want[key]) {
			t.Errorf("%s: %s", key, v)
		}
		return nil
	})
	if err != nil || seen != 3 {
		t.Fatalf("Walk saw %d, %v", seen, err)
	}
	if n, err := s.Count(model.NSPages, "page:proj_ffffffffffff:"); n != 0 || err != nil {
		t.Fatalf("Count of another project = %d, %v", n, err)
	}
}

func TestFileEntryEncoding(t *testing.T) {
	for _, fe := range []FileEntry{
		{SourcePath: "dist/a.html", ProjectID: testProject, PageID: testPageID("dist/a.html"), SHA256: strings.Repeat("ab", 32), Size: 1234, ModTimeNs: 1764158400123456789},
		{SourcePath: "dist/é.html", ProjectID: testProject, PageID: testPageID("dist/é.html"), Size: 0, ModTimeNs: -5, Missing: true},
	} {
		got, err := decodeFileEntry(fe.ProjectID, []byte(fe.SourcePath), encodeFileEntry(fe))
		if err != nil || got != fe {
			t.Errorf("round trip of %+v: %+v, %v", fe, got, err)
		}
		// Entries written as JSON by earlier versions still read.
		legacy, _ := json.Marshal(fe)
		if got, err := decodeFileEntry(fe.ProjectID, []byte(fe.SourcePath), legacy); err != nil || got != fe {
			t.Errorf("legacy JSON %s: %+v, %v", legacy, got, err)
		}
		enc := encodeFileEntry(fe)
		for n := range len(enc) {
			if _, err := decodeFileEntry(fe.ProjectID, []byte(fe.SourcePath), enc[:n]); err == nil {
				t.Errorf("a %d-byte prefix of %x decoded", n, enc)
			}
		}
		if _, err := decodeFileEntry(fe.ProjectID, []byte(fe.SourcePath), append(enc, 0)); err == nil {
			t.Error("trailing bytes decoded")
		}
	}
	if _, err := decodeFileEntry(testProject, []byte("dist/a.html"), []byte{0x7f, 0}); err == nil {
		t.Error("an unknown version decoded")
	}
}
