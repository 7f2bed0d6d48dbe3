package localstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-desktop/nimbus/model"
)

// SyncState is what the store knows about one key's sync with the remote.
// It lives in the internal _sync bucket and is never pushed.
type SyncState struct {
	// LocalHash is model.ValueHash of the stored value ("" if none).
	LocalHash string `json:"local_hash"`
	// RemoteHash is the hash of the value last seen on (or pushed to) the
	// remote ("" if unknown).
	RemoteHash string `json:"remote_hash"`
	// Dirty: the local value carries intent the remote lacks; it is in the
	// outbox.
	Dirty bool `json:"dirty"`
	// Seq is the outbox sequence of the key's pending entry (0: none).
	Seq uint64 `json:"seq"`
	// RecheckAfter: the remote value was refused and carried no metadata
	// hash, so a listing cannot tell when it changes; the pull reads it
	// again only after this time (model.TimeLayout; "" for never refused).
	RecheckAfter string `json:"recheck_after,omitempty"`
}

// OutboxEntry is one key waiting to be pushed. Entries are ordered by Seq;
// a key has at most one pending entry.
type OutboxEntry struct {
	Seq  uint64          `json:"seq"`
	NS   model.Namespace `json:"ns"`
	Key  string          `json:"key"`
	Hash string          `json:"hash"` // local hash at the last local write
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func (t *Tx) syncBucket(ns model.Namespace) (*bolt.Bucket, error) {
	if err := checkNS(ns); err != nil {
		return nil, err
	}
	b := t.tx.Bucket(bucketSync).Bucket([]byte(ns))
	if b == nil {
		return nil, fmt.Errorf("bucket %s/%s missing: the store file is damaged", bucketSync, ns)
	}
	return b, nil
}

// SyncState returns the key's sync state; ok is false when the store has
// never recorded one (the zero state).
func (t *Tx) SyncState(ns model.Namespace, key string) (st SyncState, ok bool, err error) {
	b, err := t.syncBucket(ns)
	if err != nil {
		return st, false, fmt.Errorf("sync state of %s %s: %w", ns, key, err)
	}
	v := b.Get([]byte(key))
	if v == nil {
		return st, false, nil
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, false, fmt.Errorf("sync state of %s %s is damaged: %w", ns, key, err)
	}
	return st, true, nil
}

func (t *Tx) putState(ns model.Namespace, key string, st SyncState) error {
	b, err := t.syncBucket(ns)
	if err != nil {
		return fmt.Errorf("write sync state of %s %s: %w", ns, key, err)
	}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("write sync state of %s %s: %w", ns, key, err)
	}
	if err := b.Put([]byte(key), v); err != nil {
		return fmt.Errorf("write sync state of %s %s: %w", ns, key, err)
	}
	return nil
}

// enqueue makes sure the key has one pending outbox entry carrying
// st.LocalHash, appending one at the end if it has none.
func (t *Tx) enqueue(ns model.Namespace, key string, st *SyncState) error {
	ob := t.tx.Bucket(bucketOutbox)
	// Outbox keys are a sequence: new entries always go at the end, so
	// full leaves (bbolt's advice for append-only buckets) write half the
	// pages a bulk write would otherwise leave half empty.
	ob.FillPercent = 0.95
	if st.Seq != 0 && ob.Get(seqKey(st.Seq)) == nil {
		st.Seq = 0 // entry gone (should not happen); append a fresh one
	}
	if st.Seq == 0 {
		seq, err := ob.NextSequence()
		if err != nil {
			return fmt.Errorf("outbox %s %s: %w", ns, key, err)
		}
		st.Seq = seq
		t.outboxDelta++
	}
	v, err := json.Marshal(OutboxEntry{Seq: st.Seq, NS: ns, Key: key, Hash: st.LocalHash})
	if err != nil {
		return fmt.Errorf("outbox %s %s: %w", ns, key, err)
	}
	if err := ob.Put(seqKey(st.Seq), v); err != nil {
		return fmt.Errorf("outbox %s %s: %w", ns, key, err)
	}
	return nil
}

// dequeue removes the key's pending outbox entry, if any. Outbox entries are
// bookkeeping, not records: removing one deletes no data.
func (t *Tx) dequeue(st *SyncState) error {
	if st.Seq == 0 {
		return nil
	}
	ob := t.tx.Bucket(bucketOutbox)
	if ob.Get(seqKey(st.Seq)) != nil {
		if err := ob.Delete(seqKey(st.Seq)); err != nil {
			return fmt.Errorf("outbox entry %d: %w", st.Seq, err)
		}
		t.outboxDelta--
	}
	st.Seq = 0
	return nil
}

// AckPush records that the remote now holds the value with pushedHash:
// remote_hash = pushedHash, and if that is still the local value, the key
// is clean and its outbox entry is removed. A local write made after the
// push was read (local_hash differs) stays dirty and pending.
func (t *Tx) AckPush(ns model.Namespace, key, pushedHash string) error {
	if err := checkKey(ns, key); err != nil {
		return fmt.Errorf("ack push %s %s: %w", ns, clip(key), err)
	}
	if pushedHash == "" {
		return fmt.Errorf("ack push %s %s: empty hash", ns, key)
	}
	st, _, err := t.SyncState(ns, key)
	if err != nil {
		return err
	}
	st.RemoteHash = pushedHash
	if st.LocalHash == pushedHash {
		st.Dirty = false
		if err := t.dequeue(&st); err != nil {
			return fmt.Errorf("ack push %s %s: %w", ns, key, err)
		}
	}
	return t.putState(ns, key, st)
}

// SetRemoteHash records the remote value's hash as seen in a key listing.
// When it equals the local hash the remote already has the local value, so
// the key is clean and nothing needs pushing (pushing unchanged pages costs
// no writes).
func (t *Tx) SetRemoteHash(ns model.Namespace, key, hash string) error {
	if err := checkKey(ns, key); err != nil {
		return fmt.Errorf("set remote hash %s %s: %w", ns, clip(key), err)
	}
	st, ok, err := t.SyncState(ns, key)
	if err != nil {
		return err
	}
	if ok && st.RemoteHash == hash {
		return nil
	}
	st.RemoteHash = hash
	if hash != "" && st.LocalHash == hash {
		st.Dirty = false
		if err := t.dequeue(&st); err != nil {
			return fmt.Errorf("set remote hash %s %s: %w", ns, key, err)
		}
	}
	return t.putState(ns, key, st)
}

// RefuseRemote records that the remote holds a copy of key the pull
// refused (its hash remoteHash), so the same copy is not fetched again.
// With repair, and a local value, the key becomes dirty and queued: the
// next push writes the local value back over the bad copy (the Worker and
// other editors would otherwise keep reading garbage). recheckAfter
// (model.TimeLayout, "" for none) is for a copy without a metadata hash:
// the pull skips it until then.
func (t *Tx) RefuseRemote(ns model.Namespace, key, remoteHash, recheckAfter string, repair bool) error {
	if err := checkKey(ns, key); err != nil {
		return fmt.Errorf("refuse remote %s %s: %w", ns, clip(key), err)
	}
	st, _, err := t.SyncState(ns, key)
	if err != nil {
		return err
	}
	st.RemoteHash = remoteHash
	st.RecheckAfter = recheckAfter
	if repair && st.LocalHash != "" && st.LocalHash != remoteHash {
		st.Dirty = true
		if err := t.enqueue(ns, key, &st); err != nil {
			return err
		}
	}
	return t.putState(ns, key, st)
}

// SyncStates calls fn for the sync state of every key of ns starting with
// prefix, in key order (including keys only known from a remote listing).
func (t *Tx) SyncStates(ns model.Namespace, prefix string, fn func(key string, st SyncState) error) error {
	b, err := t.syncBucket(ns)
	if err != nil {
		return fmt.Errorf("sync states of %s: %w", ns, err)
	}
	p := []byte(prefix)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		var st SyncState
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("sync state of %s %s is damaged: %w", ns, k, err)
		}
		if err := fn(string(k), st); err != nil {
			return err
		}
	}
	return nil
}

// Outbox returns up to limit pending entries (all when limit <= 0), oldest
// first.
func (t *Tx) Outbox(limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	c := t.tx.Bucket(bucketOutbox).Cursor()
	for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		var e OutboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("outbox entry %x is damaged: %w", k, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// OutboxLen returns how many keys wait to be pushed: the kept count
// (outboxlen.go), or a walk of the outbox when it is not current.
func (t *Tx) OutboxLen() int {
	if n, ok := t.storedOutboxLen(); ok {
		return n + t.outboxDelta
	}
	return t.countOutbox()
}

// SyncState returns the key's sync state; ok is false when none is recorded.
func (s *Store) SyncState(ns model.Namespace, key string) (st SyncState, ok bool, err error) {
	err = s.view(func(tx *Tx) error {
		st, ok, err = tx.SyncState(ns, key)
		return err
	})
	return st, ok, err
}

// SyncStates calls fn for the sync state of every key of ns with prefix. fn
// runs inside a read transaction and must not write to the store.
func (s *Store) SyncStates(ns model.Namespace, prefix string, fn func(key string, st SyncState) error) error {
	return s.view(func(tx *Tx) error { return tx.SyncStates(ns, prefix, fn) })
}

// Outbox returns up to limit pending entries (all when limit <= 0), oldest
// first.
func (s *Store) Outbox(limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view(func(tx *Tx) error {
		var err error
		out, err = tx.Outbox(limit)
		return err
	})
	return out, err
}

// OutboxLen returns how many keys wait to be pushed ("N changes waiting").
func (s *Store) OutboxLen() (int, error) {
	n := 0
	err := s.view(func(tx *Tx) error {
		n = tx.OutboxLen()
		return nil
	})
	return n, err
}

// AckPush runs Tx.AckPush in its own transaction.
func (s *Store) AckPush(ns model.Namespace, key, pushedHash string) error {
	return s.Update(context.Background(), func(tx *Tx) error { return tx.AckPush(ns, key, pushedHash) })
}

// SetRemoteHash runs Tx.SetRemoteHash in its own transaction.
func (s *Store) SetRemoteHash(ns model.Namespace, key, hash string) error {
	return s.Update(context.Background(), func(tx *Tx) error { return tx.SetRemoteHash(ns, key, hash) })
}
