// Package sync owns the sync engine between the local bbolt mirror
// (localstore) and Cloudflare Workers KV: the small Remote interface, its
// Cloudflare implementation on cloudflare-go v6, the account-wide pacer
// (rate, Retry-After, backoff), credentials, and the push/pull engine that
// merges with model.MergeValue so that editors' desktops and the Nimbus
// Worker converge over an eventually consistent store without
// compare-and-swap (DESIGN.md sections 4-5, KV-REST.md).
package sync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Meta is the KV metadata every value carries: the sha256 of the value ("h"),
// its updated stamp ("u") and, for status records, the status ("s"). A key
// listing with metadata is therefore a cheap remote index.
type Meta struct {
	H string `json:"h"`
	U string `json:"u,omitempty"`
	S string `json:"s,omitempty"`
}

// KeyInfo is one key of a listing.
type KeyInfo struct {
	Name string
	Meta Meta
}

// KeyPage is one page of a key listing; Cursor is "" on the last page (a page
// may be empty while the cursor is not).
type KeyPage struct {
	Keys   []KeyInfo
	Cursor string
}

// KV is one pair to write.
type KV struct {
	Key   string
	Value []byte
	Meta  Meta
}

// Item is one bulk-get result. Found is false for keys the remote does not
// have (or does not show yet).
type Item struct {
	Value []byte
	Meta  Meta
	Found bool
}

// NamespaceInfo is a KV namespace of the account.
type NamespaceInfo struct {
	ID    string
	Title string
}

// Remote is the part of the KV REST API the engine uses. Implementations do
// not retry or pace: the engine's Pacer does both for the whole account.
type Remote interface {
	// ListKeys returns one page (<= 1,000 keys) of the keys starting with
	// prefix, with metadata.
	ListKeys(ctx context.Context, nsID, prefix, cursor string) (KeyPage, error)
	// BulkGet fetches up to MaxBulkGet keys with their metadata.
	BulkGet(ctx context.Context, nsID string, keys []string) (map[string]Item, error)
	// BulkPut writes pairs with their metadata and returns the keys the
	// remote reported as unsuccessful (to be retried).
	BulkPut(ctx context.Context, nsID string, kvs []KV) (unsuccessful []string, err error)
	// Get fetches one value; found is false on 404 (code 10009).
	Get(ctx context.Context, nsID, key string) (value []byte, found bool, err error)
	ListNamespaces(ctx context.Context) ([]NamespaceInfo, error)
	CreateNamespace(ctx context.Context, title string) (NamespaceInfo, error)
}

// Platform limits (KV-REST.md), checked before sending.
const (
	MaxKeyBytes      = 512
	MaxMetaBytes     = 1024
	MaxValueBytes    = 25 << 20
	MaxBulkGet       = 100
	MaxListLimit     = 1000
	MaxBulkPairs     = 10000
	MaxBulkBytes     = 100 << 20
	DefaultChunkKeys = 1000
	// DefaultChunkBytes leaves headroom under the 100 MB request limit for
	// the JSON framing (Workers Sites uses 98 MB).
	DefaultChunkBytes = 95 << 20
)

// Cloudflare API error codes the engine reacts to.
const (
	CodeKeyNotFound       = 10009
	CodeNamespaceNotFound = 10013
	CodeTitleExists       = 10014
	CodeTooManyBulkOps    = 10046
	CodeDailyQuota        = 10048
	CodeAuth              = 10000
	CodeRateLimited       = 971
)

// Error is a failed remote call, typed so the engine knows what to do next.
type Error struct {
	Op     string // "list", "bulk_get", "bulk_put", "get", "ns_list", "ns_create"
	NS     string // namespace ID, when there is one
	Status int    // HTTP status, 0 for network errors
	Code   int    // first Cloudflare error code, 0 if none
	// Retryable says whether trying again later can help (429, 5xx, 10046,
	// network errors, timeouts); authentication and validation errors cannot.
	Retryable bool
	// RetryAfter is the server's Retry-After, which pauses the whole account.
	RetryAfter time.Duration
	// Shrink says the request was too large or too slow (413, 524, timeout):
	// halve the chunk before retrying.
	Shrink bool
	// Unreachable: no connection could be made at all (refused, no route,
	// the name does not resolve): the remote is offline from here. Such a
	// call is tried at most UnreachableAttempts times, so "offline" shows
	// within seconds; the next sync (the watch loop backs off) tries again.
	Unreachable bool
	Err         error
}

// UnreachableAttempts bounds the tries of one call that cannot connect.
const UnreachableAttempts = 2

func (e *Error) Error() string {
	s := "kv " + e.Op
	if e.NS != "" {
		s += " (namespace " + e.NS + ")"
	}
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != 0 {
		s += fmt.Sprintf(" code %d", e.Code)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Retryable {
		s += " (retryable)"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a remote error that a later retry can fix.
func IsRetryable(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.Retryable
}

// IsShrink reports whether err asks for a smaller request.
func IsShrink(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.Shrink
}

// ErrLimit marks a pair that breaks a platform limit; it is never sent.
var ErrLimit = errors.New("exceeds a Workers KV limit")

// CheckKV checks a pair against the platform limits before it is sent.
func CheckKV(kv KV, metaJSON []byte) error {
	switch {
	case kv.Key == "":
		return fmt.Errorf("empty key: %w", ErrLimit)
	case len(kv.Key) > MaxKeyBytes:
		return fmt.Errorf("key %.60q...: %d bytes > %d: %w", kv.Key, len(kv.Key), MaxKeyBytes, ErrLimit)
	case len(metaJSON) > MaxMetaBytes:
		return fmt.Errorf("key %q: metadata %d bytes > %d: %w", kv.Key, len(metaJSON), MaxMetaBytes, ErrLimit)
	case len(kv.Value) > MaxValueBytes:
		return fmt.Errorf("key %q: value %d bytes > %d: %w", kv.Key, len(kv.Value), MaxValueBytes, ErrLimit)
	}
	return nil
}
