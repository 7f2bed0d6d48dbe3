package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/sync/kvfake"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// Offline within seconds, with the reason one click away: the chip says
// Offline, and tapping it shows why (in words, and the full error) with
// "Retry now" on Enter, instead of only trying again.
func TestOfflineChipSaysWhy(t *testing.T) {
	kf := kvfake.New(kvfake.Config{AccountID: "0123456789abcdef0123456789abcdef", Token: "test-token"})
	ws := openWorkspace(t)
	creds := &workspace.Credentials{AccountID: kf.AccountID(), Token: "test-token"}
	if _, err := ws.Setup(context.Background(), workspace.SetupOptions{SyncOptions: workspace.SyncOptions{BaseURL: kf.BaseURL(), Credentials: creds}}); err != nil {
		t.Fatal(err)
	}
	kf.Close() // the network goes away
	t.Setenv("NIMBUS_CF_API_BASE", kf.BaseURL())
	t.Setenv("CLOUDFLARE_API_TOKEN", creds.Token)
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", creds.AccountID)
	s := newShell(t, ws)
	s.syncer.start()
	t.Cleanup(s.syncer.stop)
	start := time.Now()
	for {
		if _, _, off := s.syncer.offline(); off {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("not offline after a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("offline after %v", time.Since(start).Round(time.Millisecond))
	// The test goroutine is the UI's from here: the watch (whose fyne.Do
	// runs inline in the test driver) must not refresh widgets beside it.
	s.syncer.stop()
	s.refreshChips()
	if !strings.HasPrefix(s.syncChip.Text, "Offline") {
		t.Fatalf("chip %q", s.syncChip.Text)
	}
	test.Tap(s.syncChip)
	if s.dlg == nil || s.dlgEnter == nil {
		t.Fatal("tapping the offline chip shows no dialog")
	}
	var texts []string
	for _, o := range s.win.Canvas().Overlays().List() {
		walkObjects(o, func(o fyne.CanvasObject) {
			if l, ok := o.(*widget.Label); ok {
				texts = append(texts, l.Text)
			}
		})
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "the connection was refused") || !strings.Contains(all, "connection refused") || !strings.Contains(all, "saved here") {
		t.Errorf("the offline dialog says:\n%s", all)
	}
	s.dlgEnter() // Enter: Retry now
	if s.dlg != nil {
		t.Error("Retry now left the dialog open")
	}
}
