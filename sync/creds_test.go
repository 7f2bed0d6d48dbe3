package sync_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	nsync "github.com/nimbus-desktop/nimbus/sync"
)

func TestCredentialsFileFallback(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv(nsync.EnvNoKeyring, "1")
	t.Setenv(nsync.EnvAPIToken, "")
	t.Setenv(nsync.EnvAccountID, "")
	if _, err := nsync.LoadCredentials(""); err == nil {
		t.Fatal("no credentials anywhere: want ErrNoCredentials")
	}
	where, err := nsync.SaveToken("acct1", "secret-token-value")
	if err != nil || where != "file" {
		t.Fatalf("save: %s %v", where, err)
	}
	path := filepath.Join(dir, "nimbus", "cloudflare-token-acct1.json")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v %v", path, fi.Mode(), err)
	}
	c, err := nsync.LoadCredentials("acct1")
	if err != nil || c.Token != "secret-token-value" || c.Source != "file" {
		t.Fatalf("load: %v %v", c, err)
	}
	if strings.Contains(c.String(), "secret") {
		t.Fatal("Credentials.String shows the token")
	}
	// A world-readable token file is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := nsync.LoadCredentials("acct1"); err == nil {
		t.Fatal("a token file readable by others was used")
	}
	// The environment wins.
	t.Setenv(nsync.EnvAPIToken, "env-token")
	t.Setenv(nsync.EnvAccountID, "acct2")
	c, err = nsync.LoadCredentials("acct1")
	if err != nil || c.Token != "env-token" || c.AccountID != "acct2" || c.Source != "env" {
		t.Fatalf("env: %v %v", c, err)
	}
}
