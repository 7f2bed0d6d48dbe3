package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
	"github.com/nimbus-desktop/nimbus/ui/internal/fixture"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// A failed page of a batch opens its logs: clicked, or reached with the
// arrow keys and activated with Space. Other pages stay where they are.
func TestBatchFailedPageOpensItsLogs(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(1)
	s.batches.list.Select(0)
	v := s.batches
	failed, done := -1, -1
	for i, id := range v.pageIDs {
		switch st, _ := v.pageStatus(id); st {
		case model.StatusFailed:
			failed = i
		case model.StatusDone:
			done = i
		}
	}
	if failed < 0 || done < 0 {
		t.Fatalf("the fixture batch has no failed or no done page: %v", v.pageIDs)
	}
	v.pages.Select(done)
	if s.tabs.SelectedIndex() != 1 {
		t.Fatalf("a done page opened screen %d", s.tabs.SelectedIndex())
	}

	// A click: the Logs screen, scoped to the page.
	id := v.pageIDs[failed]
	v.pages.Select(failed)
	if s.tabs.SelectedIndex() != 3 || s.logs.scope != id {
		t.Fatalf("clicking the failed page: screen %d, logs scoped to %q, want Logs of %s", s.tabs.SelectedIndex(), s.logs.scope, id)
	}
	if s.logs.scopeLbl.Text != v.pathOf(id) || len(s.logs.visible) == 0 {
		t.Fatalf("logs scope %q with %d lines", s.logs.scopeLbl.Text, len(s.logs.visible))
	}
	for _, l := range s.logs.visible {
		if l.pageID != id {
			t.Fatalf("the page's logs list a line of %s", l.pageID)
		}
	}

	// The keyboard: back to Batches, focus the list, Down to the failed
	// page, Space.
	s.logs.scopeTo("", "")
	s.tabs.SelectIndex(1)
	s.win.Canvas().Focus(v.pages)
	for range failed {
		v.pages.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	}
	v.pages.TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace})
	if s.tabs.SelectedIndex() != 3 || s.logs.scope != id {
		t.Fatalf("Space on the failed page: screen %d, logs scoped to %q", s.tabs.SelectedIndex(), s.logs.scope)
	}
}

// Offline, nothing new is known of the Worker's progress: a batch in
// flight says its ETA is paused instead of counting down a stale figure.
func TestBatchETAPausedWhileOffline(t *testing.T) {
	now := time.Now().UTC()
	running := model.BatchData{BatchID: "b", Status: model.BatchProcessing, PageCount: 22,
		Summary: model.BatchSummary{Completed: 2, Pending: 20, AverageTimeMs: 6000},
		Pages: map[string]model.BatchPage{
			"a": {Status: model.StatusDone, Started: model.FormatTime(now.Add(-12 * time.Second)), Completed: model.FormatTime(now.Add(-6 * time.Second))},
			"c": {Status: model.StatusDone, Started: model.FormatTime(now.Add(-12 * time.Second)), Completed: model.FormatTime(now)},
		}}
	if got := batchFigures(running, 2, ""); !strings.Contains(got, "ETA 2m0s") {
		t.Fatalf("online: %q", got)
	}
	if got := batchFigures(running, 2, etaPaused); !strings.Contains(got, etaPaused) || strings.Contains(got, "ETA 2") || !strings.Contains(got, "20 pending") {
		t.Fatalf("offline: %q", got)
	}

	// The window: the sync engine loses the remote, the Batches row says so.
	kf := kvfake.New(kvfake.Config{AccountID: "0123456789abcdef0123456789abcdef", Token: "test-token"})
	ws := openWorkspace(t)
	creds := &workspace.Credentials{AccountID: kf.AccountID(), Token: "test-token"}
	if _, err := ws.Setup(context.Background(), workspace.SetupOptions{SyncOptions: workspace.SyncOptions{BaseURL: kf.BaseURL(), Credentials: creds}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fixture.Write(context.Background(), storeOf(ws), ws, fixtureSite, "repairsbypost.com", fixture.Options{Optimized: 5, Batch: true}); err != nil {
		t.Fatal(err)
	}
	kf.Close()
	t.Setenv("NIMBUS_CF_API_BASE", kf.BaseURL())
	t.Setenv("CLOUDFLARE_API_TOKEN", creds.Token)
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", creds.AccountID)
	s := newShell(t, ws)
	s.tabs.SelectIndex(1)
	if row := batchRowText(t, s); !strings.Contains(row, "ETA") || strings.Contains(row, etaPaused) {
		t.Fatalf("before the engine runs: %q", row)
	}
	s.syncer.start()
	t.Cleanup(s.syncer.stop)
	start := time.Now()
	for !s.syncer.isOffline() {
		if time.Since(start) > time.Minute {
			t.Fatal("not offline after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.syncer.stop() // from here the test goroutine is the UI's alone
	s.refreshChips()
	if row := batchRowText(t, s); !strings.Contains(row, etaPaused) {
		t.Fatalf("offline, the batch row says %q", row)
	}
}

// batchRowText is the figures line of the first batch row on screen.
func batchRowText(t *testing.T, s *Shell) string {
	t.Helper()
	var texts []string
	walkObjects(s.batches.list, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			texts = append(texts, l.Text)
		}
	})
	return strings.Join(texts, "\n")
}

// Without a sync engine (Local mode) nothing new arrives from the Worker:
// a batch in flight shows no ETA (it counted down for ever from the last
// figures).
func TestBatchETAWithoutSync(t *testing.T) {
	s, _, _ := fixtureShell(t)
	if got := s.syncer.etaPause(); got != etaLocal {
		t.Fatalf("etaPause without an engine = %q, want %q", got, etaLocal)
	}
}
