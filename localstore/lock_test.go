package localstore

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helperOpenEnv makes the test binary, run as a child, try to open a store
// and report the result: it plays the second Nimbus window.
const helperOpenEnv = "LOCALSTORE_TEST_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperOpenEnv); path != "" {
		s, err := Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSecondProcessFailsFast runs a second process on a held store: it must
// give up within 2 s with the user-facing message, and succeed once the
// first one closes.
func TestSecondProcessFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	run := func() (int, string, time.Duration) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperOpenEnv+"="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run helper: %v", err)
		}
		return code, strings.TrimSpace(stderr.String()), took
	}
	code, msg, took := run()
	want := "the store " + path + " is open in another Nimbus window"
	if code != 3 || msg != want {
		t.Fatalf("second process: exit %d, stderr %q; want exit 3 and %q", code, msg, want)
	}
	// The child's own start-up counts too; the lock wait itself is 1 s.
	if took > 2*time.Second {
		t.Errorf("second process took %v to give up; want under 2s", took)
	}
	s.Close()
	if code, msg, _ := run(); code != 0 {
		t.Fatalf("second process after Close: exit %d: %s", code, msg)
	}
}
