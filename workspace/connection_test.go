package workspace

import (
	"context"
	"os"
	"testing"

	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

func TestSyncRateSetting(t *testing.T) {
	w := openTemp(t, Options{})
	if got := w.Connection().Rate; got != 3 {
		t.Fatalf("default rate %g, want 3", got)
	}
	if err := w.SetSyncRate(1.5); err != nil {
		t.Fatal(err)
	}
	if got := w.rate(0); got != 1.5 {
		t.Fatalf("rate after SetSyncRate(1.5) = %g", got)
	}
	for _, bad := range []float64{0, -1, 5, 1e9} {
		if err := w.SetSyncRate(bad); err == nil {
			t.Errorf("SetSyncRate(%g) accepted", bad)
		}
	}
	if got := w.Connection().Rate; got != 1.5 {
		t.Fatalf("a refused rate changed the setting: %g", got)
	}
}

func TestTestConnectionListsWithoutCreating(t *testing.T) {
	f := kvfake.New(kvfake.Config{Token: "tok"})
	defer f.Close()
	f.CreateNamespace("NIMBUS_PAGES")
	f.CreateNamespace("NIMBUS_STATUS")
	w := openTemp(t, Options{})
	res, err := w.TestConnection(context.Background(), SyncOptions{Remote: syncRemote(t, f), Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Found) != 2 || len(res.Missing) != 9 {
		t.Fatalf("found %v missing %v", res.Found, res.Missing)
	}
	if res2, _ := w.TestConnection(context.Background(), SyncOptions{Remote: syncRemote(t, f), Rate: 1000}); len(res2.Found) != 2 {
		t.Fatalf("test connection created namespaces: %+v", res2)
	}
	// Wrong token: a clear error, not a panic or a hang.
	bad := kvfake.New(kvfake.Config{Token: "other"})
	defer bad.Close()
	if _, err := w.TestConnection(context.Background(), SyncOptions{Remote: syncRemote(t, bad), Rate: 1000}); err == nil {
		t.Fatal("a refused token passed the connection test")
	}
}

// A new request budget from Settings is used by the engine already running
// (the GUI's sync loop) from its next request, and the pacer's schedule is
// shared through the budget file of the user config dir.
func TestSyncRateChangeReachesTheRunningEngine(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	f := kvfake.New(kvfake.Config{Token: "tok"})
	defer f.Close()
	w := openTemp(t, Options{})
	o := SyncOptions{Credentials: &nsync.Credentials{AccountID: f.AccountID(), Token: "tok"}, BaseURL: f.BaseURL()}
	if _, err := w.Setup(context.Background(), SetupOptions{SyncOptions: o}); err != nil {
		t.Fatal(err)
	}
	eng, err := w.Syncer(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := eng.Rate(); got != 3 {
		t.Fatalf("engine rate %g, want the default 3", got)
	}
	if err := w.SetSyncRate(0.5); err != nil {
		t.Fatal(err)
	}
	if got := eng.Rate(); got != 0.5 {
		t.Fatalf("the running engine's rate is %g after SetSyncRate(0.5)", got)
	}
	file, _ := nsync.BudgetFile(f.AccountID())
	if _, err := os.Stat(file); err != nil || eng.e.Pacer().SharedError() != nil {
		t.Fatalf("budget file %s: %v (pacer: %v)", file, err, eng.e.Pacer().SharedError())
	}
}
