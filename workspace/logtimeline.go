package workspace

// The log timeline: one index record per log entry of a project, keyed by
// its timestamp, so that the Logs screen reads the newest entries first
// and stops when it has enough, instead of decoding every page's log
// record (100,000 pages have at least 100,000 entries: their upload).
// Like the page summaries it lives in the store's _index bucket and is
// written by the indexer in the transaction that writes the log record.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

func timelinePrefix(projectID string) string { return "lt:" + projectID + ":" }

// timelineListKey holds the suffixes of a page's timeline records, so
// that the entries its log record no longer keeps (it keeps the newest
// model.MaxLogEntries) leave the timeline too.
func timelineListKey(projectID, pageID string) string { return "ltp:" + projectID + ":" + pageID }

// timelineKey names one entry: its timestamp (normalised to FormatTime's
// fixed width, so the keys sort by time), its page and a hash of what
// tells it from the page's other entries of that millisecond.
func timelineKey(projectID, pageID string, e model.LogEntry) string {
	return timelinePrefix(projectID) + timelineSuffix(pageID, e)
}

func timelineSuffix(pageID string, e model.LogEntry) string {
	ts := e.Timestamp
	if t, err := model.ParseTime(ts); err == nil {
		ts = model.FormatTime(t)
	}
	return ts + ":" + pageID + ":" + entryHash(e)
}

func entryHash(e model.LogEntry) string {
	h := sha256.New()
	h.Write([]byte(e.Timestamp + "\x00" + e.Level + "\x00" + e.Step + "\x00" + e.Message))
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// timelineValue is what the Logs filters need of an entry (level, step,
// the page's path, the message), so that the walk reads a page's log
// record only for the entries it returns.
func timelineValue(e model.LogEntry, path string) []byte {
	return []byte(e.Level + "\x00" + e.Step + "\x00" + path + "\x00" + e.Message)
}

// timelinePath is the path of a page as its summary has it ("" when it
// has none: a log without a page record).
func timelinePath(tx *localstore.Tx, ref localstore.PageRef) string {
	if v, ok := tx.GetIndex(summaryKey(ref.ProjectID, ref.PageID)); ok {
		var s pageSummaryRec
		if decodeSummary(v, &s) == nil {
			return s.SourcePath
		}
	}
	return ""
}

// indexLogs brings a page's timeline records in line with its log record:
// the entries it holds are on the timeline, those it dropped are not.
// full (a rebuild) writes every entry's record, whatever the page's list
// says.
func indexLogs(tx *localstore.Tx, ref localstore.PageRef, full bool) error {
	ld, err := written[model.LogData](tx, model.NSLogs, model.LogsKey(ref.ProjectID, ref.PageID))
	if err != nil {
		return nil // an unreadable log record changes nothing on the timeline
	}
	prefix := timelinePrefix(ref.ProjectID)
	listKey := timelineListKey(ref.ProjectID, ref.PageID)
	path := timelinePath(tx, ref)
	old := map[string]bool{}
	v, hadList := tx.GetIndex(listKey)
	if hadList && len(v) > 0 {
		for _, suf := range strings.Split(string(v), "\n") {
			old[suf] = true
		}
	}
	suffixes := make([]string, 0, len(ld.Entries))
	for _, e := range ld.Entries {
		suf := timelineSuffix(ref.PageID, e)
		suffixes = append(suffixes, suf)
		if full || !old[suf] {
			if err := tx.PutIndex(prefix+suf, timelineValue(e, path)); err != nil {
				return err
			}
		}
		delete(old, suf)
	}
	for suf := range old { // dropped from the record
		if err := tx.DeleteIndex(prefix + suf); err != nil {
			return err
		}
	}
	if !hadList && len(suffixes) == 0 {
		return nil // a page with no log record yet
	}
	return tx.PutIndex(listKey, []byte(strings.Join(suffixes, "\n")))
}

// LogQuery selects log entries; zero fields match every entry.
type LogQuery struct {
	PageID string // one page's entries
	Level  string
	Step   string
	// Text: the message or the page's path contains it, case ignored.
	Text string
	// Limit: at most this many entries (the newest); 0: all.
	Limit int
}

func (q LogQuery) match(e model.LogEntry, path string) bool {
	if q.Level != "" && e.Level != q.Level {
		return false
	}
	if q.Step != "" && e.Step != q.Step {
		return false
	}
	if t := strings.TrimSpace(q.Text); t != "" && !containsFold(e.Message, t) && !containsFold(path, t) {
		return false
	}
	return true
}

// RecentLogs returns the project's log entries matching q, newest first,
// and whether there are more than q.Limit. The project-wide listing walks
// the timeline from the newest entry and reads each page's log record
// once, so the first screen costs what it shows, not the size of the
// site.
func (w *Workspace) RecentLogs(ctx context.Context, projectID string, q LogQuery) ([]LogLine, bool, error) {
	if err := w.ensureIndex(ctx); err != nil {
		return nil, false, err
	}
	var out []LogLine
	more := false
	add := func(l LogLine) bool {
		if q.Limit > 0 && len(out) == q.Limit {
			more = true
			return false
		}
		out = append(out, l)
		return true
	}
	err := w.store.View(func(tx *localstore.Tx) error {
		paths := map[string]string{}
		pathOf := func(pageID string) string {
			if p, ok := paths[pageID]; ok {
				return p
			}
			p := ""
			if v, ok := tx.GetIndex(summaryKey(projectID, pageID)); ok {
				var s pageSummaryRec
				if decodeSummary(v, &s) == nil {
					p = s.SourcePath
				}
			}
			paths[pageID] = p
			return p
		}
		if q.PageID != "" {
			ld, _, err := getJSON[model.LogData](tx, model.NSLogs, model.LogsKey(projectID, q.PageID))
			if err != nil {
				return err
			}
			path := pathOf(q.PageID)
			for i := len(ld.Entries) - 1; i >= 0; i-- { // entries are kept oldest first
				if e := ld.Entries[i]; q.match(e, path) && !add(LogLine{PageID: q.PageID, Entry: e}) {
					break
				}
			}
			return nil
		}
		logs := map[string]map[string]model.LogEntry{} // page -> timeline key -> entry
		prefix := timelinePrefix(projectID)
		scanned := 0
		return tx.ScanIndexReverse(prefix, func(k, v []byte) error {
			if scanned++; scanned%releaseEvery == 0 {
				tx.ReleaseMapped()
			}
			// The filters run on the value: a page's log record is read
			// only for an entry that goes on the screen.
			parts := strings.SplitN(string(v), "\x00", 4)
			if len(parts) != 4 {
				return fmt.Errorf("index record %s: not a log timeline value", k)
			}
			if !q.match(model.LogEntry{Level: parts[0], Step: parts[1], Message: parts[3]}, parts[2]) {
				return ctx.Err()
			}
			key := string(k)
			rest := key[len(prefix):]
			// rest: timestamp ":" page ":" hash; the timestamp holds colons
			end := strings.LastIndexByte(rest, ':')
			mid := strings.LastIndexByte(rest[:max(end, 0)], ':')
			if end < 0 || mid < 0 {
				return fmt.Errorf("index record %s: not a log timeline key", key)
			}
			pageID := rest[mid+1 : end]
			entries, ok := logs[pageID]
			if !ok {
				ld, _, err := getJSON[model.LogData](tx, model.NSLogs, model.LogsKey(projectID, pageID))
				if err != nil {
					return err
				}
				entries = make(map[string]model.LogEntry, len(ld.Entries))
				for _, e := range ld.Entries {
					entries[timelineKey(projectID, pageID, e)] = e
				}
				logs[pageID] = entries
			}
			e, ok := entries[key]
			if !ok {
				return ctx.Err() // dropped from the record (it keeps the newest entries)
			}
			if !add(LogLine{PageID: pageID, Entry: e}) {
				return errEnough
			}
			return ctx.Err()
		})
	})
	if err != nil && err != errEnough {
		return nil, false, fmt.Errorf("logs of %s: %w", projectID, err)
	}
	return out, more, nil
}
