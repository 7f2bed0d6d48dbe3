//go:build !linux

package localstore

// releaseMapped is a no-op here (see release_linux.go).
func (t *Tx) releaseMapped(string) {}
