package model

import (
	"bytes"
	"fmt"
	"sort"
	"time"
)

// Merge functions (DESIGN.md section 4). KV has no compare-and-swap, so the
// desktop and the Worker both merge the remote value with their own before
// every write. Every merge here is built from maxima and minima over total
// orders (timestamps compared as instants, ties broken by canonical bytes)
// and set unions, which makes it commutative, associative and idempotent:
// replicas that have seen the same writes hold the same bytes, whatever the
// order the writes arrived in. Two documented exceptions (page optimization
// after a content revert, batch status when pages are added to a finished
// batch) are described on MergePageData and MergeBatchData.
//
// Idempotence is meant for merge results (normal forms): merging a record
// with itself may first normalise it (sorts lists, drops a stale
// optimization, recomputes a batch summary); after that m(x, x) == x and
// m(m(a, b), b) == m(a, b).

// stamp is a timestamp parsed once for repeated comparisons (sorting).
type stamp struct {
	text string
	t    time.Time
	ok   bool
}

func parseStamp(s string) stamp {
	t, err := ParseTime(s)
	return stamp{text: s, t: t, ok: err == nil}
}

// cmp orders timestamps: absent or unparsable stamps sort before every
// valid one (among themselves by text), valid ones by instant, equal
// instants written differently by text. A total order, so max/min over it
// are associative.
func (a stamp) cmp(b stamp) int {
	switch {
	case !a.ok && !b.ok:
		return cmpString(a.text, b.text)
	case !a.ok:
		return -1
	case !b.ok:
		return 1
	}
	if c := a.t.Compare(b.t); c != 0 {
		return c
	}
	return cmpString(a.text, b.text)
}

// cmpTime compares two timestamps in the stamp order.
func cmpTime(a, b string) int { return parseStamp(a).cmp(parseStamp(b)) }

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func laterTime(a, b string) string {
	if cmpTime(a, b) >= 0 {
		return a
	}
	return b
}

func earlierTime(a, b string) string {
	if cmpTime(a, b) <= 0 {
		return a
	}
	return b
}

func maxString(a, b string) string {
	if a >= b {
		return a
	}
	return b
}

// cmpBytes is the last tie-break: the larger canonical JSON wins.
func cmpBytes(a, b any) int { return bytes.Compare(Canonical(a), Canonical(b)) }

// pick returns a when cmp >= 0 else b; with cmp a total order this is max.
func pick[T any](a, b T, cmp int) T {
	if cmp >= 0 {
		return a
	}
	return b
}

// MergeUserData keeps the record with the later `updated`, then the later
// `created` (an absent `updated` is older than any), then the larger bytes.
func MergeUserData(a, b UserData) UserData {
	c := cmpTime(a.Updated, b.Updated)
	if c == 0 {
		c = cmpTime(a.Created, b.Created)
	}
	if c == 0 {
		c = cmpBytes(a, b)
	}
	return pick(a, b, c)
}

// MergeEmailData keeps the later-created record (tie: larger bytes).
func MergeEmailData(a, b EmailData) EmailData {
	c := cmpTime(a.Created, b.Created)
	if c == 0 {
		c = cmpBytes(a, b)
	}
	return pick(a, b, c)
}

// MergeSessionData keeps the later-created record (tie: larger bytes).
func MergeSessionData(a, b SessionData) SessionData {
	c := cmpTime(a.Created, b.Created)
	if c == 0 {
		c = cmpBytes(a, b)
	}
	return pick(a, b, c)
}

// MergeCacheData keeps the later-created entry (tie: larger bytes). Only the
// Worker writes the cache; this settles two Workers racing.
func MergeCacheData(a, b CacheData) CacheData {
	c := cmpTime(a.Created, b.Created)
	if c == 0 {
		c = cmpBytes(a, b)
	}
	return pick(a, b, c)
}

// unionSorted returns the sorted set union of two lists, never nil (so the
// canonical JSON is [] rather than null).
func unionSorted(a, b []string) []string {
	seen := make(map[string]struct{}, len(a)+len(b))
	out := make([]string, 0, len(a)+len(b))
	for _, l := range [][]string{a, b} {
		for _, s := range l {
			if _, ok := seen[s]; !ok {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// MergeProjectsList is the sorted set union: a project once listed stays.
func MergeProjectsList(a, b ProjectsList) ProjectsList { return unionSorted(a, b) }

// MergeApiKeysList is the sorted set union: a key hash once listed stays
// (keys are deactivated in their own record, never removed).
func MergeApiKeysList(a, b ApiKeysList) ApiKeysList { return unionSorted(a, b) }

// MergeProjectData takes everything but `created` and `usage` (name,
// settings, owner) from the record with the later `settings_updated` (tie:
// larger bytes of that part), `created` the earliest, and `usage` field by
// field: the larger counts and the latest activity. Usage is derived from the
// mirror, so the larger count is the better-informed one.
func MergeProjectData(a, b ProjectData) ProjectData {
	pa, pb := projectSettingsPart(a), projectSettingsPart(b)
	c := cmpTime(a.SettingsUpdated, b.SettingsUpdated)
	if c == 0 {
		c = cmpBytes(pa, pb)
	}
	out := pick(a, b, c)
	out.Created = earlierTime(a.Created, b.Created)
	out.Usage = ProjectUsage{
		TotalPages:   max(a.Usage.TotalPages, b.Usage.TotalPages),
		TotalBatches: max(a.Usage.TotalBatches, b.Usage.TotalBatches),
		LastActivity: laterTime(a.Usage.LastActivity, b.Usage.LastActivity),
	}
	return out
}

// projectSettingsPart is the record without the fields merged separately, so
// the tie-break depends only on the part it selects (else associativity
// breaks once usage from another input has been mixed in).
func projectSettingsPart(p ProjectData) ProjectData {
	p.Created = ""
	p.Usage = ProjectUsage{}
	return p
}

// cmpDay orders the calendar day (UTC) of a last_used stamp, consistently with
// cmpTime: unparsable stamps before valid ones.
func cmpDay(a, b string) int {
	ta, errA := ParseTime(a)
	tb, errB := ParseTime(b)
	switch {
	case errA != nil && errB != nil:
		return cmpString(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return cmpString(ta.UTC().Format(time.DateOnly), tb.UTC().Format(time.DateOnly))
}

// MergeKeyData merges an API key record. `active` false is sticky
// (deactivation wins over any concurrent use); requests_total takes the max;
// requests_today is a daily counter, so (day of last_used, requests_today)
// is compared as a pair: a new day's counter replaces yesterday's, the same
// day's takes the max; last_used the latest, created the earliest. user_id
// and name never change after creation; a deterministic choice (the larger
// pair) settles a corrupt disagreement.
func MergeKeyData(a, b KeyData) KeyData {
	out := a
	if c := cmpString(b.UserID, a.UserID); c > 0 || (c == 0 && b.Name > a.Name) {
		out.UserID, out.Name = b.UserID, b.Name
	}
	out.Active = a.Active && b.Active
	out.Created = earlierTime(a.Created, b.Created)
	out.LastUsed = laterTime(a.LastUsed, b.LastUsed)
	out.Usage.RequestsTotal = max(a.Usage.RequestsTotal, b.Usage.RequestsTotal)
	switch c := cmpDay(a.LastUsed, b.LastUsed); {
	case c > 0:
		out.Usage.RequestsToday = a.Usage.RequestsToday
	case c < 0:
		out.Usage.RequestsToday = b.Usage.RequestsToday
	default:
		out.Usage.RequestsToday = max(a.Usage.RequestsToday, b.Usage.RequestsToday)
	}
	return out
}

// MergePageData merges a page. The desktop owns the extraction group
// (batch_id, source_path, uploaded, extraction, content_hash, audit,
// source_missing), taken whole from the record with the later `uploaded`
// (tie: the larger content_hash, then the larger bytes of the group). The
// Worker owns `optimization`: the one with the latest `completed` among the
// inputs' optimizations computed from the merged content_hash (its
// source_hash equals it; an empty source_hash matches only an empty
// content_hash). Others are stale and dropped: the page needs re-optimizing.
//
// Associativity holds for histories where a content_hash, once superseded by
// a later upload, does not return with an even later upload (a revert of
// the source file). After a revert, an optimization for the reverted-to
// content may have been dropped by an intermediate merge while another merge
// order keeps it; either outcome is safe (at worst the page is optimized
// again), see TestMergePageRevert.
func MergePageData(a, b PageData) PageData {
	ea, eb := pageExtractionPart(a), pageExtractionPart(b)
	c := cmpTime(a.Uploaded, b.Uploaded)
	if c == 0 {
		c = cmpString(a.ContentHash, b.ContentHash)
	}
	if c == 0 {
		c = cmpBytes(ea, eb)
	}
	out := pick(ea, eb, c)
	var opt *Optimization
	for _, o := range []*Optimization{a.Optimization, b.Optimization} {
		if o == nil || o.SourceHash != out.ContentHash {
			continue
		}
		if opt == nil {
			opt = o
			continue
		}
		oc := cmpTime(o.Completed, opt.Completed)
		if oc == 0 {
			oc = cmpBytes(o, opt)
		}
		if oc > 0 {
			opt = o
		}
	}
	if opt != nil {
		cp := *opt
		out.Optimization = &cp
	}
	return out
}

func pageExtractionPart(p PageData) PageData {
	p.Optimization = nil
	return p
}

// MergeReviewData unions the block decisions; per block the later `decided`
// wins (tie: larger bytes). `updated` is the latest.
func MergeReviewData(a, b ReviewData) ReviewData {
	out := ReviewData{
		PageID:    maxString(a.PageID, b.PageID),
		ProjectID: maxString(a.ProjectID, b.ProjectID),
		Blocks:    make(map[string]ReviewDecision, len(a.Blocks)+len(b.Blocks)),
		Updated:   laterTime(a.Updated, b.Updated),
	}
	for id, d := range a.Blocks {
		out.Blocks[id] = d
	}
	for id, d := range b.Blocks {
		cur, ok := out.Blocks[id]
		if !ok {
			out.Blocks[id] = d
			continue
		}
		c := cmpTime(d.Decided, cur.Decided)
		if c == 0 {
			c = cmpBytes(d, cur)
		}
		if c > 0 {
			out.Blocks[id] = d
		}
	}
	return out
}

// PageStatusRank orders page statuses: uploaded < queued < processing <
// done = failed. Unknown statuses rank below all.
func PageStatusRank(s string) int {
	switch s {
	case StatusUploaded:
		return 0
	case StatusQueued:
		return 1
	case StatusProcessing:
		return 2
	case StatusDone, StatusFailed:
		return 3
	}
	return -1
}

// BatchStatusRank orders batch statuses: uploading < queued < processing <
// failed < completed. Unknown statuses rank below all.
func BatchStatusRank(s string) int {
	switch s {
	case BatchUploading:
		return 0
	case BatchQueued:
		return 1
	case BatchProcessing:
		return 2
	case BatchFailed:
		return 3
	case BatchCompleted:
		return 4
	}
	return -1
}

func isTerminal(status string) bool { return status == StatusDone || status == StatusFailed }

// batchPageStamp is the latest of an entry's stamps.
func batchPageStamp(p BatchPage) string {
	return laterTime(p.Completed, laterTime(p.Started, p.Uploaded))
}

func cmpBatchPage(a, b BatchPage) int {
	if c := cmpInt(PageStatusRank(a.Status), PageStatusRank(b.Status)); c != 0 {
		return c
	}
	if c := cmpTime(batchPageStamp(a), batchPageStamp(b)); c != 0 {
		return c
	}
	return cmpBytes(a, b)
}

// MergeBatchData merges a batch. Per page, the higher status rank wins, then
// the later of (completed, started, uploaded), then the larger bytes. The
// summary is recomputed from the merged pages, never incremented. The status
// is the highest ranked of both inputs' and of the one the pages imply
// (DerivedBatchStatus), so two Workers finishing the last two pages
// concurrently still complete the batch. page_count is the max of both and
// of the number of pages; created the earliest.
//
// Associativity of the status holds for histories where the page set is
// fixed when the batch is created (the desktop writes a batch: record only
// then, DESIGN.md section 5) and a terminal page only ever moves from failed
// to done (a retry), never back: then the implied status only rises. A page
// added to a batch some replica already saw as completed leaves it completed.
func MergeBatchData(a, b BatchData) BatchData {
	out := BatchData{
		BatchID:   maxString(a.BatchID, b.BatchID),
		ProjectID: maxString(a.ProjectID, b.ProjectID),
		Created:   earlierTime(a.Created, b.Created),
		Pages:     make(map[string]BatchPage, max(len(a.Pages), len(b.Pages))),
	}
	for id, p := range a.Pages {
		out.Pages[id] = p
	}
	for id, p := range b.Pages {
		if cur, ok := out.Pages[id]; !ok || cmpBatchPage(p, cur) > 0 {
			out.Pages[id] = p
		}
	}
	out.PageCount = max(a.PageCount, b.PageCount, len(out.Pages))
	out.Summary = BatchSummaryOf(out.Pages)
	status := a.Status
	for _, s := range []string{b.Status, DerivedBatchStatus(out.Pages)} {
		if c := cmpInt(BatchStatusRank(s), BatchStatusRank(status)); c > 0 || (c == 0 && s > status) {
			status = s
		}
	}
	out.Status = status
	return out
}

// DerivedBatchStatus is the batch status the pages imply: "" while no page
// has started, processing while some page has started and not all are
// finished, then completed if any page is done, else failed.
func DerivedBatchStatus(pages map[string]BatchPage) string {
	started, terminal, done := false, 0, false
	for _, p := range pages {
		if PageStatusRank(p.Status) >= 2 {
			started = true
		}
		if isTerminal(p.Status) {
			terminal++
		}
		if p.Status == StatusDone {
			done = true
		}
	}
	switch {
	case len(pages) > 0 && terminal == len(pages) && done:
		return BatchCompleted
	case len(pages) > 0 && terminal == len(pages):
		return BatchFailed
	case started:
		return BatchProcessing
	}
	return ""
}

// BatchSummaryOf derives a batch summary: completed = pages done, failed =
// pages failed, pending = the rest; average_time_ms = floor of the mean of
// (completed - started) in whole milliseconds over the done pages that have
// both stamps (a negative duration, from clock skew, counts as 0), 0 if none.
func BatchSummaryOf(pages map[string]BatchPage) BatchSummary {
	var s BatchSummary
	var total, n int64
	for _, p := range pages {
		switch p.Status {
		case StatusDone:
			s.Completed++
			st, err1 := ParseTime(p.Started)
			ct, err2 := ParseTime(p.Completed)
			if err1 == nil && err2 == nil {
				total += max(ct.UnixMilli()-st.UnixMilli(), 0)
				n++
			}
		case StatusFailed:
			s.Failed++
		}
	}
	s.Pending = len(pages) - s.Completed - s.Failed
	if n > 0 {
		s.AverageTimeMs = total / n // non-negative, so truncation is floor
	}
	return s
}

type queueKey struct{ batchID, pageID string }

// MergeQueueData unions the items keyed by (batch_id, page_id): attempts and
// priority the max, queued_at the earliest. last_processed is the latest.
// Items are sorted by priority (highest first), then queued_at, batch_id,
// page_id, the order the Worker drains them in. Items for finished pages
// are removed by PruneQueue, not here: pruning needs the status records.
func MergeQueueData(a, b QueueData) QueueData {
	byKey := make(map[queueKey]QueueItem, len(a.Items)+len(b.Items))
	for _, l := range [][]QueueItem{a.Items, b.Items} {
		for _, it := range l {
			k := queueKey{it.BatchID, it.PageID}
			cur, ok := byKey[k]
			if !ok {
				byKey[k] = it
				continue
			}
			cur.Attempts = max(cur.Attempts, it.Attempts)
			cur.Priority = max(cur.Priority, it.Priority)
			cur.QueuedAt = earlierTime(cur.QueuedAt, it.QueuedAt)
			byKey[k] = cur
		}
	}
	items := make([]QueueItem, 0, len(byKey))
	for _, it := range byKey {
		items = append(items, it)
	}
	sortQueue(items)
	return QueueData{Items: items, LastProcessed: laterTime(a.LastProcessed, b.LastProcessed)}
}

func sortQueue(items []QueueItem) {
	// Parse each queued_at once, not on every comparison.
	type sortable struct {
		it QueueItem
		at stamp
	}
	tmp := make([]sortable, len(items))
	for i, it := range items {
		tmp[i] = sortable{it, parseStamp(it.QueuedAt)}
	}
	sort.Slice(tmp, func(i, j int) bool {
		x, y := tmp[i], tmp[j]
		if x.it.Priority != y.it.Priority {
			return x.it.Priority > y.it.Priority
		}
		if c := x.at.cmp(y.at); c != 0 {
			return c < 0
		}
		if x.it.BatchID != y.it.BatchID {
			return x.it.BatchID < y.it.BatchID
		}
		return x.it.PageID < y.it.PageID
	})
	for i := range tmp {
		items[i] = tmp[i].it
	}
}

// PruneQueue drops the items whose page needs no more processing for that
// batch: its status is terminal (done or failed) for the same batch, or the
// batch's own entry for the page is terminal (the Worker finished the item,
// e.g. failed it as SUPERSEDED). An item whose page was resubmitted in
// another batch stays until its own batch's entry is terminal: the Worker
// fails it there as superseded without an AI call, and only then can that
// batch complete (dropping it on sight of the later batch's status left the
// old batch processing for good). Status and batch entries are monotonic
// under their merges, so an item a stale replica resurrects is pruned again
// at the next write. statusOf returns the page's status record, if any;
// entryOf (nil: none known) the page's entry in a batch's record, asked for
// the items the status does not settle. The result is a new QueueData (q is
// not modified).
func PruneQueue(q QueueData, statusOf func(pageID string) (StatusData, bool), entryOf func(batchID, pageID string) (BatchPage, bool)) QueueData {
	out := QueueData{Items: make([]QueueItem, 0, len(q.Items)), LastProcessed: q.LastProcessed}
	for _, it := range q.Items {
		if st, ok := statusOf(it.PageID); ok && st.BatchID == it.BatchID && isTerminal(st.Status) {
			continue
		}
		if entryOf != nil {
			if e, ok := entryOf(it.BatchID, it.PageID); ok && isTerminal(e.Status) {
				continue
			}
		}
		out.Items = append(out.Items, it)
	}
	return out
}

// MergeStatusData keeps one whole record: the later batch_id (batch IDs sort
// chronologically), then the higher status rank, then the later `updated`,
// then the larger bytes. So a desktop re-queueing a page for a new batch
// beats the Worker finishing the old one, and the Worker's processing beats
// the desktop's queued for the same batch.
func MergeStatusData(a, b StatusData) StatusData {
	c := cmpString(a.BatchID, b.BatchID)
	if c == 0 {
		c = cmpInt(PageStatusRank(a.Status), PageStatusRank(b.Status))
	}
	if c == 0 {
		c = cmpTime(a.Updated, b.Updated)
	}
	if c == 0 {
		c = cmpBytes(a, b)
	}
	return pick(a, b, c)
}

type logKey struct{ timestamp, step, message string }

// sortedLog is one entry's key with its timestamp parsed once.
type sortedLog struct {
	key logKey
	ts  stamp
}

func (a sortedLog) cmp(b sortedLog) int {
	if c := a.ts.cmp(b.ts); c != 0 {
		return c
	}
	if c := cmpString(a.key.step, b.key.step); c != 0 {
		return c
	}
	return cmpString(a.key.message, b.key.message)
}

func sameLogEntry(a, b LogEntry) bool {
	if a.Timestamp != b.Timestamp || a.Level != b.Level || a.Step != b.Step || a.Message != b.Message ||
		!bytes.Equal(a.Data, b.Data) || (a.DurationMs == nil) != (b.DurationMs == nil) {
		return false
	}
	return a.DurationMs == nil || *a.DurationMs == *b.DurationMs
}

// MergeLogData unions the entries keyed by (timestamp, step, message) (two
// different entries with the same key: the larger bytes), sorts them by
// that key (timestamp as an instant) and keeps the newest MaxLogEntries.
// page_id is whichever is set.
func MergeLogData(a, b LogData) LogData {
	byKey := make(map[logKey]LogEntry, len(a.Entries)+len(b.Entries))
	for _, l := range [][]LogEntry{a.Entries, b.Entries} {
		for _, e := range l {
			k := logKey{e.Timestamp, e.Step, e.Message}
			// The same entry seen on both sides is the common collision;
			// only different entries need the byte comparison.
			if cur, ok := byKey[k]; !ok || (!sameLogEntry(e, cur) && cmpBytes(e, cur) > 0) {
				byKey[k] = e
			}
		}
	}
	keys := make([]sortedLog, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, sortedLog{key: k, ts: parseStamp(k.timestamp)})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].cmp(keys[j]) < 0 })
	if len(keys) > MaxLogEntries {
		keys = keys[len(keys)-MaxLogEntries:]
	}
	entries := make([]LogEntry, len(keys))
	for i, k := range keys {
		entries[i] = byKey[k.key]
	}
	return LogData{PageID: maxString(a.PageID, b.PageID), Entries: entries}
}

// MergeValue merges two encoded values of the same key (both are decoded and
// validated first) and returns the canonical JSON of the result.
func MergeValue(key string, a, b []byte) ([]byte, error) {
	ra, err := DecodeValue(key, a)
	if err != nil {
		return nil, fmt.Errorf("merge %s: first value: %w", key, err)
	}
	rb, err := DecodeValue(key, b)
	if err != nil {
		return nil, fmt.Errorf("merge %s: second value: %w", key, err)
	}
	m, err := mergeRecords(ra, rb)
	if err != nil {
		return nil, fmt.Errorf("merge %s: %w", key, err)
	}
	return Canonical(m), nil
}

// mergeRecords merges two decoded records (pointers of the same type, as
// newRecord makes them) and returns a pointer to the result.
func mergeRecords(a, b any) (any, error) {
	switch x := a.(type) {
	case *UserData:
		y, ok := b.(*UserData)
		if ok {
			r := MergeUserData(*x, *y)
			return &r, nil
		}
	case *ProjectsList:
		y, ok := b.(*ProjectsList)
		if ok {
			r := MergeProjectsList(*x, *y)
			return &r, nil
		}
	case *ApiKeysList:
		y, ok := b.(*ApiKeysList)
		if ok {
			r := MergeApiKeysList(*x, *y)
			return &r, nil
		}
	case *ProjectData:
		y, ok := b.(*ProjectData)
		if ok {
			r := MergeProjectData(*x, *y)
			return &r, nil
		}
	case *KeyData:
		y, ok := b.(*KeyData)
		if ok {
			r := MergeKeyData(*x, *y)
			return &r, nil
		}
	case *EmailData:
		y, ok := b.(*EmailData)
		if ok {
			r := MergeEmailData(*x, *y)
			return &r, nil
		}
	case *CacheData:
		y, ok := b.(*CacheData)
		if ok {
			r := MergeCacheData(*x, *y)
			return &r, nil
		}
	case *SessionData:
		y, ok := b.(*SessionData)
		if ok {
			r := MergeSessionData(*x, *y)
			return &r, nil
		}
	case *PageData:
		y, ok := b.(*PageData)
		if ok {
			r := MergePageData(*x, *y)
			return &r, nil
		}
	case *ReviewData:
		y, ok := b.(*ReviewData)
		if ok {
			r := MergeReviewData(*x, *y)
			return &r, nil
		}
	case *BatchData:
		y, ok := b.(*BatchData)
		if ok {
			r := MergeBatchData(*x, *y)
			return &r, nil
		}
	case *QueueData:
		y, ok := b.(*QueueData)
		if ok {
			r := MergeQueueData(*x, *y)
			return &r, nil
		}
	case *StatusData:
		y, ok := b.(*StatusData)
		if ok {
			r := MergeStatusData(*x, *y)
			return &r, nil
		}
	case *LogData:
		y, ok := b.(*LogData)
		if ok {
			r := MergeLogData(*x, *y)
			return &r, nil
		}
	default:
		return nil, fmt.Errorf("no merge for %T", a)
	}
	return nil, fmt.Errorf("cannot merge %T with %T", a, b)
}
