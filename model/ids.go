package model

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// TimeLayout is the ISO 8601 UTC layout every timestamp is written in (the
// same as JavaScript's Date.toISOString, so the Worker writes identical text).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeLayout (UTC, milliseconds).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Now is the current time in TimeLayout.
func Now() string { return FormatTime(time.Now()) }

// ParseTime parses an ISO 8601 timestamp (RFC 3339, with or without
// fractional seconds).
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 timestamp", s)
	}
	return t, nil
}

func randomHex(nBytes int) string {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// NewProjectID returns "proj_" + 12 hex characters from crypto/rand.
func NewProjectID() string { return "proj_" + randomHex(6) }

// NewUserID returns "user_" + 12 hex characters from crypto/rand.
func NewUserID() string { return "user_" + randomHex(6) }

// NewSessionID returns "sess_" + 32 hex characters from crypto/rand.
func NewSessionID() string { return "sess_" + randomHex(16) }

// NewAPIKey returns a fresh "sk_live_" + 32 hex key and its stored hash.
// The key itself must be shown once and never stored.
func NewAPIKey() (key, hash string) {
	key = "sk_live_" + randomHex(16)
	return key, HashAPIKey(key)
}

// HashAPIKey returns "sha256:<hex>" of an API key.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PageID is "page_" + the first 12 hex of md5(project_id + source_path). The
// path is normalised first, so separators and Unicode forms do not matter.
func PageID(projectID, sourcePath string) string {
	sum := md5.Sum([]byte(projectID + NormalizeSourcePath(sourcePath)))
	return "page_" + hex.EncodeToString(sum[:])[:12]
}

// NormalizeSourcePath turns a path into the platform form: forward slashes,
// Unicode NFC, no leading "./" or "/", cleaned.
func NormalizeSourcePath(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	p = norm.NFC.String(p)
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return p
	}
	// path.Clean semantics on the slash form.
	return strings.TrimPrefix(cleanSlash(p), "/")
}

func cleanSlash(p string) string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 && out[len(out)-1] != ".." {
				out = out[:len(out)-1]
			} else {
				out = append(out, s)
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// SourcePath returns the source_path of file: relative to the parent of the
// watched folder root, normalised. For root /site/dist and file
// /site/dist/local/a.html it is "dist/local/a.html".
func SourcePath(root, file string) (string, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("source path of %s: %w", file, err)
	}
	absFile, err := filepath.Abs(file)
	if err != nil {
		return "", fmt.Errorf("source path of %s: %w", file, err)
	}
	rel, err := filepath.Rel(filepath.Dir(absRoot), absFile)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("source path of %s: not inside %s", file, root)
	}
	return NormalizeSourcePath(rel), nil
}

// BatchID returns "batch_YYYYMMDD_HHMMSS" for t in UTC.
func BatchID(t time.Time) string { return "batch_" + t.UTC().Format("20060102_150405") }

// NextBatchID returns the batch ID for t, or for the next free second when
// taken reports the ID as used.
func NextBatchID(t time.Time, taken func(id string) bool) string {
	for {
		id := BatchID(t)
		if taken == nil || !taken(id) {
			return id
		}
		t = t.Add(time.Second)
	}
}

// ContentHash is the sha256 (hex) of the canonical JSON of an extraction.
// encoding/json writes struct fields in declaration order and map keys
// sorted, so the same extraction always gives the same bytes.
func ContentHash(e Extraction) string {
	b, err := json.Marshal(e)
	if err != nil {
		panic("marshal extraction: " + err.Error()) // plain data, cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Canonical returns the canonical JSON of a record: encoding/json output
// (struct field order, sorted map keys). Values are stored and pushed as
// these bytes, so the same record always hashes the same.
func Canonical(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("canonical JSON of %T: %v", v, err)) // model types always marshal
	}
	return b
}

// ValueHash is the sha256 (hex) of a KV value's bytes: the "h" of its metadata.
func ValueHash(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:])
}
