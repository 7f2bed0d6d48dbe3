// Package localstore owns the desktop's local mirror of the platform's
// Workers KV data: one bbolt file holding a bucket per NIMBUS_* namespace
// (keys and JSON values byte-for-byte as they are, or will be, in KV), plus
// internal buckets that are never pushed: per-key sync state, the ordered
// outbox of local changes waiting to be pushed, the file index the folder
// scanner uses for change detection, a quarantine for invalid pulled values,
// and settings/meta (including the schema version).
//
// Every write validates the value with the model package and runs in one
// bbolt transaction per logical operation; change events are published to
// subscribers after the commit and never block the writer. Records are never
// deleted: the API has no delete on purpose (deactivate or supersede instead).
package localstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/nimbus-desktop/nimbus/model"
)

// SchemaVersion is the layout version of the store file this code writes.
// A file with a higher version was written by a newer Nimbus and is refused
// rather than silently misread.
const SchemaVersion = 2

// lockTimeout bounds how long Open waits for the file lock: a second Nimbus
// window must fail fast with a clear message, not hang.
const lockTimeout = time.Second

// Sentinel errors callers branch on (errors.Is).
var (
	// ErrNotFound: the key has no value in the namespace.
	ErrNotFound = errors.New("not found")
	// ErrLocked: another process (another Nimbus window) holds the store.
	ErrLocked = errors.New("store is locked by another process")
	// ErrSchemaTooNew: the file was written by a newer Nimbus.
	ErrSchemaTooNew = errors.New("store schema is newer than this Nimbus")
	// ErrUnknownNamespace: the namespace is not one of model.Namespaces.
	ErrUnknownNamespace = errors.New("unknown namespace")
	// ErrWrongNamespace: the key's kind lives in another namespace.
	ErrWrongNamespace = errors.New("key belongs to another namespace")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
)

// LockedError is returned by Open when another process holds the store. Its
// message is the one shown to the user; errors.Is(err, ErrLocked) is true.
type LockedError struct{ Path string }

func (e *LockedError) Error() string {
	return "the store " + e.Path + " is open in another Nimbus window"
}

// Unwrap makes errors.Is(err, ErrLocked) work.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Internal bucket names. They start with "_" so they can never collide with
// a namespace (NIMBUS_...).
var (
	bucketSync        = []byte("_sync")
	bucketOutbox      = []byte("_outbox")
	bucketFiles       = []byte("_files") // schema 1's file index, moved to _filesp on open
	bucketFilesByPage = []byte("_filesp")
	bucketQuarantine  = []byte("_quarantine")
	bucketMeta        = []byte("_meta")
)

// metaSchemaVersion is the _meta key holding SchemaVersion.
const metaSchemaVersion = "schema_version"

// Store is an open local store. It is safe for concurrent use.
type Store struct {
	db      *bolt.DB
	path    string
	bus     *bus
	indexer Indexer
	mapPath string // path, absolute with symlinks resolved, as /proc/self/maps shows it
}

// DefaultPath returns where the store lives when no --store flag is given:
// $NIMBUS_STORE if set, else nimbus/nimbus.db under the user's data
// directory ($XDG_DATA_HOME or ~/.local/share on Linux and other Unixes,
// ~/Library/Application Support on macOS, %LocalAppData% on Windows).
func DefaultPath() (string, error) {
	if p := os.Getenv("NIMBUS_STORE"); p != "" {
		return p, nil
	}
	dir, err := dataDir()
	if err != nil {
		return "", fmt.Errorf("locate the store: %w (set NIMBUS_STORE or --store)", err)
	}
	return filepath.Join(dir, "nimbus", "nimbus.db"), nil
}

func dataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return d, nil
		}
		return "", errors.New("%LocalAppData% is not set")
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Application Support"), nil
	}
	// XDG Base Directory spec: relative values are invalid and ignored.
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share"), nil
}

// Open opens (creating if needed) the store at path. The parent directory is
// created 0700 and the file 0600: the store holds the user's data. If another
// process holds the file, Open gives up after one second with a *LockedError.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: create its directory: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, InitialMmapSize: initialMmapSize()})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, &LockedError{Path: path}
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := db.Update(initBuckets); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	mapPath, err := filepath.Abs(path)
	if err == nil {
		if p, err := filepath.EvalSymlinks(mapPath); err == nil {
			mapPath = p
		}
	}
	return &Store{db: db, path: path, bus: newBus(), mapPath: mapPath}, nil
}

// initialMmapSize is the address space mapped for the file when it is
// opened. bbolt starts at 32 KiB and doubles the mapping as the file grows;
// each remap inside a write transaction copies every node that transaction
// touched out of the old mapping (Bucket.dereference), which was a third of
// the store's CPU time in a first import (BenchmarkImport). Reserving 256 MiB
// up front costs only address space on 64-bit systems, where the mapping
// does not grow the file. On Windows bbolt grows the file to the mapping
// size, and 32-bit systems lack the address space, so there the default
// stays.
func initialMmapSize() int {
	if runtime.GOOS == "windows" || strconv.IntSize < 64 {
		return 0
	}
	return 256 << 20
}

// initBuckets creates every bucket a fresh file needs and checks the schema
// version of an existing one.
func initBuckets(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create %s: %w", bucketMeta, err)
	}
	stored := 0 // a new file
	if v := meta.Get([]byte(metaSchemaVersion)); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("%s %q in %s is not a number: the file is damaged or not a Nimbus store", metaSchemaVersion, v, bucketMeta)
		}
		if n > SchemaVersion {
			return fmt.Errorf("%w: the file has schema version %d, this Nimbus understands up to %d; update Nimbus", ErrSchemaTooNew, n, SchemaVersion)
		}
		stored = n
	}
	if stored < 2 {
		// 2: the file index is keyed by page ID (files.go).
		if err := migrateFiles(tx); err != nil {
			return err
		}
	}
	if stored != SchemaVersion {
		if err := meta.Put([]byte(metaSchemaVersion), []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return fmt.Errorf("write %s: %w", metaSchemaVersion, err)
		}
	}
	// This transaction is the store's own: it keeps the index current
	// when it was (IndexCurrent).
	if v := meta.Get([]byte(metaIndexTxID)); v != nil && string(v) == strconv.Itoa(tx.ID()-1) {
		if err := meta.Put([]byte(metaIndexTxID), []byte(strconv.Itoa(tx.ID()))); err != nil {
			return fmt.Errorf("write %s: %w", metaIndexTxID, err)
		}
	}
	ot := &Tx{tx: tx} // the kept outbox count is carried too, when current (outboxlen.go)
	if n, ok := ot.storedOutboxLen(); ok {
		if err := ot.putOutboxLen(n); err != nil {
			return err
		}
	}
	syncB, err := tx.CreateBucketIfNotExists(bucketSync)
	if err != nil {
		return fmt.Errorf("create %s: %w", bucketSync, err)
	}
	for _, ns := range model.Namespaces {
		if _, err := tx.CreateBucketIfNotExists([]byte(ns)); err != nil {
			return fmt.Errorf("create bucket %s: %w", ns, err)
		}
		if _, err := syncB.CreateBucketIfNotExists([]byte(ns)); err != nil {
			return fmt.Errorf("create %s/%s: %w", bucketSync, ns, err)
		}
	}
	for _, name := range [][]byte{bucketOutbox, bucketFilesByPage, bucketQuarantine, bucketRefused, bucketIndex} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes every event subscription and the file, releasing the lock.
func (s *Store) Close() error {
	s.bus.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// checkNS rejects namespaces that are not one of the eleven.
func checkNS(ns model.Namespace) error {
	if !ns.Valid() {
		return fmt.Errorf("%w %q (want one of NIMBUS_USERS, NIMBUS_PAGES, ...)", ErrUnknownNamespace, ns)
	}
	return nil
}

// checkKey rejects keys that are too long, unparsable, or that belong to
// another namespace than ns (a status: key must never land in NIMBUS_PAGES).
func checkKey(ns model.Namespace, key string) error {
	if err := checkNS(ns); err != nil {
		return err
	}
	got, err := model.NamespaceOfKey(key)
	if err != nil {
		return err
	}
	if got != ns {
		return fmt.Errorf("%w: %s keys live in %s, not %s", ErrWrongNamespace, keyKind(key), got, ns)
	}
	return nil
}

func keyKind(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx *Tx) error) error {
	return s.wrapDBErr(s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, path: s.mapPath, store: s}) }))
}

// Get returns a copy of the value of key in ns, or an error matching
// ErrNotFound.
func (s *Store) Get(ns model.Namespace, key string) ([]byte, error) {
	var v []byte
	err := s.view(func(tx *Tx) error {
		var err error
		v, err = tx.Get(ns, key)
		return err
	})
	return v, err
}

// List calls fn for every key of ns starting with prefix, in key order. The
// value is a copy fn may keep. fn runs inside a read transaction, so it must
// not write to the store (that can deadlock when the file has to grow);
// collect what to write and write after List returns.
func (s *Store) List(ns model.Namespace, prefix string, fn func(key string, value []byte) error) error {
	return s.view(func(tx *Tx) error { return tx.List(ns, prefix, fn) })
}

// Walk is List without the copy, for a reader that skips or decodes most
// values: value is only valid while fn runs (fn must not keep it, and must
// not write to the store).
func (s *Store) Walk(ns model.Namespace, prefix string, fn func(key string, value []byte) error) error {
	return s.view(func(tx *Tx) error {
		return tx.scan(ns, prefix, func(k, v []byte) error { return fn(string(k), v) })
	})
}

// Keys returns the keys of ns starting with prefix, in key order.
func (s *Store) Keys(ns model.Namespace, prefix string) ([]string, error) {
	var keys []string
	err := s.view(func(tx *Tx) error {
		return tx.scan(ns, prefix, func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	return keys, err
}

// Count returns how many keys of ns start with prefix.
func (s *Store) Count(ns model.Namespace, prefix string) (int, error) {
	n := 0
	err := s.view(func(tx *Tx) error {
		var err error
		n, err = tx.Count(ns, prefix)
		return err
	})
	return n, err
}
