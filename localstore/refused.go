package localstore

import (
	"encoding/json"
	"fmt"

	"github.com/nimbus-desktop/nimbus/model"
)

// bucketRefused remembers remote keys that can never be stored here (no
// kind prefix, an empty id, extra segments, a kind of another namespace):
// the pull refuses each once, keeps a quarantine entry, and from then on
// skips it without a read or a log line. Keys are ns + "\x00" + key.
var bucketRefused = []byte("_refused")

// RefusedKey is what is remembered of a refused remote key.
type RefusedKey struct {
	NS model.Namespace `json:"ns"`
	// Key is the remote key as listed.
	Key string `json:"key"`
	// Hash is the metadata hash the listing showed ("" without metadata).
	Hash   string `json:"hash,omitempty"`
	Reason string `json:"reason"`
	At     string `json:"at"`
}

// CheckKey reports why key cannot be stored in namespace ns (nil when it
// can): the same rule every write here applies.
func CheckKey(ns model.Namespace, key string) error { return checkKey(ns, key) }

func refusedID(ns model.Namespace, key string) []byte {
	return append(append([]byte(ns), 0), key...)
}

// Refused returns what is remembered of a refused key of ns.
func (t *Tx) Refused(ns model.Namespace, key string) (RefusedKey, bool, error) {
	b := t.tx.Bucket(bucketRefused)
	v := b.Get(refusedID(ns, key))
	if v == nil {
		return RefusedKey{}, false, nil
	}
	var r RefusedKey
	if err := json.Unmarshal(v, &r); err != nil {
		return RefusedKey{}, false, fmt.Errorf("refused key %s %s: damaged entry: %w", ns, clip(key), err)
	}
	return r, true, nil
}

// Refused is Tx.Refused in a read transaction.
func (s *Store) Refused(ns model.Namespace, key string) (r RefusedKey, ok bool, err error) {
	err = s.view(func(tx *Tx) error {
		r, ok, err = tx.Refused(ns, key)
		return err
	})
	return r, ok, err
}

// Refuse remembers a remote key that cannot be stored.
func (t *Tx) Refuse(r RefusedKey) error {
	if err := checkNS(r.NS); err != nil {
		return err
	}
	if r.At == "" {
		r.At = model.Now()
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketRefused).Put(refusedID(r.NS, r.Key), v); err != nil {
		return fmt.Errorf("refuse key %s %s: %w", r.NS, clip(r.Key), err)
	}
	return nil
}

// RefusedKeys calls fn for every refused remote key, by namespace and key.
func (s *Store) RefusedKeys(fn func(RefusedKey) error) error {
	return s.view(func(tx *Tx) error {
		return tx.tx.Bucket(bucketRefused).ForEach(func(k, v []byte) error {
			var r RefusedKey
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("refused key entry %q is damaged: %w", k, err)
			}
			return fn(r)
		})
	})
}
