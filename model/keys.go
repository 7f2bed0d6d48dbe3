package model

import (
	"errors"
	"fmt"
	"strings"
)

// MaxKeyBytes is Cloudflare KV's key size limit.
const MaxKeyBytes = 512

// ErrKeyTooLong is returned for keys over MaxKeyBytes.
var ErrKeyTooLong = errors.New("key longer than 512 bytes")

// Kind is the first segment of a key ("page" in page:{project}:{page}).
type Kind string

// Every key kind of the platform.
const (
	KindUser     Kind = "user"
	KindProjects Kind = "projects"
	KindAPIKeys  Kind = "apikeys"
	KindProject  Kind = "project"
	KindAPIKey   Kind = "apikey"
	KindEmail    Kind = "email"
	KindCache    Kind = "cache"
	KindSession  Kind = "session"
	KindPage     Kind = "page"
	KindReview   Kind = "review"
	KindBatch    Kind = "batch"
	KindQueue    Kind = "queue"
	KindStatus   Kind = "status"
	KindLogs     Kind = "logs"
)

// kindInfo says where a kind lives and whether its key has a second ID.
var kindInfo = map[Kind]struct {
	ns     Namespace
	twoIDs bool
}{
	KindUser:     {NSUsers, false},
	KindProjects: {NSUsers, false},
	KindAPIKeys:  {NSUsers, false},
	KindProject:  {NSProjects, false},
	KindAPIKey:   {NSKeys, false},
	KindEmail:    {NSEmails, false},
	KindCache:    {NSCache, false},
	KindSession:  {NSSessions, false},
	KindPage:     {NSPages, true},
	KindReview:   {NSPages, true},
	KindBatch:    {NSBatches, true},
	KindQueue:    {NSQueue, false},
	KindStatus:   {NSStatus, true},
	KindLogs:     {NSLogs, true},
}

// Namespace returns the namespace a kind's keys live in.
func (k Kind) Namespace() Namespace { return kindInfo[k].ns }

// Key is a parsed KV key: Kind, the primary ID and, for two-part keys
// (page, review, batch, status, logs), the secondary ID.
type Key struct {
	Kind      Kind
	ID        string // user_id, project_id, hash, email, session_id...
	Secondary string // page_id or batch_id for two-part keys
}

// String renders the key.
func (k Key) String() string {
	if kindInfo[k.Kind].twoIDs {
		return string(k.Kind) + ":" + k.ID + ":" + k.Secondary
	}
	return string(k.Kind) + ":" + k.ID
}

// Namespace returns the namespace the key belongs to.
func (k Key) Namespace() Namespace { return k.Kind.Namespace() }

// ParseKey parses any platform key. Single-ID kinds keep everything after the
// first colon as the ID (apikey:sha256:<hex>, email addresses, cache hashes).
func ParseKey(s string) (Key, error) {
	if err := CheckKey(s); err != nil {
		return Key{}, err
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Key{}, fmt.Errorf("key %q: no kind prefix (want kind:id)", s)
	}
	info, known := kindInfo[Kind(kind)]
	if !known {
		return Key{}, fmt.Errorf("key %q: unknown kind %q", s, kind)
	}
	k := Key{Kind: Kind(kind)}
	if info.twoIDs {
		a, b, ok := strings.Cut(rest, ":")
		if !ok || a == "" || b == "" || strings.Contains(b, ":") {
			return Key{}, fmt.Errorf("key %q: want %s:{project_id}:{id}", s, kind)
		}
		k.ID, k.Secondary = a, b
	} else {
		if rest == "" {
			return Key{}, fmt.Errorf("key %q: empty id", s)
		}
		k.ID = rest
	}
	return k, nil
}

// CheckKey rejects empty keys and keys over MaxKeyBytes.
func CheckKey(s string) error {
	if s == "" {
		return errors.New("empty key")
	}
	if len(s) > MaxKeyBytes {
		return fmt.Errorf("key %.40q...: %w (%d bytes)", s, ErrKeyTooLong, len(s))
	}
	return nil
}

// NamespaceOfKey returns the namespace a key belongs to.
func NamespaceOfKey(s string) (Namespace, error) {
	k, err := ParseKey(s)
	if err != nil {
		return "", err
	}
	return k.Namespace(), nil
}

// Key builders, one per pattern of the seed (plus review:).

func UserKey(userID string) string            { return "user:" + userID }
func ProjectsKey(userID string) string        { return "projects:" + userID }
func APIKeysKey(userID string) string         { return "apikeys:" + userID }
func ProjectKey(projectID string) string      { return "project:" + projectID }
func APIKeyKey(keyHash string) string         { return "apikey:" + keyHash }
func EmailKey(email string) string            { return "email:" + email }
func CacheKey(hash string) string             { return "cache:" + hash }
func SessionKey(sessionID string) string      { return "session:" + sessionID }
func QueueKey(projectID string) string        { return "queue:" + projectID }
func PageKey(projectID, pageID string) string { return "page:" + projectID + ":" + pageID }
func ReviewKey(projectID, pageID string) string {
	return "review:" + projectID + ":" + pageID
}
func BatchKey(projectID, batchID string) string {
	return "batch:" + projectID + ":" + batchID
}
func StatusKey(projectID, pageID string) string {
	return "status:" + projectID + ":" + pageID
}
func LogsKey(projectID, pageID string) string { return "logs:" + projectID + ":" + pageID }

// ProjectPrefix returns the listing prefix of a kind's keys within a project,
// e.g. "page:proj_x:" for KindPage. For queue it is the whole key.
func ProjectPrefix(kind Kind, projectID string) string {
	if kind == KindQueue {
		return QueueKey(projectID)
	}
	return string(kind) + ":" + projectID + ":"
}

// ProjectKinds are the kinds that live under a project (pulled per project).
var ProjectKinds = []Kind{KindPage, KindReview, KindBatch, KindQueue, KindStatus, KindLogs}
