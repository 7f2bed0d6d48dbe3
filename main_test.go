package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the nimbus binary: run with
// NIMBUS_TEST_AS_MAIN=1 it executes the real main() (the command line with
// its window), so these tests see real process exit codes and stderr.
func TestMain(m *testing.M) {
	if os.Getenv("NIMBUS_TEST_AS_MAIN") == "1" {
		main()
		return
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

func tempStore(t *testing.T) string { return filepath.Join(t.TempDir(), "nimbus.db") }

// The binary with its window still runs commands and reports this build.
func TestBinaryRunsCommands(t *testing.T) {
	out, errOut, code, _ := execNimbus(t, 30*time.Second, "version")
	if code != 0 || !strings.HasPrefix(out, "Nimbus Desktop 0.1.0") {
		t.Errorf("nimbus version: exit %d stdout %q stderr %q", code, out, errOut)
	}
}

// Without a display the window cannot open: one line naming why and what to
// do, exit 2 (Fyne's driver panicked with a 38-line stack trace).
func TestNoDisplayIsOneLineAndExit2(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if noDisplay() == "" {
		t.Skip("this OS needs no DISPLAY")
	}
	_, stderr, code, _ := execNimbus(t, 30*time.Second, "--store", tempStore(t))
	if code != 2 {
		t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "nimbus: the window needs a display") || strings.Contains(stderr, "goroutine") {
		t.Errorf("stderr is not one line naming the missing display:\n%s", stderr)
	}
}
