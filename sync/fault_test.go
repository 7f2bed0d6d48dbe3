package sync_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

// assertMirrored checks that every record of st is on the remote with the
// same bytes and that nothing waits in the outbox.
func assertMirrored(t testing.TB, w *world, st *localstore.Store) int {
	t.Helper()
	if n, _ := st.OutboxLen(); n != 0 {
		t.Fatalf("%d changes still waiting", n)
	}
	count := 0
	for _, ns := range model.Namespaces {
		err := st.List(ns, "", func(key string, value []byte) error {
			got, _, ok := w.fake.Latest(w.nsIDs[ns], key)
			if !ok {
				return fmt.Errorf("%s %s missing on the remote", ns, key)
			}
			if !bytes.Equal(got, value) {
				return fmt.Errorf("%s %s differs on the remote", ns, key)
			}
			count++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return count
}

func TestPushConvergesUnderFaults(t *testing.T) {
	w := newWorld(t, kvfake.Config{
		FaultRate: 0.3, Seed: 42, ApplyBeforeFail: 0.5,
		Faults: []kvfake.Fault{kvfake.Fault429, kvfake.Fault500, kvfake.FaultReset, kvfake.FaultTimeout, kvfake.FaultPartial},
	})
	w.reqTimeout = 400 * time.Millisecond
	w.chunkKeys = 100
	a := w.desktop("a", 3, 7)
	putProject(t, a.store, projA)
	pages := putPages(t, a.store, projA, 2000)
	putStatuses(t, a.store, projA, pages, model.StatusQueued)
	ctx := context.Background()
	rounds := 0
	for ; rounds < 40; rounds++ {
		_, err := a.engine.Sync(ctx)
		n, _ := a.store.OutboxLen()
		if err == nil && n == 0 {
			break
		}
		if err != nil && !nsync.IsRetryable(err) && !nsync.IsShrink(err) {
			t.Logf("round %d: %v", rounds, err)
		}
	}
	faults := w.fake.Faulted()
	t.Logf("converged after %d syncs; faults injected: %v; requests: %v", rounds+1, faults, w.fake.Counts())
	if len(faults) < 4 {
		t.Fatalf("fault mix too narrow to mean anything: %v", faults)
	}
	w.fake.SetFaultRate(0)
	if n := assertMirrored(t, w, a.store); n != 4001 {
		t.Fatalf("%d records mirrored, want 4001", n)
	}
	if m := w.fake.MaxInWindow(5 * time.Minute); m > 1200 {
		t.Fatalf("%d requests within 5 minutes: REST budget exceeded", m)
	}
	if st := a.engine.State(); !st.Online || st.Waiting != 0 {
		t.Fatalf("state after convergence: %+v", st)
	}
}

func TestHalvingOn413(t *testing.T) {
	w := newWorld(t, kvfake.Config{MaxBulkPairs: 300})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	putPages(t, a.store, projA, 1000)
	st, err := a.engine.Push(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 1000 -> 2x500 -> 4x250: two halvings to get under 300 pairs.
	if st.Halvings < 2 || st.Written != 1001 {
		t.Fatalf("stats %+v", st)
	}
	assertMirrored(t, w, a.store)
}

func TestOfflineKeepsChangesWaiting(t *testing.T) {
	w := newWorld(t, kvfake.Config{})
	a := w.desktop("a", 3, 1)
	putProject(t, a.store, projA)
	putPages(t, a.store, projA, 10)
	w.fake.Close() // the network is gone
	_, err := a.engine.Push(context.Background())
	if err == nil || !nsync.IsRetryable(err) {
		t.Fatalf("offline push: want a retryable error, got %v", err)
	}
	st := a.engine.State()
	if st.Online || st.Waiting != 11 {
		t.Fatalf("offline state %+v, want offline with 11 waiting", st)
	}
}

// TestPushKilledMidwayResumes runs a push in a child process (this test
// binary re-executed), kills it after the first writes landed, and resumes
// from the outbox in this process.
func TestPushKilledMidwayResumes(t *testing.T) {
	if os.Getenv("NIMBUS_SYNC_CHILD") == "1" {
		return // the child runs in TestMain
	}
	w := newWorld(t, kvfake.Config{})
	path := filepath.Join(t.TempDir(), "kill.db")
	st, err := localstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := w.attach(st, path, 3, 1)
	putProject(t, a.store, projA)
	putPages(t, a.store, projA, 3000)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NIMBUS_SYNC_CHILD=1", "NIMBUS_SYNC_CHILD_STORE="+path,
		"NIMBUS_SYNC_CHILD_BASE="+w.fake.BaseURL(), "NIMBUS_SYNC_CHILD_ACCOUNT="+w.fake.AccountID())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for w.fake.KeysWritten() < 200 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("child wrote nothing in time: %s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	written := w.fake.KeysWritten()
	if written >= 3001 {
		t.Fatalf("child finished (%d keys) before it was killed; nothing resumed", written)
	}
	st2, err := localstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	waiting, _ := st2.OutboxLen()
	if waiting == 0 || waiting == 3001 {
		t.Fatalf("after the kill %d changes wait; want some but not all", waiting)
	}
	b := w.attach(st2, path, 3, 2)
	if _, err := b.engine.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertMirrored(t, w, st2)
	t.Logf("killed after %d keys written, %d waiting; resumed and converged (%d key writes in all)", written, waiting, w.fake.KeysWritten())
}

// runChild is the killed process: a slow, real-clock push of the store.
func runChild() {
	path := os.Getenv("NIMBUS_SYNC_CHILD_STORE")
	st, err := localstore.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ids, err := nsync.NamespaceIDs(st)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	remote, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: os.Getenv("NIMBUS_SYNC_CHILD_ACCOUNT"), Token: testToken, BaseURL: os.Getenv("NIMBUS_SYNC_CHILD_BASE")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	eng, err := nsync.NewEngine(nsync.EngineConfig{Store: st, Remote: remote, NamespaceIDs: ids, ChunkKeys: 100,
		Pacer: nsync.NewPacer(nsync.PacerConfig{Rate: 20})})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, err = eng.Push(context.Background())
	fmt.Println("child push finished:", err)
	os.Exit(0)
}

func TestMain(m *testing.M) {
	if os.Getenv("NIMBUS_SYNC_CHILD") == "1" {
		runChild()
	}
	if v, _ := strconv.Atoi(os.Getenv("NIMBUS_SIM_RUNS")); v > 0 {
		simRuns = v
	}
	os.Exit(m.Run())
}
