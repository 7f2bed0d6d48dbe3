package workspace

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
)

// ConnectionInfo describes the Cloudflare connection without the token.
type ConnectionInfo struct {
	AccountID string `json:"account_id,omitempty"`
	// TokenSource is where the token is kept: "env" ($CLOUDFLARE_API_TOKEN),
	// "keyring", "file" (0600 in the user config dir) or "" (none).
	TokenSource string  `json:"token_source,omitempty"`
	Rate        float64 `json:"rate"` // requests per second for the account
	Prefix      string  `json:"prefix"`
}

// TokenPlace says in words where the token is kept.
func (c ConnectionInfo) TokenPlace() string {
	switch c.TokenSource {
	case "env":
		return "from $CLOUDFLARE_API_TOKEN (not stored)"
	case "keyring":
		return "in the OS keyring"
	case "file":
		return "in a file only you can read, in your config folder (no OS keyring here)"
	}
	return "not set"
}

// Connection reads the connection settings. It may touch the OS keyring,
// which can block on an unlock prompt: call it off the UI goroutine.
func (w *Workspace) Connection() ConnectionInfo {
	saved, _ := w.store.Meta(nsync.MetaAccountID)
	c, _ := nsync.LoadCredentials(saved)
	info := ConnectionInfo{AccountID: c.AccountID, Rate: w.rate(0), Prefix: w.namespacePrefix()}
	if c.Token != "" {
		info.TokenSource = c.Source
	}
	return info
}

// namespacePrefix is the saved title prefix of the eleven namespaces.
func (w *Workspace) namespacePrefix() string {
	if p, _ := w.store.Meta(metaNSPrefix); p != "" {
		return p
	}
	return DefaultNamespacePrefix
}

// Request budget bounds (requests per second): Cloudflare allows 1,200 per
// five minutes for a token, 4/s, shared with every other tool.
const (
	MinSyncRate = 0.1
	MaxSyncRate = 4.0
)

// SetSyncRate stores the account's request budget (requests per second)
// used by every sync engine built afterwards.
func (w *Workspace) SetSyncRate(rate float64) error {
	if !(rate >= MinSyncRate && rate <= MaxSyncRate) {
		return fmt.Errorf("request budget %g/s: want %g to %g (Cloudflare allows 1,200 requests per 5 minutes, 4/s)", rate, MinSyncRate, MaxSyncRate)
	}
	if err := w.store.SetMeta(metaRate, strconv.FormatFloat(rate, 'g', -1, 64)); err != nil {
		return err
	}
	// Engines already running (the GUI's sync loop) use it from their next
	// request.
	w.pacersMu.Lock()
	defer w.pacersMu.Unlock()
	for p := range w.pacers {
		p.SetRate(rate)
	}
	return nil
}

// ConnectionTest is what TestConnection found.
type ConnectionTest struct {
	AccountID string   `json:"account_id"`
	Found     []string `json:"found"`   // the eleven namespace titles that exist
	Missing   []string `json:"missing"` // those `setup` would create
}

// TestConnection lists the account's namespaces through the real remote
// (one paced request) and says which of the eleven exist. It changes
// nothing.
func (w *Workspace) TestConnection(ctx context.Context, o SyncOptions) (ConnectionTest, error) {
	remote, creds, err := w.remote(o)
	if err != nil {
		return ConnectionTest{}, fmt.Errorf("test connection: %w", err)
	}
	var list []nsync.NamespaceInfo
	pacer := w.pacer(creds.AccountID, o.Rate)
	if err := pacer.Do(ctx, func(ctx context.Context) error {
		var err error
		list, err = remote.ListNamespaces(ctx)
		return err
	}); err != nil {
		return ConnectionTest{}, fmt.Errorf("test connection: %w", err)
	}
	titles := map[string]bool{}
	for _, n := range list {
		titles[n.Title] = true
	}
	prefix := w.namespacePrefix()
	res := ConnectionTest{AccountID: creds.AccountID}
	for _, ns := range model.Namespaces {
		title := prefix + strings.TrimPrefix(string(ns), "NIMBUS_")
		if titles[title] {
			res.Found = append(res.Found, title)
		} else {
			res.Missing = append(res.Missing, title)
		}
	}
	return res, nil
}
