//go:build unix

// Package e2e holds the end-to-end tests of the whole system on workerd: the
// local stack (worker/dev/stack.mjs: Miniflare running the Nimbus Worker, the
// KV REST adapter over Miniflare's local explorer, a fake AI server) and the
// desktop's real packages (extract, localstore, workspace, and the sync
// engine with its cloudflare-go v6 remote) talking to it.
//
// They start node and workerd, so they run only with NIMBUS_E2E=1 (make
// test-e2e sets it, after installing worker/node_modules).
package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Stack is a running local stack.
type Stack struct {
	Env     map[string]string // NIMBUS_CF_API_BASE, CLOUDFLARE_ACCOUNT_ID, ...
	Persist string
	cmd     *exec.Cmd
}

// repoRoot is the repository root (this package lives in e2e/).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// needStack skips unless NIMBUS_E2E=1, and fails when it is set but the
// stack cannot run (no node, no worker/node_modules): then the run asked for
// it and must not silently pass.
func needStack(t *testing.T) {
	t.Helper()
	if os.Getenv("NIMBUS_E2E") != "1" {
		t.Skip("end to end on workerd: set NIMBUS_E2E=1 (make test-e2e)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("NIMBUS_E2E=1 but node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "worker", "node_modules", "miniflare")); err != nil {
		t.Fatal("NIMBUS_E2E=1 but worker/node_modules is missing: run make worker-deps")
	}
}

// StartStack starts worker/dev/stack.mjs on a fresh directory and stops it
// (the whole process group) when the test ends, whatever happens.
func StartStack(t *testing.T, args ...string) *Stack {
	t.Helper()
	needStack(t)
	persist := t.TempDir()
	cmd := exec.Command("node", append([]string{"dev/stack.mjs", "--persist", persist}, args...)...)
	cmd.Dir = filepath.Join(repoRoot(t), "worker")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(persist, "stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	s := &Stack{Env: map[string]string{}, Persist: persist, cmd: cmd}
	t.Cleanup(func() {
		s.stop()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("stack log:\n%s", b)
		}
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok {
				s.Env[k] = v
			}
			if k == "NIMBUS_STACK_PERSIST" {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- errors.New("the stack exited before printing its environment (see the stack log)")
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the stack did not start within 90 s")
	}
	return s
}

func (s *Stack) stop() {
	if s.cmd.Process == nil {
		return
	}
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-done
	}
	// workerd runs in the same process group; make sure nothing outlives the test.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// Process triggers the Worker's processor for a project (POST /__process).
func (s *Stack) Process(ctx context.Context, projectID string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		s.Env["NIMBUS_WORKER_URL"]+"/__process?project="+projectID, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Nimbus-Process-Secret", s.Env["NIMBUS_PROCESS_SECRET"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /__process: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /__process: HTTP %d: %.300s", res.StatusCode, b)
	}
	return string(b), nil
}

// SetAIFailRate changes the fake AI server's fault rate.
func (s *Stack) SetAIFailRate(ctx context.Context, rate float64) error {
	base := strings.TrimSuffix(s.Env["NIMBUS_AI_URL"], "/v1")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/__fault", strings.NewReader(fmt.Sprintf(`{"rate":%g}`, rate)))
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("set AI fail rate: HTTP %d", res.StatusCode)
	}
	return nil
}
