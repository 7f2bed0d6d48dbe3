package workspace

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func deleteIndexPrefix(t *testing.T, path, prefix string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("_index"))
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if strings.HasPrefix(string(k), prefix) {
				keys = append(keys, append([]byte(nil), k...))
			}
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// rawPut writes key in bucket ns as a Nimbus from before the index would
// (its localstore has no indexer hook and does not know index_version).
func rawPut(t *testing.T, path, ns, key string, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(ns)).Put([]byte(key), value) }); err != nil {
		t.Fatal(err)
	}
}
