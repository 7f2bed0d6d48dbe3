package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// Environment variables (wrangler's names) and settings for credentials.
const (
	EnvAPIToken  = "CLOUDFLARE_API_TOKEN"
	EnvAccountID = "CLOUDFLARE_ACCOUNT_ID"
	// EnvNoKeyring forces the file fallback (CI, minimal Linux, tests).
	EnvNoKeyring = "NIMBUS_NO_KEYRING"
	// MetaAccountID is the localstore Meta key of the account ID (not a
	// secret, unlike the token, which never goes to the store).
	MetaAccountID = "sync.account_id"

	keyringService = "nimbus-desktop"
	keyringTimeout = 3 * time.Second
)

// Credentials are what the Cloudflare remote needs. Token is a secret: it is
// never logged, never written to the store or preferences, and String hides it.
type Credentials struct {
	AccountID string
	Token     string
	// Source says where the token came from: "env", "keyring" or "file".
	Source string
}

// String never shows the token.
func (c Credentials) String() string {
	t := "none"
	if c.Token != "" {
		t = "set (" + c.Source + ")"
	}
	return fmt.Sprintf("account %s, token %s", c.AccountID, t)
}

// ErrNoCredentials: neither the environment nor the saved settings have an
// account and a token.
var ErrNoCredentials = errors.New("no Cloudflare credentials: set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID, or save them with 'nimbus setup --account ID --token-stdin'")

// withTimeout runs a keyring call that may block on a missing D-Bus.
func withTimeout(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(keyringTimeout):
		return errors.New("the OS keyring did not answer")
	}
}

func useKeyring() bool { return os.Getenv(EnvNoKeyring) == "" }

// tokenFile is the fallback where no keyring exists: a file readable only by
// the user in the user config dir.
func tokenFile(accountID string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, accountID)
	return filepath.Join(dir, "nimbus", "cloudflare-token-"+safe+".json"), nil
}

// SaveToken stores the account's token in the OS keyring, or where none
// exists in a 0600 file in the user config dir. It returns where it went.
func SaveToken(accountID, token string) (string, error) {
	if accountID == "" || token == "" {
		return "", errors.New("save token: account ID and token are required")
	}
	if useKeyring() {
		if err := withTimeout(func() error { return keyring.Set(keyringService, accountID, token) }); err == nil {
			return "keyring", nil
		}
	}
	path, err := tokenFile(accountID)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("save token: %w", err)
	}
	b, _ := json.Marshal(map[string]string{"account_id": accountID, "token": token})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("save token to %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", fmt.Errorf("save token to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("save token to %s: %w", path, err)
	}
	return "file", nil
}

// loadToken finds a saved token for the account.
func loadToken(accountID string) (token, source string) {
	if useKeyring() {
		var t string
		if err := withTimeout(func() error {
			var err error
			t, err = keyring.Get(keyringService, accountID)
			return err
		}); err == nil && t != "" {
			return t, "keyring"
		}
	}
	path, err := tokenFile(accountID)
	if err != nil {
		return "", ""
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		// A token file others can read is not trusted (and not used).
		return "", ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", ""
	}
	var m map[string]string
	if json.Unmarshal(b, &m) != nil {
		return "", ""
	}
	return m["token"], "file"
}

// LoadCredentials resolves the account (CLOUDFLARE_ACCOUNT_ID, else the
// saved setting savedAccount) and the token (CLOUDFLARE_API_TOKEN, else the
// keyring, else the token file).
func LoadCredentials(savedAccount string) (Credentials, error) {
	c := Credentials{AccountID: strings.TrimSpace(os.Getenv(EnvAccountID))}
	if c.AccountID == "" {
		c.AccountID = savedAccount
	}
	if t := strings.TrimSpace(os.Getenv(EnvAPIToken)); t != "" {
		c.Token, c.Source = t, "env"
	} else if c.AccountID != "" {
		c.Token, c.Source = loadToken(c.AccountID)
	}
	if c.AccountID == "" || c.Token == "" {
		return c, ErrNoCredentials
	}
	return c, nil
}
