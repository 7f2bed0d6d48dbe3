package sync_test

import (
	"context"
	"errors"
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
