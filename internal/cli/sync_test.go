package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// The token every sync CLI test uses; the security test greps for it.
const cliToken = "cfut_SECRET_token_4f1d2c3b5a6978"

type cliSync struct {
	fake   *kvfake.Fake
	store  string
	config string
	out    bytes.Buffer // every stdout and stderr of the run, for the security grep
}

func newCLISync(t *testing.T) *cliSync {
	f := kvfake.New(kvfake.Config{Token: cliToken})
	t.Cleanup(f.Close)
	c := &cliSync{fake: f, store: tempStore(t), config: t.TempDir()}
	t.Setenv("NIMBUS_CF_API_BASE", f.BaseURL())
	t.Setenv("CLOUDFLARE_API_TOKEN", cliToken)
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", f.AccountID())
	t.Setenv("NIMBUS_NO_KEYRING", "1")
	t.Setenv("XDG_CONFIG_HOME", c.config)
	return c
}

func (c *cliSync) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := nimbus(t, append([]string{"--store", c.store}, args...)...)
	c.out.WriteString(out)
	c.out.WriteString(errOut)
	if code != 0 {
		t.Fatalf("nimbus %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errOut, out)
	}
	return out
}

// addPages writes n extracted pages into the store as an import would.
func (c *cliSync) addPages(t *testing.T, pid string, n int) []string {
	t.Helper()
	st, err := localstore.Open(c.store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	err = st.Update(context.Background(), func(tx *localstore.Tx) error {
		for i := 0; i < n; i++ {
			src := fmt.Sprintf("dist/p%03d.html", i)
			ex := model.Extraction{Engine: "test", MainSelector: "main", Head: map[string]string{"title": "T"},
				Dimensions: map[string]string{}, AboveFoldBlocks: []model.Block{{ID: "block-0", Type: "h1", Content: "Hello"}},
				RestOfPageBlocks: []model.Block{}, SelectorMap: map[string]string{"block-0": "main > h1"}}
			p := model.PageData{PageID: model.PageID(pid, src), ProjectID: pid, SourcePath: src, Uploaded: model.Now(), Extraction: ex, ContentHash: model.ContentHash(ex)}
			ids = append(ids, p.PageID)
			if err := tx.PutJSON(model.NSPages, model.PageKey(pid, p.PageID), p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestCLISyncSetupSubmitPushPullStatus(t *testing.T) {
	c := newCLISync(t)
	p := decode[model.ProjectData](t, c.ok(t, "--json", "project", "create", "--name", "example.com"))
	ids := c.addPages(t, p.ProjectID, 20)
	// max_pages_per_batch 8: a submission of 20 pages makes 3 batches.
	w, err := workspace.Open(c.store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.UpdateSettings(context.Background(), p.ProjectID, func(s *model.ProjectSettings) { s.MaxPagesPerBatch = 8 }); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// The request budget is checked as the GUI's Settings check it, and a
	// refused one changes nothing.
	for _, bad := range []string{"50", "0", "-1"} {
		_, errOut, code := nimbus(t, "--store", c.store, "setup", "--rate", bad)
		want := "request budget " + bad + "/s: want 0.1 to 4"
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("setup --rate %s: exit %d, stderr %q; want 2 and %q", bad, code, errOut, want)
		}
	}
	if n := c.fake.Counts(); len(n) != 0 {
		t.Errorf("a refused --rate still reached the remote: %v", n)
	}
	out := c.ok(t, "setup", "--rate", "4")
	if !strings.Contains(out, "0 namespaces found, 11 created") {
		t.Fatalf("first setup: %q", out)
	}
	out = c.ok(t, "setup")
	if !strings.Contains(out, "11 namespaces found, 0 created") {
		t.Fatalf("second setup: %q", out)
	}
	sub := decode[workspace.SubmitResult](t, c.ok(t, "--json", "submit", "--priority", "7"))
	if len(sub.Batches) != 3 || sub.Pages != 20 {
		t.Fatalf("submit: %+v", sub)
	}
	c.ok(t, "push")
	qns := c.fake.NamespaceID("NIMBUS_QUEUE")
	qv, _, found := c.fake.Latest(qns, model.QueueKey(p.ProjectID))
	var q model.QueueData
	if !found || json.Unmarshal(qv, &q) != nil || len(q.Items) != 20 || q.Items[0].Priority != 7 || q.Items[0].Attempts != 0 {
		t.Fatalf("remote queue after push: %s", qv)
	}
	for _, b := range sub.Batches {
		if _, _, ok := c.fake.Latest(c.fake.NamespaceID("NIMBUS_BATCHES"), model.BatchKey(p.ProjectID, b)); !ok {
			t.Fatalf("batch %s not pushed", b)
		}
	}
	// The Worker finishes five pages.
	sns := c.fake.NamespaceID("NIMBUS_STATUS")
	for _, id := range ids[:5] {
		cur, _, _ := c.fake.Latest(sns, model.StatusKey(p.ProjectID, id))
		var s model.StatusData
		_ = json.Unmarshal(cur, &s)
		now := model.FormatTime(time.Now().Add(time.Second))
		s.Status, s.Updated = model.StatusDone, now
		s.Result = &model.StatusResult{Completed: now, Success: true, Changes: 1, Confidence: 0.8}
		v := model.Canonical(s)
		c.fake.Write(sns, model.StatusKey(p.ProjectID, id), v, json.RawMessage(fmt.Sprintf(`{"h":%q,"s":"done"}`, model.ValueHash(v))))
	}
	c.ok(t, "pull")
	st := decode[workspace.StatusSummary](t, c.ok(t, "--json", "status"))
	if st.Counts["done"] != 5 || st.Counts["queued"] != 15 || st.Pages != 20 || len(st.Batches) != 3 {
		t.Fatalf("status: %+v", st)
	}
	out = c.ok(t, "status", "--batch", sub.Batches[0])
	if !strings.Contains(out, "batch "+sub.Batches[0]) {
		t.Fatalf("status --batch: %q", out)
	}
	out = c.ok(t, "sync")
	if !strings.Contains(out, "0 changes waiting") {
		t.Fatalf("sync: %q", out)
	}
	// A push with nothing to send makes no request: it must not claim the
	// remote is offline.
	out = c.ok(t, "push")
	if strings.Contains(out, "offline") || !strings.Contains(out, "nothing to send") {
		t.Fatalf("push with nothing to send: %q", out)
	}
}

// TestTokenNeverStored runs a full sync with a known token, saves it with
// setup --token-stdin, and greps the store file, every output (logs) and the
// preferences/config files for it: only the 0600 token file may hold it.
func TestTokenNeverStored(t *testing.T) {
	c := newCLISync(t)
	p := decode[model.ProjectData](t, c.ok(t, "--json", "project", "create", "--name", "secure.example"))
	c.addPages(t, p.ProjectID, 5)
	stdin = strings.NewReader(cliToken + "\n")
	defer func() { stdin = strings.NewReader("") }()
	t.Setenv("CLOUDFLARE_API_TOKEN", "")
	out := c.ok(t, "setup", "--token-stdin", "--rate", "4")
	if !strings.Contains(out, "token saved (file)") {
		t.Fatalf("setup: %q", out)
	}
	c.ok(t, "submit")
	c.ok(t, "sync")
	c.ok(t, "status")
	// A failing call (wrong token) must not echo the token either.
	t.Setenv("CLOUDFLARE_API_TOKEN", cliToken+"x")
	outF, errF, code := nimbus(t, "--store", c.store, "push")
	c.out.WriteString(outF + errF)
	_ = code
	t.Setenv("CLOUDFLARE_API_TOKEN", "")

	if bytes.Contains(c.out.Bytes(), []byte(cliToken)) {
		t.Fatal("the token appeared in command output or logs")
	}
	db, err := os.ReadFile(c.store)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(cliToken)) {
		t.Fatal("the token is in the store file")
	}
	tokenFiles := 0
	err = filepath.WalkDir(c.config, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(cliToken)) {
			return nil
		}
		fi, _ := d.Info()
		if !strings.HasPrefix(d.Name(), "cloudflare-token-") || fi.Mode().Perm() != 0o600 {
			return fmt.Errorf("token found in %s (mode %v)", path, fi.Mode())
		}
		tokenFiles++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tokenFiles != 1 {
		t.Fatalf("%d token files, want exactly the one 0600 fallback file", tokenFiles)
	}
}

func TestCLISyncWatchStopsOnInterrupt(t *testing.T) {
	c := newCLISync(t)
	p := decode[model.ProjectData](t, c.ok(t, "--json", "project", "create", "--name", "watch.example"))
	c.addPages(t, p.ProjectID, 3)
	c.ok(t, "setup", "--rate", "4")
	c.ok(t, "submit")
	// Interrupted after its second round (at the budget's 4/s a round takes
	// a few seconds), or after a minute whatever happened.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &cancelAfter{n: 2, cancel: cancel}
	var errb bytes.Buffer
	code := run(ctx, []string{"--store", c.store, "sync", "--watch", "--fast", "100ms", "--slow", "100ms"}, out, &errb)
	if code != 0 {
		t.Fatalf("sync --watch: exit %d, stderr %q", code, errb.String())
	}
	if n := strings.Count(out.String(), "sync: "); n < 2 {
		t.Fatalf("sync --watch ran %d syncs in a minute: %q", n, out.String())
	}
	if !strings.Contains(out.String(), "online, 0 changes waiting") {
		t.Fatalf("sync --watch output: %q", out.String())
	}
	if _, _, ok := c.fake.Latest(c.fake.NamespaceID("NIMBUS_QUEUE"), model.QueueKey(p.ProjectID)); !ok {
		t.Fatal("the watched sync did not push the queue")
	}
}

// A round of sync --watch that Ctrl-C cut short says nothing (it printed
// "sync failed (will retry): ... context canceled" as the watch's last line);
// a round that failed on its own is reported and retried.
func TestWatchRoundInterrupted(t *testing.T) {
	var out bytes.Buffer
	e := &env{Stdout: &out}
	reported := 0
	report := func(workspace.SyncStats, error) error { reported++; return nil }
	ctx, cancel := context.WithCancel(context.Background())
	after := watchAfter(ctx, e, report)
	after(workspace.SyncStats{}, errors.New("pull: list NIMBUS_PAGES: HTTP 503"))
	if !strings.Contains(out.String(), "sync failed (will retry): pull: list NIMBUS_PAGES: HTTP 503") || reported != 1 {
		t.Fatalf("a failed round: %q, %d reports", out.String(), reported)
	}
	out.Reset()
	cancel()
	after(workspace.SyncStats{}, fmt.Errorf("pull: list NIMBUS_PROJECTS: %w", context.Canceled))
	if out.Len() != 0 || reported != 1 {
		t.Fatalf("an interrupted round printed %q (%d reports)", out.String(), reported)
	}
}

// TestCLIImportSubmitPush: the real import's upload batches go through
// submit and push; the remote then mirrors every record of the store.
func TestCLIImportSubmitPush(t *testing.T) {
	c := newCLISync(t)
	p := decode[model.ProjectData](t, c.ok(t, "--json", "project", "create", "--name", "site.example"))
	c.ok(t, "import", filepath.Join("..", "..", "testdata", "site", "dist"))
	c.ok(t, "setup", "--rate", "4")
	// The import's upload batch is not shown as work in flight.
	if out := c.ok(t, "status"); !strings.Contains(out, "imported, not submitted yet") || strings.Contains(out, "pending") {
		t.Errorf("status after an import:\n%s", out)
	}
	sub := decode[workspace.SubmitResult](t, c.ok(t, "--json", "submit"))
	if sub.Pages == 0 || len(sub.Batches) == 0 {
		t.Fatalf("submit after import: %+v", sub)
	}
	c.ok(t, "sync")
	s := decode[workspace.StatusSummary](t, c.ok(t, "--json", "status", "--project", p.ProjectID))
	if s.Counts["queued"] != sub.Pages {
		t.Fatalf("status after submit: %+v (submitted %d)", s, sub.Pages)
	}
	st, err := localstore.Open(c.store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.OutboxLen(); n != 0 {
		t.Fatalf("%d changes waiting after sync", n)
	}
	for _, ns := range model.Namespaces {
		id := c.fake.NamespaceID(string(ns))
		n := 0
		if err := st.List(ns, "", func(key string, v []byte) error {
			got, _, ok := c.fake.Latest(id, key)
			if !ok || !bytes.Equal(got, v) {
				return fmt.Errorf("%s %s not mirrored", ns, key)
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if remote := len(c.fake.LatestKeys(id, "")); remote != n {
			t.Fatalf("%s: %d local records, %d remote", ns, n, remote)
		}
	}
}

// cancelAfter is an output that cancels the command's context once it has
// printed n sync reports.
type cancelAfter struct {
	mu     gosync.Mutex
	buf    bytes.Buffer
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(b)
	if strings.Count(w.buf.String(), "sync: ") >= w.n {
		w.cancel()
	}
	return n, err
}

func (w *cancelAfter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
