package localstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/nimbus-desktop/nimbus/model"
)

// Tx is one store transaction: every read and write of a logical operation
// (read-modify-write of a record, its sync state and outbox entry) happens
// in it atomically. A Tx is only valid inside the function it was passed to.
type Tx struct {
	tx     *bolt.Tx
	path   string // the file as the OS names its mapping (ReleaseMapped)
	store  *Store
	events []Event
	seen   map[Event]struct{}

	// the pages whose page, review or status record this Tx wrote since
	// the Indexer last ran, and the typed records their writers passed
	touched      map[PageRef]struct{}
	touchedOrder []PageRef
	recs         map[string]any
	changed      map[string]struct{}

	outboxDelta int // outbox entries added less those removed, not yet in the kept count
}

// Update runs fn in one read-write transaction. If fn returns an error, or
// ctx is cancelled before the commit, nothing is written. Change events are
// published to subscribers only after a successful commit.
func (s *Store) Update(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %s: update not started: %w", s.path, err)
	}
	var t *Tx
	err := s.db.Update(func(btx *bolt.Tx) error {
		t = &Tx{tx: btx, path: s.mapPath, store: s}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.beforeCommit(s); err != nil {
			return err
		}
		// A caller that gave up while fn ran does not want the change.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store %s: update cancelled, nothing written: %w", s.path, err)
		}
		return nil
	})
	if err != nil {
		return s.wrapDBErr(err)
	}
	s.bus.publish(t.events)
	return nil
}

// beforeCommit brings what every write keeps up to date, last thing before
// the commit (Update, Batch, WriteTx.Commit): the page index, the note
// that the indexer ran, the outbox count.
func (t *Tx) beforeCommit(s *Store) error {
	if err := t.runIndexer(s); err != nil {
		return err
	}
	if err := t.noteIndexed(s); err != nil {
		return err
	}
	return t.noteOutbox()
}

// Batch runs fn in a transaction shared with other concurrent Batch calls
// (bbolt DB.Batch): fewer fsyncs for bulk imports written from several
// goroutines. fn may be called more than once (when another call in the same
// batch fails, bbolt reruns fn alone), so fn must be idempotent: no side
// effects outside the Tx, or side effects that are safe to repeat. A single
// goroutine gains nothing from Batch (each call waits for the batch delay);
// it should group its writes into Update calls of a few hundred records.
func (s *Store) Batch(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store %s: batch not started: %w", s.path, err)
	}
	// Only the events of the run that committed are published: each run
	// starts from an empty list.
	var t *Tx
	err := s.db.Batch(func(btx *bolt.Tx) error {
		t = &Tx{tx: btx, path: s.mapPath, store: s}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.beforeCommit(s); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store %s: batch cancelled, nothing written: %w", s.path, err)
		}
		return nil
	})
	if err != nil {
		return s.wrapDBErr(err)
	}
	s.bus.publish(t.events)
	return nil
}

func (s *Store) wrapDBErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("store %s: %w", s.path, ErrClosed)
	}
	return err
}

// emit records a change event, once per (namespace, key, origin) per Tx.
func (t *Tx) emit(ev Event) {
	if t.seen == nil {
		t.seen = make(map[Event]struct{})
	}
	if _, dup := t.seen[ev]; dup {
		return
	}
	t.seen[ev] = struct{}{}
	t.events = append(t.events, ev)
}

func (t *Tx) nsBucket(ns model.Namespace) (*bolt.Bucket, error) {
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	b := t.tx.Bucket([]byte(ns))
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing: the store file is damaged", ns)
	}
	return b, nil
}

// Get returns a copy of the value of key in ns, or an error matching
// ErrNotFound.
func (t *Tx) Get(ns model.Namespace, key string) ([]byte, error) {
	b, err := t.nsBucket(ns)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", ns, key, err)
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, fmt.Errorf("get %s %s: %w", ns, key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// List calls fn for every key of ns starting with prefix, in key order, with
// a copy of the value.
func (t *Tx) List(ns model.Namespace, prefix string, fn func(key string, value []byte) error) error {
	return t.scan(ns, prefix, func(k, v []byte) error {
		return fn(string(k), bytes.Clone(v))
	})
}

// Count is the number of keys of ns starting with prefix (values are not
// copied).
func (t *Tx) Count(ns model.Namespace, prefix string) (int, error) {
	n := 0
	err := t.scan(ns, prefix, func(_, _ []byte) error {
		n++
		return nil
	})
	return n, err
}

// scanReleaseBytes is how much of the file a walk reads between two
// ReleaseMapped calls.
const scanReleaseBytes = 4 << 20

// scan walks the keys of ns with prefix; k and v are only valid during fn.
func (t *Tx) scan(ns model.Namespace, prefix string, fn func(k, v []byte) error) error {
	b, err := t.nsBucket(ns)
	if err != nil {
		return fmt.Errorf("list %s %q: %w", ns, prefix, err)
	}
	p := []byte(prefix)
	c := b.Cursor()
	read := 0
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
		// A long walk maps the file as it goes, with 16 neighbours of every
		// page it touches: the Data screen's count of 100,000 page records
		// left the whole 1.2 GB file in the resident set. k and v are used.
		if read += len(k) + len(v) + 64; read >= scanReleaseBytes {
			t.ReleaseMapped()
			read = 0
		}
	}
	return nil
}

// MaxValueBytes is Workers KV's value size limit (25 MiB). A larger value
// could never be pushed, so it is refused when written.
const MaxValueBytes = 25 << 20

// ErrValueTooLarge: the value is over MaxValueBytes.
var ErrValueTooLarge = errors.New("value larger than KV allows")

// clip shortens over-long keys in messages (a 10 kB key is not helpful).
func clip(key string) string {
	if len(key) <= 80 {
		return key
	}
	return strings.ToValidUTF8(key[:80], "") + "..."
}

// PutLocal stores a value the user (editor, import, CLI) intends: it is
// validated, and unless the bytes are identical to what is stored (then it
// is a no-op: no outbox entry, no event), the key's sync state becomes
// dirty with local_hash = sha256(value) and the key gets one pending outbox
// entry. A key that already has a pending entry keeps it (and its place in
// the push order); the entry's hash is updated.
func (t *Tx) PutLocal(ns model.Namespace, key string, value []byte) error {
	p, err := prepare(ns, key, bytes.Clone(value), nil, true)
	if err != nil {
		return err
	}
	return t.PutPrepared(p)
}

// PutLocalRecord is PutLocal for a caller that holds the typed record: rec
// (a pointer to the model type of key's kind; another type is
// model.ErrRecordType) is validated with model.ValidateRecord instead of
// decoding value again. value must be model.Canonical(rec) (or bytes a test
// pins to it).
func (t *Tx) PutLocalRecord(ns model.Namespace, key string, value []byte, rec any) error {
	p, err := prepare(ns, key, bytes.Clone(value), rec, false)
	if err != nil {
		return err
	}
	return t.PutPrepared(p)
}

// Prepared is a local write validated and hashed ahead of its transaction:
// Prepare does the CPU work (checks, sha256) on whatever goroutine the
// caller likes (the import does it on its extraction workers, in parallel),
// so that the write transaction, which is serial, only stores bytes. A
// Prepared owns its value: the caller must not modify the slice afterwards.
type Prepared struct {
	ns    model.Namespace
	key   string
	value []byte
	hash  string
	rec   any // the typed record value encodes, when the caller gave it
}

// Key is the key the write is for.
func (p Prepared) Key() string { return p.key }

// Prepare validates a local write of value (model.Canonical(rec)) to key
// in ns as PutLocalRecord does, and hashes it. rec is a pointer to the
// model type of key's kind; a value without a model type (rec nil, or a
// type ValidateRecord does not know) is validated by decoding value.
func Prepare(ns model.Namespace, key string, value []byte, rec any) (Prepared, error) {
	return prepare(ns, key, value, rec, true)
}

// prepare is Prepare; decodeOthers says whether a rec of no known type is
// validated by decoding value (else it is model.ErrRecordType).
func prepare(ns model.Namespace, key string, value []byte, rec any, decodeOthers bool) (Prepared, error) {
	if err := checkKey(ns, key); err != nil {
		return Prepared{}, fmt.Errorf("put %s %s: %w", ns, clip(key), err)
	}
	if len(value) > MaxValueBytes {
		return Prepared{}, fmt.Errorf("put %s %s: %w (%d bytes, KV allows 25 MiB)", ns, key, ErrValueTooLarge, len(value))
	}
	err := model.ErrRecordType
	if rec != nil {
		err = model.ValidateRecord(key, rec)
	}
	if decodeOthers && errors.Is(err, model.ErrRecordType) {
		err = model.ValidateValue(key, value)
	}
	if err != nil {
		return Prepared{}, fmt.Errorf("put %s %s: %w", ns, key, err)
	}
	return Prepared{ns: ns, key: key, value: value, hash: model.ValueHash(value), rec: rec}, nil
}

// PutPrepared is PutLocal for a write Prepare checked: the same outcome
// (no-op for identical bytes, else dirty sync state and one pending outbox
// entry), without validating or hashing again.
func (t *Tx) PutPrepared(p Prepared) error {
	if p.key == "" {
		return errors.New("put prepared: not made by Prepare")
	}
	// The Tx keeps the value until the commit (the Prepared hands it over).
	ns, key, value, hash := p.ns, p.key, p.value, p.hash
	b, err := t.nsBucket(ns)
	if err != nil {
		return err
	}
	k := []byte(key)
	if bytes.Equal(b.Get(k), value) {
		return nil
	}
	if err := b.Put(k, value); err != nil {
		return fmt.Errorf("put %s %s: %w", ns, key, err)
	}
	st, _, err := t.SyncState(ns, key)
	if err != nil {
		return err
	}
	st.LocalHash = hash
	st.Dirty = true
	if err := t.enqueue(ns, key, &st); err != nil {
		return err
	}
	if err := t.putState(ns, key, st); err != nil {
		return err
	}
	t.touch(ns, key, p.rec)
	t.emit(Event{NS: ns, Key: key})
	return nil
}

// PutRemote stores a value that came from the remote (already merged with
// the local one by the caller, in this same Tx). remoteHash is the hash of
// the value the remote holds now. The key is dirty, and has a pending outbox
// entry, exactly when the stored value differs from the remote one (the
// merge kept local intent the remote lacks); otherwise any pending entry is
// removed because the remote already has this value.
func (t *Tx) PutRemote(ns model.Namespace, key string, value []byte, remoteHash string) error {
	p, err := prepare(ns, key, value, nil, true)
	if err != nil {
		return err
	}
	if remoteHash == "" {
		return fmt.Errorf("put remote %s %s: empty remote hash", ns, key)
	}
	b, err := t.nsBucket(ns)
	if err != nil {
		return err
	}
	k := []byte(key)
	changed := !bytes.Equal(b.Get(k), value)
	if changed {
		if err := b.Put(k, bytes.Clone(value)); err != nil {
			return fmt.Errorf("put remote %s %s: %w", ns, key, err)
		}
	}
	st, _, err := t.SyncState(ns, key)
	if err != nil {
		return err
	}
	st.LocalHash = p.hash
	st.RemoteHash = remoteHash
	st.Dirty = st.LocalHash != remoteHash
	if st.Dirty {
		err = t.enqueue(ns, key, &st)
	} else {
		err = t.dequeue(&st)
	}
	if err != nil {
		return err
	}
	if err := t.putState(ns, key, st); err != nil {
		return err
	}
	if changed {
		t.touch(ns, key, nil)
		t.emit(Event{NS: ns, Key: key, Remote: true})
	}
	return nil
}

// PutJSON stores v's canonical JSON (model.Canonical) as a local write.
func (t *Tx) PutJSON(ns model.Namespace, key string, v any) error {
	value := model.Canonical(v)
	// A model record (value or pointer) is validated as it is, without
	// decoding the bytes just encoded; anything else goes through PutLocal.
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		rv = p
	}
	p, err := Prepare(ns, key, value, rv.Interface())
	if err != nil {
		return err
	}
	return t.PutPrepared(p) // value is ours: no copy
}
