package ui

import (
	"os"
	"testing"
)

// The tests never write into the developer's config dir (the request
// budget's schedule file, token files): a temporary one for the whole run.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nimbus-test-config-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
