package sync

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	gosync "sync"
	"time"
)

// Clock is the time source of the pacer and the engine; tests inject a
// VirtualClock so that Retry-After and backoff cost no wall time.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// VirtualClock is a simulated clock: Sleep advances it at once. It is safe for
// concurrent use; concurrent sleeps each advance it (time only moves forward).
type VirtualClock struct {
	mu gosync.Mutex
	t  time.Time
}

// NewVirtualClock starts a simulated clock at start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{t: start} }

func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Advance moves the clock forward by d (never backwards).
func (c *VirtualClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// PacerConfig configures the account-wide pacer.
type PacerConfig struct {
	// Rate is requests per second for the whole account (default 3: 900
	// per 5 minutes, under Cloudflare's 1,200 shared with the dashboard).
	Rate float64
	// MaxAttempts bounds tries of one call (default 8); the engine keeps the
	// work in the outbox and tries again at the next sync after that.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff (defaults
	// 500 ms and 60 s); the wait is drawn with full jitter.
	BaseBackoff, MaxBackoff time.Duration
	Clock                   Clock
	// Seed makes the jitter reproducible (0: random).
	Seed uint64
	// SharedFile, when set, is the account's schedule shared with every
	// other Nimbus process of the user (see BudgetFile): each request slot
	// is taken there under a file lock, and a Retry-After seen by one
	// process pauses them all. Where the file cannot be used, the pacer
	// spaces this process's requests alone (SharedError says why).
	SharedFile string
}

// Pacer spaces every request of the account, pauses everything on a
// Retry-After, and retries retryable errors with exponential backoff and
// jitter. One Pacer serves all namespaces and projects of an account.
type Pacer struct {
	cfg      PacerConfig
	interval time.Duration
	slot     chan struct{} // one token: acquisition (and its wait) is serialised

	mu            gosync.Mutex
	next          time.Time
	pausedUntil   time.Time
	rng           *rand.Rand
	requests      int64
	retries       int64
	writesDay     string
	writesToday   int64
	lastErr       error
	lastOK        time.Time
	shared        *sharedSchedule
	sharedErr     error
	sharedRetryAt time.Time // after a failure of the file, when to try it again
}

// sharedRetry is how long a pacer spaces its requests alone after the
// shared schedule file failed (each try can cost lockWait).
const sharedRetry = time.Minute

// NewPacer returns a pacer with defaults filled in.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.Rate <= 0 {
		cfg.Rate = 3
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	p := &Pacer{
		cfg:      cfg,
		interval: time.Duration(float64(time.Second) / cfg.Rate),
		slot:     make(chan struct{}, 1),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	if cfg.SharedFile != "" {
		p.shared = &sharedSchedule{path: cfg.SharedFile}
	}
	return p
}

// SetRate changes the account's requests per second; the next request is
// spaced by the new rate. A rate <= 0 is ignored.
func (p *Pacer) SetRate(rate float64) {
	if rate <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg.Rate = rate
	p.interval = time.Duration(float64(time.Second) / rate)
}

// Rate is the requests per second in use.
func (p *Pacer) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Rate
}

// SharedError is why the shared schedule file could not be used the last
// time it was tried (nil when it works or none is configured).
func (p *Pacer) SharedError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sharedErr
}

// Clock returns the pacer's clock.
func (p *Pacer) Clock() Clock { return p.cfg.Clock }

// Wait blocks until the next request slot of the account (and any pause is
// over), or ctx is done.
func (p *Pacer) Wait(ctx context.Context) error {
	select {
	case p.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slot }()
	for {
		p.mu.Lock()
		now := p.cfg.Clock.Now()
		interval, shared, paused := p.interval, p.shared, p.pausedUntil
		if shared != nil && now.Before(p.sharedRetryAt) {
			shared = nil // it failed a moment ago: not again before sharedRetryAt
		}
		p.mu.Unlock()
		if shared != nil {
			if paused.After(now) {
				if err := p.cfg.Clock.Sleep(ctx, paused.Sub(now)); err != nil {
					return err
				}
				continue
			}
			wait, err := shared.take(p.cfg.Clock, interval)
			p.mu.Lock()
			if err != nil && p.sharedErr == nil {
				slog.Warn("request budget: the schedule shared with the other Nimbus processes cannot be used; this one spaces its requests alone", "err", err.Error())
			}
			p.sharedErr = err
			if err != nil {
				p.sharedRetryAt = now.Add(sharedRetry)
			}
			p.mu.Unlock()
			if err == nil {
				if wait <= 0 {
					p.count()
					return nil
				}
				// Another process has the slot, or a Retry-After holds:
				// ask again when it is over.
				if err := p.cfg.Clock.Sleep(ctx, wait); err != nil {
					return err
				}
				continue
			}
			// The file cannot be used: space this process's requests alone.
		}
		p.mu.Lock()
		at := p.next
		if p.pausedUntil.After(at) {
			at = p.pausedUntil
		}
		if !at.After(now) {
			p.next = now.Add(interval)
			p.requests++
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		// Re-check after sleeping: a Retry-After may have arrived meanwhile.
		if err := p.cfg.Clock.Sleep(ctx, at.Sub(now)); err != nil {
			return err
		}
	}
}

func (p *Pacer) count() {
	p.mu.Lock()
	p.requests++
	p.mu.Unlock()
}

// Pause stops every request of the account for d (a Retry-After).
func (p *Pacer) Pause(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Clock.Now()
	until := now.Add(d)
	if until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	if p.shared != nil {
		p.sharedErr = p.shared.pause(now, until)
	}
}

func (p *Pacer) backoff(attempt int) time.Duration {
	ceil := p.cfg.BaseBackoff << min(attempt, 20)
	if ceil > p.cfg.MaxBackoff || ceil <= 0 {
		ceil = p.cfg.MaxBackoff
	}
	p.mu.Lock()
	d := time.Duration(p.rng.Int64N(int64(ceil)/2+1)) + ceil/2
	p.mu.Unlock()
	return d
}

// Do runs fn in a paced slot and retries it while the error is retryable,
// up to MaxAttempts; non-retryable errors come back at once.
func (p *Pacer) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	return p.do(ctx, fn, false)
}

// DoWrite is Do for requests that can be made smaller: an error asking for
// a smaller request (Shrink: 413, 524, timeout) comes back at once so the
// caller can split the chunk.
func (p *Pacer) DoWrite(ctx context.Context, fn func(ctx context.Context) error) error {
	return p.do(ctx, fn, true)
}

func (p *Pacer) do(ctx context.Context, fn func(ctx context.Context) error, shrinkable bool) error {
	var err error
	for attempt := 0; attempt < p.cfg.MaxAttempts; attempt++ {
		if werr := p.Wait(ctx); werr != nil {
			return werr
		}
		err = fn(ctx)
		p.record(err)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		var re *Error
		if !errors.As(err, &re) || !re.Retryable || (re.Shrink && shrinkable) {
			return err
		}
		if re.RetryAfter > 0 {
			p.Pause(re.RetryAfter)
		}
		if attempt+1 == p.cfg.MaxAttempts || (re.Unreachable && attempt+1 >= UnreachableAttempts) {
			break
		}
		p.mu.Lock()
		p.retries++
		p.mu.Unlock()
		if serr := p.cfg.Clock.Sleep(ctx, p.backoff(attempt)); serr != nil {
			return serr
		}
	}
	return err
}

func (p *Pacer) record(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var re *Error
	switch {
	case err == nil:
		p.lastErr, p.lastOK = nil, p.cfg.Clock.Now()
	case errors.As(err, &re) && re.Status != 0:
		// The remote answered: we are online even if it refused.
		p.lastErr, p.lastOK = nil, p.cfg.Clock.Now()
	case errors.As(err, &re):
		p.lastErr = err
	}
}

// Online reports whether the last request reached the remote.
func (p *Pacer) Online() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr == nil && !p.lastOK.IsZero()
}

// LastError is the last network-level error (nil when online).
func (p *Pacer) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// AddWrites counts keys written today (UTC), for the free plan's 1,000
// writes a day.
func (p *Pacer) AddWrites(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	day := p.cfg.Clock.Now().UTC().Format("2006-01-02")
	if day != p.writesDay {
		p.writesDay, p.writesToday = day, 0
	}
	p.writesToday += int64(n)
}

// SetWritesToday restores the counter (persisted by the engine).
func (p *Pacer) SetWritesToday(day string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writesDay, p.writesToday = day, n
}

// WritesToday returns the UTC day and the keys written on it.
func (p *Pacer) WritesToday() (string, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	day := p.cfg.Clock.Now().UTC().Format("2006-01-02")
	if day != p.writesDay {
		return day, 0
	}
	return p.writesDay, p.writesToday
}

// Stats are the pacer's counters.
type PacerStats struct {
	Requests, Retries int64
}

func (p *Pacer) Stats() PacerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PacerStats{Requests: p.requests, Retries: p.retries}
}

var (
	accountPacersMu gosync.Mutex
	accountPacers   = map[string]*Pacer{}
)

// AccountPacer returns the process's one pacer for an account and shared
// schedule file, creating it with cfg on first use: every engine, setup and
// CLI command of the process shares the account's REST budget (and, through
// cfg.SharedFile, with the user's other Nimbus processes). A later call with
// another rate changes the rate at once (Settings' request budget applies to
// the next request).
func AccountPacer(accountID string, cfg PacerConfig) *Pacer {
	accountPacersMu.Lock()
	defer accountPacersMu.Unlock()
	key := accountID + "\x00" + cfg.SharedFile
	if p, ok := accountPacers[key]; ok {
		p.SetRate(cfg.Rate)
		return p
	}
	p := NewPacer(cfg)
	accountPacers[key] = p
	return p
}
