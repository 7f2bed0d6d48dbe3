package localstore

import (
	"fmt"
	"strconv"
	"strings"
)

// metaOutboxLen is the _meta key holding the outbox's entry count and the
// ID of the write transaction that wrote it, "count txid". Counting the
// outbox walks it: 100,000 pages waiting to be pushed are 160 MB of the
// file brought into memory by every "changes waiting" the window shows.
// Every write transaction of this code brings the count up to date before
// it commits; a later transaction that did not (an older Nimbus on the
// same file) leaves an ID behind the last one, and the outbox is counted
// again.
const metaOutboxLen = "outbox_len"

// storedOutboxLen is the kept count, if it is current: written by the last
// committed transaction, or earlier in this one (bbolt's Batch runs several
// callers' functions in one transaction).
func (t *Tx) storedOutboxLen() (int, bool) {
	v := string(t.tx.Bucket(bucketMeta).Get([]byte(metaOutboxLen)))
	ns, ids, ok := strings.Cut(v, " ")
	if !ok {
		return 0, false
	}
	n, err1 := strconv.Atoi(ns)
	id, err2 := strconv.Atoi(ids)
	if err1 != nil || err2 != nil || n < 0 {
		return 0, false
	}
	cur := t.tx.ID()
	if id == cur || (t.tx.Writable() && id == cur-1) {
		return n, true
	}
	return 0, false
}

// countOutbox counts the outbox's entries by walking it (a cursor: Stats
// does not see a write transaction's own changes).
func (t *Tx) countOutbox() int {
	n := 0
	c := t.tx.Bucket(bucketOutbox).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// noteOutbox brings the kept count up to date in a write transaction about
// to commit.
func (t *Tx) noteOutbox() error {
	if !t.tx.Writable() {
		return nil
	}
	n, ok := t.storedOutboxLen()
	if ok {
		n += t.outboxDelta
	} else {
		n = t.countOutbox() // this transaction's entries included
	}
	t.outboxDelta = 0
	return t.putOutboxLen(n)
}

// putOutboxLen keeps n as the count this transaction leaves.
func (t *Tx) putOutboxLen(n int) error {
	if err := t.tx.Bucket(bucketMeta).Put([]byte(metaOutboxLen), []byte(fmt.Sprintf("%d %d", n, t.tx.ID()))); err != nil {
		return fmt.Errorf("note the outbox length: %w", err)
	}
	return nil
}
