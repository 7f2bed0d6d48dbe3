package localstore

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// The indexer runs once per write transaction, before its commit, with
// each page whose page, review, status or logs record was written, and
// sees the typed records the writers passed; its error rolls the whole
// transaction back; a write with no indexer clears the index version.
func TestIndexerRunsInTheWritingTransaction(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	p := testPage("dist/a.html", 3, "")
	var calls [][]PageRef
	var sawRec bool
	s.SetIndexer(func(tx *Tx, refs []PageRef) error {
		calls = append(calls, refs)
		rec, ok := tx.Written(model.NSPages, model.PageKey(p.ProjectID, p.PageID))
		sawRec = ok && rec.(*model.PageData).PageID == p.PageID
		return tx.PutIndex("n", []byte{byte(len(calls))})
	})
	st := model.StatusData{Status: model.StatusUploaded, BatchID: testBatch, Updated: testStamp}
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutPage(p); err != nil {
			return err
		}
		if err := tx.PutStatus(p.ProjectID, p.PageID, st); err != nil {
			return err
		}
		return tx.SetMeta("not-a-page", "x")
	}); err != nil {
		t.Fatal(err)
	}
	want := []PageRef{{p.ProjectID, p.PageID}}
	if !reflect.DeepEqual(calls, [][]PageRef{want}) || !sawRec {
		t.Fatalf("indexer calls %v (typed record seen: %v), want one with %v", calls, sawRec, want)
	}
	// an error rolls everything back
	boom := errors.New("boom")
	s.SetIndexer(func(*Tx, []PageRef) error { return boom })
	p2 := testPage("dist/b.html", 1, "")
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutPage(p2) }); !errors.Is(err, boom) {
		t.Fatalf("Update with a failing indexer: %v", err)
	}
	if _, err := s.GetPage(p2.ProjectID, p2.PageID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the page of a rolled back transaction is there: %v", err)
	}
	// no indexer: the version is cleared
	if err := s.SetMeta(MetaIndexVersion, "v"); err != nil {
		t.Fatal(err)
	}
	s.SetIndexer(nil)
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutPage(p2) }); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta(MetaIndexVersion); v != "" {
		t.Errorf("index version %q after a write without an indexer", v)
	}
}

// ScanIndexReverse walks one prefix from its last key down, and nothing
// of the prefixes around it.
func TestScanIndexReverse(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := []string{"a:1", "lt:p:1", "lt:p:2", "lt:p:3", "lt:q:1", "lt:pp:1"}
	if err := s.Update(context.Background(), func(tx *Tx) error {
		for _, k := range keys {
			if err := tx.PutIndex(k, []byte{1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string][]string{
		"lt:p:": {"lt:p:3", "lt:p:2", "lt:p:1"},
		"lt:q:": {"lt:q:1"},
		"lt:z:": nil,
		"zz":    nil,
		"a:":    {"a:1"},
	} {
		var got []string
		if err := s.View(func(tx *Tx) error {
			return tx.ScanIndexReverse(prefix, func(k, _ []byte) error { got = append(got, string(k)); return nil })
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ScanIndexReverse(%q) = %v, want %v", prefix, got, want)
		}
	}
}
