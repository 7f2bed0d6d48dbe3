package localstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-desktop/nimbus/model"
)

var ctx = context.Background()

func put(t *testing.T, s *Store, ns model.Namespace, key string, value []byte) {
	t.Helper()
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutLocal(ns, key, value) }); err != nil {
		t.Fatalf("PutLocal %s %s: %v", ns, key, err)
	}
}

func TestRoundTripEveryKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := everyKind(t)
	for _, r := range recs {
		t.Run(r.name, func(t *testing.T) {
			put(t, s, r.ns, r.key, r.value)
			got, err := s.Get(r.ns, r.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(got, r.value) {
				t.Fatalf("Get returned other bytes:\n got %s\nwant %s", got, r.value)
			}
			var listed []string
			err = s.List(r.ns, r.name+":", func(k string, v []byte) error {
				if !bytes.Equal(v, r.value) {
					t.Errorf("List value of %s differs", k)
				}
				listed = append(listed, k)
				return nil
			})
			if err != nil || !reflect.DeepEqual(listed, []string{r.key}) {
				t.Fatalf("List(%s, %q) = %v, %v; want [%s]", r.ns, r.name+":", listed, err, r.key)
			}
			st, ok, err := s.SyncState(r.ns, r.key)
			if err != nil || !ok || !st.Dirty || st.LocalHash != model.ValueHash(r.value) || st.Seq == 0 {
				t.Fatalf("SyncState = %+v ok=%v err=%v; want dirty with local hash and a seq", st, ok, err)
			}
		})
	}
	// Everything survives a reopen, in the namespace's own bucket.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range recs {
		got, err := s.Get(r.ns, r.key)
		if err != nil || !bytes.Equal(got, r.value) {
			t.Errorf("after reopen Get(%s, %s) = %.40q, %v", r.ns, r.key, got, err)
		}
	}
	if n, err := s.OutboxLen(); err != nil || n != len(recs) {
		t.Errorf("OutboxLen = %d, %v; want %d", n, err, len(recs))
	}
	// The namespace buckets are named exactly as the seed.
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, ns := range model.Namespaces {
			if tx.Bucket([]byte(ns)) == nil {
				t.Errorf("no bucket %s", ns)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestListPrefixKeysCount(t *testing.T) {
	s := openTest(t)
	other := "proj_ba9876543210"
	for _, p := range []string{"dist/a.html", "dist/b.html", "dist/c.html"} {
		pg := testPage(p, 2, "x")
		put(t, s, model.NSPages, model.PageKey(testProject, pg.PageID), model.Canonical(pg))
	}
	pg := testPage("dist/a.html", 2, "x")
	pg.ProjectID, pg.PageID = other, model.PageID(other, "dist/a.html")
	put(t, s, model.NSPages, model.PageKey(other, pg.PageID), model.Canonical(pg))

	keys, err := s.Keys(model.NSPages, model.ProjectPrefix(model.KindPage, testProject))
	if err != nil || len(keys) != 3 {
		t.Fatalf("Keys = %v, %v; want 3 keys of %s", keys, err, testProject)
	}
	if !sortedStrings(keys) {
		t.Errorf("Keys not in key order: %v", keys)
	}
	for _, tc := range []struct {
		prefix string
		want   int
	}{
		{"", 4},
		{"page:", 4},
		{"page:" + testProject + ":", 3},
		{"page:" + other + ":", 1},
		{"review:", 0},
	} {
		if n, err := s.Count(model.NSPages, tc.prefix); err != nil || n != tc.want {
			t.Errorf("Count(%q) = %d, %v; want %d", tc.prefix, n, err, tc.want)
		}
	}
	var pages []model.PageData
	if err := s.ListPages(testProject, func(p model.PageData) error { pages = append(pages, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 || pages[0].ProjectID != testProject {
		t.Fatalf("ListPages gave %d pages", len(pages))
	}
	got, err := s.GetPage(testProject, pages[1].PageID)
	if err != nil || !reflect.DeepEqual(got, pages[1]) {
		t.Fatalf("GetPage = %+v, %v", got.PageID, err)
	}
	// A List callback error stops the walk and comes back unchanged.
	stop := errors.New("stop")
	n := 0
	err = s.List(model.NSPages, "", func(string, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("List with failing fn: n=%d err=%v", n, err)
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

func TestGetNotFound(t *testing.T) {
	s := openTest(t)
	_, err := s.Get(model.NSPages, "page:proj_0123456789ab:page_000000000000")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "page:proj_0123456789ab:page_000000000000") {
		t.Fatalf("Get missing = %v; want ErrNotFound naming the key", err)
	}
	if _, err := s.GetProject("proj_ffffffffffff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetProject missing = %v", err)
	}
	if _, err := s.Get("NIMBUS_NOPE", "x:y"); !errors.Is(err, ErrUnknownNamespace) {
		t.Fatalf("Get unknown namespace = %v", err)
	}
}

func TestPutValidation(t *testing.T) {
	recs := everyKind(t)
	page := recs[8]
	badPage := testPage("dist/local/birmingham/rolex-repair.html", 2, "a")
	badPage.Extraction.Engine = ""
	long := "cache:" + strings.Repeat("x", model.MaxKeyBytes)
	for _, tc := range []struct {
		name    string
		ns      model.Namespace
		key     string
		value   []byte
		want    []string // substrings of the error
		wantErr error
	}{
		{"invalid field", model.NSPages, page.key, model.Canonical(badPage), []string{"NIMBUS_PAGES", page.key, "extraction.engine"}, model.ErrInvalid},
		{"not JSON", model.NSPages, page.key, []byte("{nope"), []string{"NIMBUS_PAGES", page.key}, nil},
		{"empty value", model.NSStatus, model.StatusKey(testProject, testPageID("a")), nil, []string{"NIMBUS_STATUS", "status:"}, nil},
		{"bad enum", model.NSStatus, model.StatusKey(testProject, testPageID("a")), statusValue("donee", testStamp), []string{"NIMBUS_STATUS", "status:" + testProject, `"donee"`}, model.ErrInvalid},
		{"wrong namespace", model.NSPages, model.StatusKey(testProject, testPageID("a")), statusValue("queued", testStamp), []string{"NIMBUS_PAGES", "status:", "NIMBUS_STATUS"}, ErrWrongNamespace},
		{"unknown namespace", "NIMBUS_NOPE", page.key, page.value, []string{"NIMBUS_NOPE"}, ErrUnknownNamespace},
		{"key too long", model.NSCache, long, recs[6].value, []string{"NIMBUS_CACHE", "cache:xxx"}, model.ErrKeyTooLong},
		{"key id mismatch", model.NSProjects, model.ProjectKey("proj_ffffffffffff"), recs[3].value, []string{"project:proj_ffffffffffff", "project_id"}, model.ErrInvalid},
		{"unknown kind", model.NSPages, "pages:x", page.value, []string{"NIMBUS_PAGES", "pages:x"}, nil},
		{"value over 25 MiB", model.NSCache, recs[6].key, hugeCache(), []string{"NIMBUS_CACHE", recs[6].key, "25"}, ErrValueTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			events, cancel := s.Subscribe(10)
			defer cancel()
			for _, op := range []struct {
				name string
				fn   func(tx *Tx) error
			}{
				{"PutLocal", func(tx *Tx) error { return tx.PutLocal(tc.ns, tc.key, tc.value) }},
				{"PutRemote", func(tx *Tx) error { return tx.PutRemote(tc.ns, tc.key, tc.value, model.ValueHash(tc.value)) }},
			} {
				err := s.Update(ctx, op.fn)
				if err == nil {
					t.Fatalf("%s accepted %s", op.name, tc.name)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s error %q does not mention %q", op.name, err, w)
					}
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("%s error %v is not %v", op.name, err, tc.wantErr)
				}
			}
			for _, ns := range model.Namespaces {
				if n, _ := s.Count(ns, ""); n != 0 {
					t.Errorf("%s holds %d records after refused writes", ns, n)
				}
			}
			if n, _ := s.OutboxLen(); n != 0 {
				t.Errorf("outbox holds %d entries after refused writes", n)
			}
			select {
			case ev := <-events:
				t.Errorf("event %+v after a refused write", ev)
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}

func TestUpdateRollsBackOnError(t *testing.T) {
	s := openTest(t)
	events, cancel := s.Subscribe(10)
	defer cancel()
	r := everyKind(t)[3]
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutLocal(r.ns, r.key, r.value); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v; want the fn's error", err)
	}
	cctx, stop := context.WithCancel(ctx)
	err = s.Update(cctx, func(tx *Tx) error {
		stop() // the caller gives up while the write is under way
		return tx.PutLocal(r.ns, r.key, r.value)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with cancelled ctx = %v", err)
	}
	if err := s.Update(cctx, func(*Tx) error { t.Fatal("fn ran on a cancelled ctx"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Update on cancelled ctx = %v", err)
	}
	if _, err := s.Get(r.ns, r.key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled-back write is visible: %v", err)
	}
	if _, ok, _ := s.SyncState(r.ns, r.key); ok {
		t.Fatal("rolled-back write left sync state")
	}
	if n, _ := s.OutboxLen(); n != 0 {
		t.Fatalf("rolled-back write left %d outbox entries", n)
	}
	select {
	case ev := <-events:
		t.Fatalf("event %+v for a rolled-back write", ev)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestBatchConcurrentWriters(t *testing.T) {
	s := openTest(t)
	events, cancel := s.Subscribe(1000)
	defer cancel()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pg := testPage("dist/p"+string(rune('a'+i%26))+strings.Repeat("x", i)+".html", 3, "b")
			errs <- s.Batch(ctx, func(tx *Tx) error {
				return tx.PutJSON(model.NSPages, model.PageKey(testProject, pg.PageID), pg)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Batch: %v", err)
		}
	}
	if c, _ := s.Count(model.NSPages, ""); c != n {
		t.Fatalf("Count = %d; want %d", c, n)
	}
	if l, _ := s.OutboxLen(); l != n {
		t.Fatalf("OutboxLen = %d; want %d", l, n)
	}
	got := 0
	for got < n {
		select {
		case ev := <-events:
			if ev.Overflow || ev.NS != model.NSPages {
				t.Fatalf("unexpected event %+v", ev)
			}
			got++
		case <-time.After(2 * time.Second):
			t.Fatalf("got %d of %d events", got, n)
		}
	}
	// A failing batch call leaves nothing behind and reports its error.
	bad := testPage("dist/bad.html", 1, "b")
	bad.Uploaded = "yesterday"
	err := s.Batch(ctx, func(tx *Tx) error { return tx.PutJSON(model.NSPages, model.PageKey(testProject, bad.PageID), bad) })
	if !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("Batch with invalid page = %v", err)
	}
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deep", "er", "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != path {
		t.Errorf("Path = %q", s.Path())
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&^0o022 != want&^0o022 || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %v; want %v", p, fi.Mode(), want)
		}
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	// bbolt's flock(2) lock belongs to the open file description, so a
	// second handle in this same process conflicts just like a second
	// Nimbus process would.
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s2, err := Open(path)
	took := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same store succeeded")
	}
	if took > 2*time.Second {
		t.Errorf("second Open took %v; want under 2s", took)
	}
	want := "the store " + path + " is open in another Nimbus window"
	if err.Error() != want || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %q; want %q (ErrLocked)", err, want)
	}
	// Once the first window closes, the store opens again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s3.Close()
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("schema_version"); v != "2" {
		t.Fatalf("schema_version = %q; want 2", v)
	}
	if err := s.SetMeta("schema_version", "0"); err == nil {
		t.Fatal("SetMeta overwrote schema_version")
	}
	s.Close()
	for _, tc := range []struct {
		stored  string
		wantErr error
		want    string
	}{
		{"1", nil, ""},
		{"2", nil, ""},
		{"3", ErrSchemaTooNew, "schema version 3"},
		{"one", nil, "not a number"},
	} {
		setRawMeta(t, path, "schema_version", tc.stored)
		s, err := Open(path)
		if tc.want == "" {
			if err != nil {
				t.Fatalf("Open with schema %s: %v", tc.stored, err)
			}
			s.Close()
			continue
		}
		if err == nil {
			s.Close()
			t.Fatalf("Open accepted schema_version %q", tc.stored)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) ||
			(tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Fatalf("Open with schema %q = %v; want %q naming the file", tc.stored, err, tc.want)
		}
	}
}

func setRawMeta(t *testing.T, path, key, value string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(key), []byte(value)) })
	if err != nil {
		t.Fatal(err)
	}
}

func TestMeta(t *testing.T) {
	s := openTest(t)
	if v, err := s.Meta("current_project"); err != nil || v != "" {
		t.Fatalf("unset Meta = %q, %v", v, err)
	}
	if err := s.SetMeta("current_project", testProject); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("current_project"); v != testProject {
		t.Fatalf("Meta = %q", v)
	}
	if err := s.SetMeta("", "x"); err == nil {
		t.Fatal("SetMeta accepted an empty key")
	}
}

// TestNoDelete pins the rule that records are never deleted: neither the
// Store nor a Tx offers any way to remove one. The one exception is
// DeleteIndex and DeleteAllIndex, for the derived records of the _index
// bucket (never pushed, rebuilt from the namespaces at will): deleting
// them loses nothing.
func TestNoDelete(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[*Store](), reflect.TypeFor[*Tx]()} {
		for i := range typ.NumMethod() {
			if n := typ.Method(i).Name; n == "DeleteIndex" || n == "DeleteAllIndex" {
				continue
			}
			name := strings.ToLower(typ.Method(i).Name)
			for _, bad := range []string{"delete", "remove", "drop", "purge", "clear", "truncate", "evict"} {
				if strings.Contains(name, bad) {
					t.Errorf("%v has method %s: records must never be deleted", typ, typ.Method(i).Name)
				}
			}
		}
	}
}

func TestDefaultPath(t *testing.T) {
	for _, tc := range []struct {
		name, store, xdg, home, want string
	}{
		{"explicit", "/tmp/custom.db", "/xdg", "/home/a", "/tmp/custom.db"},
		{"xdg", "", "/xdg", "/home/a", "/xdg/nimbus/nimbus.db"},
		{"relative xdg ignored", "", "rel/dir", "/home/a", "/home/a/.local/share/nimbus/nimbus.db"},
		{"home", "", "", "/home/a", "/home/a/.local/share/nimbus/nimbus.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NIMBUS_STORE", tc.store)
			t.Setenv("XDG_DATA_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			got, err := DefaultPath()
			if err != nil || got != tc.want {
				t.Fatalf("DefaultPath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := everyKind(t)[0]
	err = s.Update(ctx, func(tx *Tx) error { return tx.PutLocal(r.ns, r.key, r.value) })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close = %v; want ErrClosed", err)
	}
}

// TestBatchRetryPublishesOnce: when one call of a shared batch fails, bbolt
// rolls the batch back and runs the calls again; the good calls commit
// once and their events are published once.
func TestBatchRetryPublishesOnce(t *testing.T) {
	s := openTest(t)
	s.db.MaxBatchDelay = 100 * time.Millisecond // make the calls share a batch
	events, cancel := s.Subscribe(100)
	defer cancel()
	const good = 10
	runs := make([]int, good)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, good+1)
	for i := range good + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := model.StatusKey(testProject, testPageID(strings.Repeat("p", i+1)))
			value := statusValue(model.StatusQueued, testStamp)
			if i == good {
				value = statusValue("donee", testStamp) // the failing call
			}
			errs[i] = s.Batch(ctx, func(tx *Tx) error {
				if i < good {
					mu.Lock()
					runs[i]++
					mu.Unlock()
				}
				return tx.PutLocal(model.NSStatus, key, value)
			})
		}()
	}
	wg.Wait()
	for i, err := range errs[:good] {
		if err != nil {
			t.Fatalf("good call %d: %v", i, err)
		}
	}
	if !errors.Is(errs[good], model.ErrInvalid) {
		t.Fatalf("bad call: %v", errs[good])
	}
	reran := 0
	for _, r := range runs {
		if r > 1 {
			reran++
		}
	}
	t.Logf("%d of %d good calls ran more than once", reran, good)
	seen := map[string]int{}
	for {
		ev, ok := nextEvent(events, 200*time.Millisecond)
		if !ok {
			break
		}
		seen[ev.Key]++
	}
	if len(seen) != good {
		t.Fatalf("events for %d keys; want %d", len(seen), good)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%d events for %s", n, k)
		}
	}
	if n, _ := s.OutboxLen(); n != good {
		t.Fatalf("OutboxLen = %d; want %d", n, good)
	}
}

// hugeCache is a valid cache record just over KV's 25 MiB value limit.
func hugeCache() []byte {
	data := model.Canonical(strings.Repeat("x", MaxValueBytes))
	return model.Canonical(model.CacheData{Data: data, Created: testStamp, Expires: testStamp2, Type: "ai"})
}

func TestPutLocalRecordValidatesTheTypedRecord(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	p := testPage("dist/a.html", 3, "x")
	key := model.PageKey(p.ProjectID, p.PageID)
	if err := s.Update(ctx, func(tx *Tx) error {
		return tx.PutLocalRecord(model.NSPages, key, model.Canonical(p), &p)
	}); err != nil {
		t.Fatalf("valid page: %v", err)
	}
	got, err := s.Get(model.NSPages, key)
	if err != nil || !bytes.Equal(got, model.Canonical(p)) {
		t.Fatalf("stored %s, %v", got, err)
	}
	bad := p
	bad.Uploaded = "yesterday"
	err = s.Update(ctx, func(tx *Tx) error {
		return tx.PutLocalRecord(model.NSPages, key, model.Canonical(bad), &bad)
	})
	if !errors.Is(err, model.ErrInvalid) || !strings.Contains(err.Error(), "uploaded") {
		t.Fatalf("invalid page: err = %v, want ErrInvalid naming uploaded", err)
	}
	st := model.StatusData{Status: model.StatusUploaded, Updated: model.Now()}
	err = s.Update(ctx, func(tx *Tx) error {
		return tx.PutLocalRecord(model.NSPages, key, model.Canonical(st), &st)
	})
	if !errors.Is(err, model.ErrRecordType) {
		t.Fatalf("status record under a page key: err = %v, want ErrRecordType", err)
	}
	// PutJSON takes records by value and validates them without decoding.
	err = s.Update(ctx, func(tx *Tx) error { return tx.PutJSON(model.NSPages, key, bad) })
	if !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("PutJSON invalid page: err = %v", err)
	}
}
