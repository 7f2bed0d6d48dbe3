package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The account's request schedule is shared by every Nimbus process of the
// user on this machine (two windows, a GUI and a CLI, back-to-back `nimbus
// sync` runs): each request slot is taken in a small state file under the
// user config dir, under an exclusive file lock (flock, LockFileEx), so the
// processes together stay within the account's budget. Across machines the
// 429 and Retry-After path is what keeps the account within Cloudflare's
// limit.

// budgetState is the file's content: wall-clock times in Unix nanoseconds.
type budgetState struct {
	// Next is the earliest time the next request of the account may start.
	Next int64 `json:"next"`
	// PausedUntil is the end of a Retry-After seen by any process.
	PausedUntil int64 `json:"paused_until"`
}

// lockWait bounds how long a process waits for another to release the
// schedule file's lock (held for microseconds; longer means that process is
// stopped, say suspended in a debugger): then this one spaces its requests
// alone rather than hang.
const lockWait = 2 * time.Second

var errLockBusy = errors.New("held by another process")

// lockFile takes the file's exclusive lock, polling, for at most lockWait.
func lockFile(f *os.File) error {
	deadline := time.Now().Add(lockWait)
	for {
		err := tryLockFile(f)
		if err != errLockBusy {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w for %v", err, lockWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// maxAhead bounds how far in the future a stored time may lie; anything
// later is a corrupt file or a clock that jumped back, and is ignored.
const maxAhead = time.Hour

// BudgetFile is where the account's shared request schedule is kept: the
// user config dir (XDG_CONFIG_HOME, %AppData%), nimbus/budget-<account>.json.
func BudgetFile(accountID string) (string, error) {
	if accountID == "" {
		return "", errors.New("budget file: no account ID")
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("budget file: %w", err)
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, accountID)
	return filepath.Join(dir, "nimbus", "budget-"+safe+".json"), nil
}

// sharedSchedule reads and updates the state file under its lock.
type sharedSchedule struct{ path string }

// update runs fn on the state under the file lock, and writes the state back
// when fn says it changed it.
func (s sharedSchedule) update(now time.Time, fn func(st *budgetState) bool) (budgetState, error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return budgetState{}, fmt.Errorf("budget file %s: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return budgetState{}, fmt.Errorf("budget file %s: %w", s.path, err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return budgetState{}, fmt.Errorf("budget file %s: lock: %w", s.path, err)
	}
	defer unlockFile(f)
	var st budgetState
	if b, err := io.ReadAll(f); err != nil {
		return budgetState{}, fmt.Errorf("budget file %s: %w", s.path, err)
	} else if len(b) > 0 && json.Unmarshal(b, &st) != nil {
		// A torn or foreign file: start the schedule again (at worst one
		// process's requests are not spaced from another's once).
		st = budgetState{}
	}
	limit := now.Add(maxAhead).UnixNano()
	if st.Next > limit {
		st.Next = 0
	}
	if st.PausedUntil > limit {
		st.PausedUntil = 0
	}
	if !fn(&st) {
		return st, nil
	}
	b, _ := json.Marshal(st)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return st, fmt.Errorf("budget file %s: %w", s.path, err)
	}
	if err := f.Truncate(0); err != nil {
		return st, fmt.Errorf("budget file %s: %w", s.path, err)
	}
	if _, err := f.Write(b); err != nil {
		return st, fmt.Errorf("budget file %s: %w", s.path, err)
	}
	return st, nil
}

// take grants the account's next request now if its slot has come (and no
// pause holds): the next slot is then interval after now. Otherwise it
// returns how long to wait before asking again. Slots are granted at the
// time they are used, never reserved ahead, so a process that wakes late
// does not squeeze its request against the next one.
func (s sharedSchedule) take(clock Clock, interval time.Duration) (wait time.Duration, err error) {
	_, err = s.update(clock.Now(), func(st *budgetState) bool {
		t := clock.Now().UnixNano() // under the lock: the time the slot is used
		if at := max(st.Next, st.PausedUntil); at > t {
			wait = time.Duration(at - t)
			return false
		}
		st.Next = t + int64(interval)
		return true
	})
	return wait, err
}

// pause records a Retry-After for every process.
func (s sharedSchedule) pause(now, until time.Time) error {
	_, err := s.update(now, func(st *budgetState) bool {
		if until.UnixNano() <= st.PausedUntil {
			return false
		}
		st.PausedUntil = until.UnixNano()
		return true
	})
	return err
}
