package sync_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	nsync "github.com/nimbus-desktop/nimbus/sync"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestPacerSpacesRequests(t *testing.T) {
	clk := nsync.NewVirtualClock(t0)
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 3, Clock: clk, Seed: 1})
	ctx := context.Background()
	var times []time.Time
	for i := 0; i < 10; i++ {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		times = append(times, clk.Now())
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < time.Second/3-time.Millisecond {
			t.Fatalf("requests %d and %d only %v apart at 3/s", i-1, i, d)
		}
	}
	if got := times[9].Sub(times[0]); got > 4*time.Second {
		t.Fatalf("10 requests at 3/s took %v", got)
	}
}

func TestPacerRetryAfterPausesEverything(t *testing.T) {
	clk := nsync.NewVirtualClock(t0)
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 100, Clock: clk, Seed: 1, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	ctx := context.Background()
	calls := 0
	err := p.Do(ctx, func(context.Context) error {
		calls++
		if calls == 1 {
			return &nsync.Error{Op: "list", Status: 429, Retryable: true, RetryAfter: 30 * time.Second}
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
	if el := clk.Now().Sub(t0); el < 30*time.Second {
		t.Fatalf("retry came %v after a Retry-After of 30s", el)
	}
	// Another caller is paused too.
	p.Pause(10 * time.Second)
	before := clk.Now()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if clk.Now().Sub(before) < 10*time.Second {
		t.Fatal("Wait did not honour the account-wide pause")
	}
}

func TestPacerGivesUpAndStopsOnFatal(t *testing.T) {
	clk := nsync.NewVirtualClock(t0)
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 100, Clock: clk, Seed: 1, MaxAttempts: 4})
	ctx := context.Background()
	calls := 0
	err := p.Do(ctx, func(context.Context) error { calls++; return &nsync.Error{Op: "get", Retryable: true} })
	if err == nil || calls != 4 {
		t.Fatalf("retryable: calls=%d err=%v", calls, err)
	}
	if !p.Online() && p.LastError() == nil {
		t.Fatal("network errors must mark the pacer offline")
	}
	calls = 0
	err = p.Do(ctx, func(context.Context) error { calls++; return &nsync.Error{Op: "get", Status: 403} })
	if err == nil || calls != 1 {
		t.Fatalf("fatal: calls=%d err=%v", calls, err)
	}
	calls = 0
	err = p.DoWrite(ctx, func(context.Context) error {
		calls++
		return &nsync.Error{Op: "bulk_put", Status: 413, Retryable: true, Shrink: true}
	})
	if err == nil || calls != 1 || !nsync.IsShrink(err) {
		t.Fatalf("shrink must return to the caller: calls=%d err=%v", calls, err)
	}
	// A read that timed out cannot be made smaller: it is retried.
	calls = 0
	err = p.Do(ctx, func(context.Context) error {
		calls++
		if calls < 3 {
			return &nsync.Error{Op: "list", Retryable: true, Shrink: true}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("timed-out read: calls=%d err=%v", calls, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Do(cctx, func(context.Context) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestPacerBackoffGrowsWithJitter(t *testing.T) {
	clk := nsync.NewVirtualClock(t0)
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 1000, Clock: clk, Seed: 7, MaxAttempts: 6, BaseBackoff: time.Second, MaxBackoff: time.Minute})
	var at []time.Time
	_ = p.Do(context.Background(), func(context.Context) error {
		at = append(at, clk.Now())
		return &nsync.Error{Op: "list", Status: 500, Retryable: true}
	})
	for i := 1; i < len(at); i++ {
		gap := at[i].Sub(at[i-1])
		lo := time.Second << (i - 1) / 2
		hi := time.Second<<(i-1) + 10*time.Millisecond
		if gap < lo || gap > hi {
			t.Fatalf("backoff %d = %v, want in [%v, %v]", i, gap, lo, hi)
		}
	}
}

func TestPacerWritesToday(t *testing.T) {
	clk := nsync.NewVirtualClock(t0)
	p := nsync.NewPacer(nsync.PacerConfig{Clock: clk})
	p.AddWrites(600)
	p.AddWrites(500)
	if _, n := p.WritesToday(); n != 1100 {
		t.Fatalf("writes today %d", n)
	}
	clk.Advance(13 * time.Hour)
	if day, n := p.WritesToday(); n != 0 || day != "2026-11-28" {
		t.Fatalf("new day: %s %d", day, n)
	}
}

// Two pacers on one schedule file (two Nimbus processes of one account)
// space their requests together: the account sees one budget, and a
// Retry-After seen by one pauses the other.
func TestPacersShareTheAccountBudgetThroughAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nimbus", "budget-acc.json")
	clk := nsync.NewVirtualClock(t0)
	a := nsync.NewPacer(nsync.PacerConfig{Rate: 2, Clock: clk, SharedFile: file})
	b := nsync.NewPacer(nsync.PacerConfig{Rate: 2, Clock: clk, SharedFile: file})
	ctx := context.Background()
	var times []time.Time
	for i := 0; i < 10; i++ {
		p := a
		if i%2 == 1 {
			p = b
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		times = append(times, clk.Now())
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 500*time.Millisecond {
			t.Fatalf("requests %d and %d of two processes %v apart at 2/s for the account", i-1, i, d)
		}
	}
	if a.SharedError() != nil || b.SharedError() != nil {
		t.Fatalf("shared file errors: %v, %v", a.SharedError(), b.SharedError())
	}
	a.Pause(30 * time.Second)
	before := clk.Now()
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(before); got < 30*time.Second-time.Millisecond {
		t.Fatalf("the other process waited %v after a Retry-After of 30s", got)
	}
	// A torn or foreign file does not stop anyone: the schedule starts again.
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(ctx); err != nil || a.SharedError() != nil {
		t.Fatalf("wait on a corrupt file: %v, %v", err, a.SharedError())
	}
}

// A schedule file that cannot be used leaves the pacer spacing this
// process's requests alone, and says why.
func TestPacerWithoutUsableSharedFileStillSpaces(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clk := nsync.NewVirtualClock(t0)
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 1, Clock: clk, SharedFile: filepath.Join(notDir, "budget.json")})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := clk.Now().Sub(t0); got < 2*time.Second {
		t.Fatalf("3 requests at 1/s took %v", got)
	}
	if p.SharedError() == nil {
		t.Fatal("no SharedError for an unusable file")
	}
}

// A new request budget is used by the next request, also through
// AccountPacer (Settings say "used from the next sync").
func TestPacerRateChangeAppliesAtOnce(t *testing.T) {
	clk := nsync.NewVirtualClock(t0)
	p := nsync.AccountPacer("acc-rate-test", nsync.PacerConfig{Rate: 100, Clock: clk})
	ctx := context.Background()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if q := nsync.AccountPacer("acc-rate-test", nsync.PacerConfig{Rate: 0.5}); q != p || q.Rate() != 0.5 {
		t.Fatalf("AccountPacer with a new rate: same pacer %v, rate %v", q == p, q.Rate())
	}
	start := clk.Now()
	for i := 0; i < 5; i++ {
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The first wait still has the old spacing; the next four are 2 s apart.
	if got := clk.Now().Sub(start); got < 8*time.Second {
		t.Fatalf("5 waits at 0.5/s took %v, want about 8s", got)
	}
}
