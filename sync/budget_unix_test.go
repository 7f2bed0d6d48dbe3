//go:build !windows

package sync_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	nsync "github.com/nimbus-desktop/nimbus/sync"
)

// A process that holds the schedule file's lock and never lets go (stopped
// in a debugger, say) does not hang the others: after a short wait they
// space their requests alone, and say why.
func TestPacerDoesNotHangOnAHeldScheduleFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "budget.json")
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 100, Clock: nsync.NewVirtualClock(t0), SharedFile: file})
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.SharedError(); err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("SharedError = %v, want the file named as held", err)
	}
	// The next requests do not wait for the lock again (for a minute).
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second { // 10 s if each waited lockWait again
		t.Errorf("5 more requests took %v: each waited for the held lock again", d)
	}
}
