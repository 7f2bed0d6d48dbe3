package localstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-desktop/nimbus/model"
)

// FileEntry is the scanner's record of one source file: what it looked like
// when last extracted, so an unchanged file (same size and mtime, or same
// sha256) is not extracted again. Stored in the internal _filesp bucket, in
// a sub-bucket per project (two projects may watch folders with the same
// relative paths), under fileKey (page ID, then the normalised
// source_path); never pushed.
type FileEntry struct {
	SourcePath string `json:"source_path"`
	ProjectID  string `json:"project_id"`
	PageID     string `json:"page_id"`
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	ModTimeNs  int64  `json:"mod_time_ns"`
	// Missing: the file disappeared from the watched folder; the entry (and
	// the page) are kept.
	Missing bool `json:"missing"`
}

// filesBucket returns the project's file index bucket, or nil if the
// project has none yet.
func (t *Tx) filesBucket(projectID string) *bolt.Bucket {
	return t.tx.Bucket(bucketFilesByPage).Bucket([]byte(projectID))
}

// fileKey is the key of sourcePath's entry: the page ID the path maps to,
// NUL, the path. Keyed by page ID, an import (which extracts in page ID
// order) appends to this index as it does to the pages it writes; keyed
// by path, each entry went into a leaf of its own all over the file, and
// the commit of 250 files brought about 16 MB of the file into the
// resident set (every read maps 15 neighbouring pages too). The path
// keeps two paths of one page ID apart.
func fileKey(projectID, sourcePath string) []byte {
	id := model.PageID(projectID, sourcePath)
	k := make([]byte, 0, len(id)+1+len(sourcePath))
	k = append(k, id...)
	k = append(k, 0)
	return append(k, sourcePath...)
}

// fileKeyPath is the source path of a fileKey.
func fileKeyPath(k []byte) ([]byte, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return nil, false
	}
	return k[i+1:], true
}

// File returns the project's index entry of sourcePath; ok is false if it
// has none.
func (t *Tx) File(projectID, sourcePath string) (FileEntry, bool, error) {
	var fe FileEntry
	b := t.filesBucket(projectID)
	if b == nil {
		return fe, false, nil
	}
	v := b.Get(fileKey(projectID, sourcePath))
	if v == nil {
		return fe, false, nil
	}
	fe, err := decodeFileEntry(projectID, []byte(sourcePath), v)
	if err != nil {
		return fe, false, fmt.Errorf("file index entry %s of %s is damaged: %w", sourcePath, projectID, err)
	}
	return fe, true, nil
}

// File index entries are stored in a compact binary form: a rescan of an
// unchanged site reads every entry, and decoding JSON was a fifth of its
// cost. source_path and project_id are in the entry's key and bucket, so
// they are not repeated. Entries written as JSON by earlier versions are still
// read (the first byte tells: '{' is JSON).
//
//	0x01, flags (bit 0: missing), uvarint size, varint mod_time_ns,
//	uvarint len + page_id, uvarint len + sha256 (hex)
const fileEntryV1 = 0x01

func encodeFileEntry(fe FileEntry) []byte {
	b := make([]byte, 0, 2+3*binary.MaxVarintLen64+len(fe.PageID)+len(fe.SHA256))
	var flags byte
	if fe.Missing {
		flags |= 1
	}
	b = append(b, fileEntryV1, flags)
	b = binary.AppendUvarint(b, uint64(fe.Size))
	b = binary.AppendVarint(b, fe.ModTimeNs)
	b = binary.AppendUvarint(b, uint64(len(fe.PageID)))
	b = append(b, fe.PageID...)
	b = binary.AppendUvarint(b, uint64(len(fe.SHA256)))
	b = append(b, fe.SHA256...)
	return b
}

var errFileEntry = errors.New("truncated or unknown encoding")

func decodeFileEntry(projectID string, key, v []byte) (FileEntry, error) {
	var fe FileEntry
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, &fe)
		return fe, err
	}
	if len(v) < 2 || v[0] != fileEntryV1 {
		return fe, errFileEntry
	}
	fe.SourcePath, fe.ProjectID, fe.Missing = string(key), projectID, v[1]&1 != 0
	v = v[2:]
	size, n := binary.Uvarint(v)
	if n <= 0 {
		return fe, errFileEntry
	}
	v = v[n:]
	mtime, n := binary.Varint(v)
	if n <= 0 {
		return fe, errFileEntry
	}
	v = v[n:]
	fe.Size, fe.ModTimeNs = int64(size), mtime
	str := func() (string, bool) {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return "", false
		}
		s := string(v[n : n+int(l)])
		v = v[n+int(l):]
		return s, true
	}
	var ok1, ok2 bool
	fe.PageID, ok1 = str()
	fe.SHA256, ok2 = str()
	if !ok1 || !ok2 || len(v) != 0 || fe.Size < 0 {
		return fe, errFileEntry
	}
	return fe, nil
}

// PutFile writes an index entry. The source path must be normalised
// (model.NormalizeSourcePath) so that lookups from any OS find it.
func (t *Tx) PutFile(fe FileEntry) error {
	switch {
	case fe.SourcePath == "":
		return errors.New("put file entry: empty source_path")
	case model.NormalizeSourcePath(fe.SourcePath) != fe.SourcePath:
		return fmt.Errorf("put file entry %s: source_path is not normalised (want %q)", fe.SourcePath, model.NormalizeSourcePath(fe.SourcePath))
	case fe.ProjectID == "":
		return fmt.Errorf("put file entry %s: empty project_id", fe.SourcePath)
	case fe.Size < 0:
		return fmt.Errorf("put file entry %s: negative size %d", fe.SourcePath, fe.Size)
	}
	v := encodeFileEntry(fe)
	b, err := t.tx.Bucket(bucketFilesByPage).CreateBucketIfNotExists([]byte(fe.ProjectID))
	if err != nil {
		return fmt.Errorf("put file entry %s: index of %s: %w", fe.SourcePath, fe.ProjectID, err)
	}
	if err := b.Put(fileKey(fe.ProjectID, fe.SourcePath), v); err != nil {
		return fmt.Errorf("put file entry %s: %w", fe.SourcePath, err)
	}
	return nil
}

// Files calls fn for every index entry of projectID, in page ID order.
func (t *Tx) Files(projectID string, fn func(FileEntry) error) error {
	b := t.filesBucket(projectID)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		sp, ok := fileKeyPath(k)
		if !ok {
			return fmt.Errorf("file index entry %q of %s is damaged: the key has no source path", k, projectID)
		}
		fe, err := decodeFileEntry(projectID, sp, v)
		if err != nil {
			return fmt.Errorf("file index entry %s of %s is damaged: %w", sp, projectID, err)
		}
		return fn(fe)
	})
}

// migrateFiles moves a schema 1 file index (_files/{project}/{source
// path}) to fileKey order (_filesp), bytes unchanged, in the store's own
// open transaction; the old bucket is removed once every entry is copied.
func migrateFiles(tx *bolt.Tx) error {
	old := tx.Bucket(bucketFiles)
	if old == nil {
		return nil
	}
	dst, err := tx.CreateBucketIfNotExists(bucketFilesByPage)
	if err != nil {
		return fmt.Errorf("create %s: %w", bucketFilesByPage, err)
	}
	err = old.ForEachBucket(func(pid []byte) error {
		to, err := dst.CreateBucketIfNotExists(pid)
		if err != nil {
			return fmt.Errorf("create %s/%s: %w", bucketFilesByPage, pid, err)
		}
		// In key order, so that the new bucket is appended to (random
		// puts of 100,000 entries took 7 s).
		type entry struct{ k, v []byte }
		var es []entry
		err = old.Bucket(pid).ForEach(func(sp, v []byte) error {
			k := fileKey(string(pid), string(sp))
			// nil: a nested bucket (the index never had one). A key too
			// long for bbolt (a path of 32 KB, which no file system
			// gives) is not moved: the scan extracts that file again, and
			// PutFile names it, rather than the store never opening.
			if v != nil && len(k) <= bolt.MaxKeySize {
				es = append(es, entry{k, bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
		to.FillPercent = 0.9
		for _, e := range es {
			if err := to.Put(e.k, e.v); err != nil {
				sp, _ := fileKeyPath(e.k)
				return fmt.Errorf("move file index entry %s of %s: %w", clip(string(sp)), pid, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketFiles); err != nil {
		return fmt.Errorf("remove the old file index %s: %w", bucketFiles, err)
	}
	return nil
}

// File returns the project's index entry of sourcePath; ok is false if it
// has none.
func (s *Store) File(projectID, sourcePath string) (fe FileEntry, ok bool, err error) {
	err = s.view(func(tx *Tx) error {
		fe, ok, err = tx.File(projectID, sourcePath)
		return err
	})
	return fe, ok, err
}

// Files calls fn for every index entry of projectID, in page ID order.
// fn runs inside a read transaction and must not write to the store.
func (s *Store) Files(projectID string, fn func(FileEntry) error) error {
	return s.view(func(tx *Tx) error { return tx.Files(projectID, fn) })
}

// QuarantineEntry is a value that could not be stored (a pulled value that
// fails validation), kept so nothing received is lost and a user or
// developer can inspect it.
type QuarantineEntry struct {
	Seq    uint64          `json:"seq"`
	NS     model.Namespace `json:"ns"`
	Key    string          `json:"key"`
	Value  []byte          `json:"value"` // raw bytes (base64 in JSON: they may not be JSON)
	Reason string          `json:"reason"`
	At     string          `json:"at"`
}

// Quarantine keeps an invalid value aside with the reason it was refused.
// Entries are append-only, oldest first.
func (t *Tx) Quarantine(ns model.Namespace, key string, value []byte, reason string) error {
	b := t.tx.Bucket(bucketQuarantine)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("quarantine %s %s: %w", ns, clip(key), err)
	}
	v, err := json.Marshal(QuarantineEntry{Seq: seq, NS: ns, Key: key, Value: value, Reason: reason, At: model.Now()})
	if err != nil {
		return fmt.Errorf("quarantine %s %s: %w", ns, clip(key), err)
	}
	if err := b.Put(seqKey(seq), v); err != nil {
		return fmt.Errorf("quarantine %s %s: %w", ns, clip(key), err)
	}
	return nil
}

// Quarantined calls fn for every quarantined value, oldest first.
func (s *Store) Quarantined(fn func(QuarantineEntry) error) error {
	return s.view(func(tx *Tx) error {
		return tx.tx.Bucket(bucketQuarantine).ForEach(func(k, v []byte) error {
			var e QuarantineEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("quarantine entry %x is damaged: %w", k, err)
			}
			return fn(e)
		})
	})
}

// Meta returns a non-secret setting (current project, remote namespace ids);
// "" when unset. Secrets (API tokens) never go here.
func (t *Tx) Meta(key string) string {
	return string(t.tx.Bucket(bucketMeta).Get([]byte(key)))
}

// SetMeta writes a non-secret setting. The schema version is not a setting.
func (t *Tx) SetMeta(key, value string) error {
	if key == "" {
		return errors.New("set meta: empty key")
	}
	if key == metaSchemaVersion {
		return fmt.Errorf("set meta %s: reserved for the store itself", key)
	}
	if err := t.tx.Bucket(bucketMeta).Put([]byte(key), []byte(value)); err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}

// Meta returns a non-secret setting; "" when unset.
func (s *Store) Meta(key string) (string, error) {
	var v string
	err := s.view(func(tx *Tx) error {
		v = tx.Meta(key)
		return nil
	})
	return v, err
}

// SetMeta writes a non-secret setting in its own transaction.
func (s *Store) SetMeta(key, value string) error {
	return s.Update(context.Background(), func(tx *Tx) error { return tx.SetMeta(key, value) })
}
