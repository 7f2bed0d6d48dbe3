//go:build !windows

package sync

import (
	"errors"
	"os"
	"syscall"
)

// tryLockFile takes the exclusive lock if it is free; errLockBusy if
// another process holds it.
func tryLockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLockBusy
		case errors.Is(err, syscall.EINTR):
			continue
		default:
			return err
		}
	}
}

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
