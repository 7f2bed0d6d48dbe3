package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/sync/kvfake"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// The test binary doubles as the nimbus binary (without its window): run
// with NIMBUS_TEST_AS_MAIN=1 it runs the command line as main does, so these
// tests see real process exit codes and stderr without a cgo build.
func TestMain(m *testing.M) {
	if os.Getenv("NIMBUS_TEST_AS_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := testRunner.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// execNimbus runs the binary as a separate process.
func execNimbus(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string, code int, took time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NIMBUS_TEST_AS_MAIN=1", "NIMBUS_STORE=", "NIMBUS_EMAIL=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("nimbus %v still running after %v", args, timeout)
	}
	took = time.Since(start)
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("nimbus %v: %v", args, err)
	}
	return out.String(), errb.String(), code, took
}

func TestBinaryExitCodes(t *testing.T) {
	store := tempStore(t)
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"version"}, 0, "Nimbus Desktop 0.1.0", ""},
		{[]string{"--store", store, "project", "create", "--name", "example.com"}, 0, "created project proj_", ""},
		{[]string{"--store", store, "project", "show", "proj_000000000000"}, 1, "", "nimbus: no such project"},
		{[]string{"--store", store, "project", "create"}, 2, "", "nimbus: project create: --name is required"},
		{[]string{"nonsense"}, 2, "", `nimbus: unknown command "nonsense"`},
	}
	for _, c := range cases {
		out, errOut, code, _ := execNimbus(t, 30*time.Second, c.args...)
		if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
			t.Errorf("nimbus %v: exit %d stdout %q stderr %q; want %d, %q, %q", c.args, code, out, errOut, c.code, c.stdout, c.stderr)
		}
		if code != 0 && strings.Count(errOut, "\n") != 1 {
			t.Errorf("nimbus %v: stderr is not one line: %q", c.args, errOut)
		}
	}
}

// A second Nimbus on a store that another process holds fails fast with a
// message that says what is going on, instead of hanging on the file lock.
func TestSecondInstanceFailsFast(t *testing.T) {
	store := tempStore(t)
	w, err := workspace.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, errOut, code, took := execNimbus(t, 10*time.Second, "--store", store, "project", "list")
	want := "nimbus: the store " + store + " is open in another Nimbus window\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d stderr %q; want 1 and %q", code, errOut, want)
	}
	// The child's own start-up is included; the lock wait itself is 1 s.
	if took > 2*time.Second {
		t.Errorf("second instance took %v to give up, want < 2s", took)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Released: the same command now works.
	if _, errOut, code, _ := execNimbus(t, 10*time.Second, "--store", store, "project", "list"); code != 0 {
		t.Errorf("after release: exit %d %q", code, errOut)
	}
}

// Two Nimbus processes on two stores of one account, syncing at once for a
// minute, stay within the account's request budget (3 a second: 30 in any
// 10 s) at the counting server: their pacers take every request slot in
// the one schedule file of the user config dir. Each process alone would
// use the whole budget (before the shared file the pair made 63 requests in
// 10 s). One request above 30 is allowed in a window: the slots are exactly
// a third of a second apart, but their arrival at the server jitters by the
// loopback's and the scheduler's delays, so a window can catch the 31st.
func TestTwoProcessesShareTheAccountBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two syncing processes for a minute")
	}
	f := kvfake.New(kvfake.Config{Token: cliToken})
	defer f.Close()
	config := t.TempDir()
	env := append(os.Environ(), "NIMBUS_TEST_AS_MAIN=1", "NIMBUS_STORE=", "NIMBUS_EMAIL=",
		"NIMBUS_CF_API_BASE="+f.BaseURL(), "CLOUDFLARE_API_TOKEN="+cliToken,
		"CLOUDFLARE_ACCOUNT_ID="+f.AccountID(), "NIMBUS_NO_KEYRING=1", "XDG_CONFIG_HOME="+config)
	runIn := func(args ...string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nimbus %v: %v\n%s", args, err, out)
		}
	}
	stores := []string{tempStore(t), tempStore(t)}
	for i, st := range stores {
		runIn("--store", st, "project", "create", "--name", fmt.Sprintf("budget%d.example", i))
		runIn("--store", st, "setup")
	}
	f.ResetCounts()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for _, st := range stores {
		cmd := exec.Command(os.Args[0], "--store", st, "sync", "--watch", "--fast", "1ms", "--slow", "1ms")
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	time.Sleep(time.Minute)
	for i, cmd := range cmds {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("sync --watch %d: %v\n%s", i, err, outs[i])
		}
	}
	total := 0
	for _, n := range f.Counts() {
		total += n
	}
	worst := f.MaxInWindow(10 * time.Second)
	t.Logf("two processes, one minute: %d requests, at most %d in a 10 s window (budget 30)", total, worst)
	if worst > 31 {
		t.Fatalf("%d requests in one 10 s window from two processes of one account: budget 30", worst)
	}
	// Both processes did sync: the budget was shared, not taken by one.
	for i, out := range outs {
		if !strings.Contains(out.String(), "sync:") {
			t.Errorf("process %d never finished a sync:\n%s", i, out)
		}
	}
	if total < 120 {
		t.Fatalf("only %d requests in a minute at 3 a second: the processes were not syncing", total)
	}
}
