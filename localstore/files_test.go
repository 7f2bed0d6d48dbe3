package localstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-desktop/nimbus/model"
)

func TestFileIndex(t *testing.T) {
	s := openTest(t)
	other := "proj_ba9876543210"
	entries := []FileEntry{
		{SourcePath: "dist/b.html", ProjectID: testProject, PageID: testPageID("dist/b.html"), SHA256: strings.Repeat("b", 64), Size: 10, ModTimeNs: 2},
		{SourcePath: "dist/a.html", ProjectID: testProject, PageID: testPageID("dist/a.html"), SHA256: strings.Repeat("a", 64), Size: 20, ModTimeNs: 1},
		// Another project watching a folder of the same name: its own entry.
		{SourcePath: "dist/a.html", ProjectID: other, PageID: model.PageID(other, "dist/a.html"), Size: 5},
	}
	err := s.Update(ctx, func(tx *Tx) error {
		for _, fe := range entries {
			if err := tx.PutFile(fe); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range entries {
		fe, ok, err := s.File(want.ProjectID, want.SourcePath)
		if err != nil || !ok || !reflect.DeepEqual(fe, want) {
			t.Fatalf("File(%s, %s) = %+v, %v, %v; want %+v", want.ProjectID, want.SourcePath, fe, ok, err, want)
		}
	}
	for _, p := range []string{testProject, "proj_000000000000"} {
		if _, ok, err := s.File(p, "dist/none.html"); ok || err != nil {
			t.Fatalf("File of unknown path in %s: ok=%v err=%v", p, ok, err)
		}
	}
	if err := s.Files("proj_000000000000", func(FileEntry) error { t.Fatal("entry of an unknown project"); return nil }); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.Files(testProject, func(fe FileEntry) error { got = append(got, fe.SourcePath); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"dist/a.html", "dist/b.html"} // in page ID order
	if testPageID(want[0]) > testPageID(want[1]) {
		want[0], want[1] = want[1], want[0]
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Files(%s) = %v; want %v", testProject, got, want)
	}
	// A vanished file is marked, never removed.
	err = s.Update(ctx, func(tx *Tx) error {
		fe, _, err := tx.File(testProject, "dist/b.html")
		if err != nil {
			return err
		}
		fe.Missing = true
		return tx.PutFile(fe)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fe, _, _ := s.File(testProject, "dist/b.html"); !fe.Missing || fe.Size != 10 {
		t.Fatalf("after marking missing: %+v", fe)
	}
	for _, tc := range []struct {
		name string
		fe   FileEntry
		want string
	}{
		{"empty path", FileEntry{ProjectID: testProject}, "empty source_path"},
		{"backslashes", FileEntry{SourcePath: `dist\a.html`, ProjectID: testProject}, "not normalised"},
		{"no project", FileEntry{SourcePath: "dist/c.html"}, "empty project_id"},
		{"negative size", FileEntry{SourcePath: "dist/c.html", ProjectID: testProject, Size: -1}, "negative size"},
	} {
		err := s.Update(ctx, func(tx *Tx) error { return tx.PutFile(tc.fe) })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: PutFile = %v; want %q", tc.name, err, tc.want)
		}
	}
}

func TestQuarantine(t *testing.T) {
	s := openTest(t)
	bad := []byte("{\"status\":\"donee\"}\xff")
	key := model.StatusKey(testProject, testPageID("a"))
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.Quarantine(model.NSStatus, key, bad, "status: \"donee\" is not one of ..."); err != nil {
			return err
		}
		return tx.Quarantine(model.NSPages, "page:x", []byte("{}"), "second")
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []QuarantineEntry
	if err := s.Quarantined(func(e QuarantineEntry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != key || got[0].NS != model.NSStatus || !bytes.Equal(got[0].Value, bad) ||
		got[1].Reason != "second" || got[0].Seq >= got[1].Seq {
		t.Fatalf("Quarantined = %+v", got)
	}
	if _, err := model.ParseTime(got[0].At); err != nil {
		t.Fatalf("quarantine stamp: %v", err)
	}
	// Quarantined values never reach the namespace buckets or the outbox.
	if _, err := s.Get(model.NSStatus, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("quarantined value readable as a record: %v", err)
	}
	if n, _ := s.OutboxLen(); n != 0 {
		t.Fatalf("OutboxLen = %d", n)
	}
}

func TestTypedHelpers(t *testing.T) {
	s := openTest(t)
	recs := everyKind(t)
	err := s.Update(ctx, func(tx *Tx) error {
		for _, r := range recs {
			if err := tx.PutLocal(r.ns, r.key, r.value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.GetProject(testProject)
	if err != nil || !reflect.DeepEqual(p, testProjectData("example.com")) {
		t.Fatalf("GetProject = %+v, %v", p, err)
	}
	var projects []string
	if err := s.ListProjects(func(p model.ProjectData) error { projects = append(projects, p.ProjectID); return nil }); err != nil || len(projects) != 1 {
		t.Fatalf("ListProjects = %v, %v", projects, err)
	}
	pageID := testPageID("dist/local/birmingham/rolex-repair.html")
	if pg, err := s.GetPage(testProject, pageID); err != nil || len(pg.Extraction.RestOfPageBlocks) != 16 {
		t.Fatalf("GetPage = %v", err)
	}
	if r, err := s.GetReview(testProject, pageID); err != nil || r.Blocks["block-0"].State != model.ReviewAccepted {
		t.Fatalf("GetReview = %+v, %v", r, err)
	}
	if b, err := s.GetBatch(testProject, testBatch); err != nil || b.Pages[pageID].Status != model.StatusQueued {
		t.Fatalf("GetBatch = %+v, %v", b, err)
	}
	var batches int
	if err := s.ListBatches(testProject, func(model.BatchData) error { batches++; return nil }); err != nil || batches != 1 {
		t.Fatalf("ListBatches = %d, %v", batches, err)
	}
	if q, err := s.GetQueue(testProject); err != nil || len(q.Items) != 1 {
		t.Fatalf("GetQueue = %+v, %v", q, err)
	}
	if st, err := s.GetStatus(testProject, pageID); err != nil || st.Status != model.StatusQueued {
		t.Fatalf("GetStatus = %+v, %v", st, err)
	}
	var ids []string
	if err := s.ListStatuses(testProject, func(id string, _ model.StatusData) error { ids = append(ids, id); return nil }); err != nil ||
		!reflect.DeepEqual(ids, []string{pageID}) {
		t.Fatalf("ListStatuses = %v, %v", ids, err)
	}
	if l, err := s.GetLogs(testProject, pageID); err != nil || len(l.Entries) != 1 {
		t.Fatalf("GetLogs = %+v, %v", l, err)
	}
	u, err := GetJSON[model.UserData](s, model.NSUsers, model.UserKey(testUser))
	if err != nil || u.Email != "alice@example.com" {
		t.Fatalf("GetJSON user = %+v, %v", u, err)
	}
	// Decoding into the wrong type names the key.
	if _, err := GetJSON[model.ProjectsList](s, model.NSUsers, model.UserKey(testUser)); err == nil || !strings.Contains(err.Error(), model.UserKey(testUser)) {
		t.Fatalf("GetJSON into the wrong type = %v", err)
	}
}

func TestTypedPuts(t *testing.T) {
	s := openTest(t)
	pg := testPage("dist/x.html", 3, "t")
	proj := testProjectData("typed")
	rev := model.ReviewData{PageID: pg.PageID, ProjectID: testProject, Updated: testStamp,
		Blocks: map[string]model.ReviewDecision{"block-1": {State: model.ReviewRejected, Decided: testStamp}}}
	batch := model.BatchData{BatchID: testBatch, ProjectID: testProject, Created: testStamp, Status: model.BatchUploading}
	queue := model.QueueData{Items: []model.QueueItem{{PageID: pg.PageID, BatchID: testBatch, Priority: 1, QueuedAt: testStamp}}}
	st := model.StatusData{Status: model.StatusUploaded, BatchID: testBatch, Updated: testStamp}
	logs := model.LogData{PageID: pg.PageID, Entries: []model.LogEntry{{Timestamp: testStamp, Level: model.LevelWarn, Message: "m"}}}
	err := s.Update(ctx, func(tx *Tx) error {
		return errors.Join(tx.PutProject(proj), tx.PutPage(pg), tx.PutReview(rev), tx.PutBatch(batch),
			tx.PutQueue(testProject, queue), tx.PutStatus(testProject, pg.PageID, st), tx.PutLogs(testProject, logs))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ns  model.Namespace
		key string
		v   any
	}{
		{model.NSProjects, model.ProjectKey(testProject), proj},
		{model.NSPages, model.PageKey(testProject, pg.PageID), pg},
		{model.NSPages, model.ReviewKey(testProject, pg.PageID), rev},
		{model.NSBatches, model.BatchKey(testProject, testBatch), batch},
		{model.NSQueue, model.QueueKey(testProject), queue},
		{model.NSStatus, model.StatusKey(testProject, pg.PageID), st},
		{model.NSLogs, model.LogsKey(testProject, pg.PageID), logs},
	} {
		got, err := s.Get(c.ns, c.key)
		if err != nil || !bytes.Equal(got, model.Canonical(c.v)) {
			t.Errorf("%s %s = %.60s, %v", c.ns, c.key, got, err)
		}
	}
	// A typed put still validates.
	bad := pg
	bad.PageID = "page_000000000000"
	if err := s.Update(ctx, func(tx *Tx) error { return tx.PutPage(bad) }); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("PutPage with a page_id not from the md5 rule = %v", err)
	}
}

// A schema 1 file's index (_files/{project}/{source path}) is moved to
// page ID order when the file is opened, every entry with its bytes.
func TestFileIndexMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	bin := FileEntry{SourcePath: "dist/a.html", ProjectID: testProject, PageID: testPageID("dist/a.html"), SHA256: strings.Repeat("a", 64), Size: 20, ModTimeNs: 1}
	js := FileEntry{SourcePath: "dist/old.html", ProjectID: testProject, PageID: testPageID("dist/old.html"), Size: 7, ModTimeNs: 3, Missing: true}
	jsBytes, _ := json.Marshal(js)
	long := "dist/" + strings.Repeat("x", bolt.MaxKeySize-len("dist/"))
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketFilesByPage); err != nil {
			return err
		}
		old, err := tx.CreateBucket(bucketFiles)
		if err != nil {
			return err
		}
		b, err := old.CreateBucket([]byte(testProject))
		if err != nil {
			return err
		}
		if err := b.Put([]byte(bin.SourcePath), encodeFileEntry(bin)); err != nil {
			return err
		}
		if err := b.Put([]byte(js.SourcePath), jsBytes); err != nil {
			return err
		}
		// A key schema 1 could hold and the new form cannot: not moved,
		// and the file still opens.
		if err := b.Put([]byte(long), encodeFileEntry(bin)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put([]byte(metaSchemaVersion), []byte("1"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open of a schema 1 file: %v", err)
	}
	defer s.Close()
	if v, _ := s.Meta(metaSchemaVersion); v != "2" {
		t.Fatalf("schema_version after the move = %q; want 2", v)
	}
	for _, want := range []FileEntry{bin, js} {
		fe, ok, err := s.File(testProject, want.SourcePath)
		if err != nil || !ok || !reflect.DeepEqual(fe, want) {
			t.Fatalf("File(%s) after the move = %+v, %v, %v; want %+v", want.SourcePath, fe, ok, err, want)
		}
	}
	if _, ok, err := s.File(testProject, long); ok || err != nil {
		t.Fatalf("File of the over-long path after the move: ok=%v err=%v; want not found", ok, err)
	}
	n := 0
	if err := s.Files(testProject, func(FileEntry) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("Files after the move: %d entries, %v; want 2", n, err)
	}
	err = s.view(func(tx *Tx) error {
		if tx.tx.Bucket(bucketFiles) != nil {
			t.Error("the schema 1 bucket is still there")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
