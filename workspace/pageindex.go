package workspace

// The page summary index (issue 14): one small record per page, derived
// from its page, review and status records and kept in the store's local
// _index bucket, plus one aggregate record per project. localstore calls
// indexPages inside every write transaction that writes one of those
// records, so the index never lags behind them; lists, filters and counts
// read it instead of decoding page records (a page record is 5-50 kB of
// JSON, its summary a few hundred bytes).
//
// The index is derived data: it is never pushed, and rebuildIndex recreates
// it from the namespaces when it is missing or of another version (a store
// written by an older Nimbus, or by a tool that opened the store without a
// workspace).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	gosync "sync"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// pageIndexVersion changes whenever pageSummaryRec or its derivation does:
// a store with another version is re-indexed on first use.
const pageIndexVersion = "page-summary-7"

// pageSummaryRec is the index record of one page.
type pageSummaryRec struct {
	PageID     string             `json:"id"`
	SourcePath string             `json:"path"`
	Title      string             `json:"title,omitempty"`
	Dimensions Dims               `json:"dims,omitempty"`
	Missing    bool               `json:"missing,omitempty"`
	Issues     []model.AuditIssue `json:"issues,omitempty"`
	// What the project-wide duplicate audit compares (with Title), as
	// dupKey: equal exactly when the audit's compared forms are equal.
	Description string `json:"desc,omitempty"`
	Canonical   string `json:"canonical,omitempty"`
	H1          string `json:"h1,omitempty"`
	// Status is the page's status record; nil: never submitted.
	Status *model.StatusData `json:"status,omitempty"`
	// Blocks counts the reviewable blocks (head blocks included),
	// Proposals those with a current proposal (model's rule), Decided
	// those accepted or rejected.
	Blocks    int `json:"blocks"`
	Proposals int `json:"proposals,omitempty"`
	Decided   int `json:"decided,omitempty"`
	// Proposing counts the blocks with a text QA checks (ReviewBlock.
	// Proposal: an edit, an accepted or decided text, or a suggestion).
	Proposing int `json:"proposing,omitempty"`
	// States counts the blocks per review state (ReviewBlock.State).
	States map[string]int `json:"states,omitempty"`
	// Broken says why the page record could not be read ("" when it was).
	Broken string `json:"broken,omitempty"`
}

// projectAggRec is the index's aggregate record of one project: the
// counts the views show, kept up to date by the same transactions.
type projectAggRec struct {
	Pages     int            `json:"pages"`
	Missing   int            `json:"missing,omitempty"`
	Statuses  map[string]int `json:"statuses,omitempty"` // "" : never submitted
	States    map[string]int `json:"states,omitempty"`
	Proposals int            `json:"proposals,omitempty"`
	Decided   int            `json:"decided,omitempty"`
}

func summaryKey(projectID, pageID string) string { return "sum:" + projectID + ":" + pageID }
func summaryPrefix(projectID string) string      { return "sum:" + projectID + ":" }
func aggKey(projectID string) string             { return "agg:" + projectID }

// The path index: "pp:{project}:{source path}" names the page, so a
// first screen reads the first pages in path order.
func pathIndexKey(projectID, path string) string { return pathIndexPrefix(projectID) + path }
func pathIndexPrefix(projectID string) string    { return "pp:" + projectID + ":" }

// The review list of a project: a "rv:" record (1) for each page with a
// block in a state other than original (a proposal or a decision; 0 once
// it has none again: records are never deleted), so
// that Review, whose filters rarely ask for blocks without one, reads those
// pages only, however many pages the site has.
func reviewListKey(projectID, pageID string) string { return "rv:" + projectID + ":" + pageID }
func reviewListPrefix(projectID string) string      { return "rv:" + projectID + ":" }

// reviewable reports whether the page belongs in the review list.
func (s *pageSummaryRec) reviewable() bool {
	if s == nil {
		return false
	}
	for st, n := range s.States {
		if st != model.ReviewOriginal && n > 0 {
			return true
		}
	}
	return false
}

// add adds (sign 1) or removes (sign -1) one page's summary.
func (a *projectAggRec) add(s *pageSummaryRec, sign int) {
	if s == nil {
		return
	}
	inc := func(m *map[string]int, k string, n int) {
		if *m == nil {
			*m = map[string]int{}
		}
		(*m)[k] += n
		if (*m)[k] == 0 {
			delete(*m, k)
		}
	}
	a.Pages += sign
	if s.Missing {
		a.Missing += sign
	}
	status := ""
	if s.Status != nil {
		status = s.Status.Status
	}
	inc(&a.Statuses, status, sign)
	for st, n := range s.States {
		inc(&a.States, st, sign*n)
	}
	a.Proposals += sign * s.Proposals
	a.Decided += sign * s.Decided
}

// dupKey is what the duplicate audit compares of a field (extract.
// AuditDuplicates: lower case but for the canonical URL), hashed to 8
// bytes so that a summary does not carry the texts; "" stays "".
func dupKey(v string, fold bool) string {
	if v == "" {
		return ""
	}
	if fold {
		v = strings.ToLower(v)
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:8])
}

// summarize derives a page's summary from its records (r and s may be
// zero: no decisions, never submitted).
func summarize(p *model.PageData, r model.ReviewData, s *model.StatusData) pageSummaryRec {
	sum := pageSummaryRec{
		PageID: p.PageID, SourcePath: p.SourcePath, Title: p.Extraction.Head["title"],
		Dimensions: DimsOf(p.Extraction.Dimensions), Missing: p.SourceMissing != "",
		Description: dupKey(p.Extraction.Head["metaDescription"], true), Canonical: dupKey(p.Extraction.Head["canonical"], false),
		Status: s,
	}
	if p.Audit != nil && len(p.Audit.Issues) > 0 {
		// code and severity: the table shows those, the page's detail
		// reads the messages from the page record
		sum.Issues = make([]model.AuditIssue, len(p.Audit.Issues))
		for i, is := range p.Audit.Issues {
			sum.Issues[i] = model.AuditIssue{Code: is.Code, Severity: is.Severity}
		}
	}
	for _, b := range append(append([]model.Block(nil), p.Extraction.AboveFoldBlocks...), p.Extraction.RestOfPageBlocks...) {
		if b.Type == "h1" {
			sum.H1 = dupKey(b.Content, true) // as firstH1
			break
		}
	}
	sum.Proposals = len(p.Proposals())
	sum.Decided = decidedCount(r)
	// reviewBlocks' states, without building the blocks (the import
	// summarises every page it writes)
	suggested := p.Proposals()
	for _, list := range [][]model.Block{model.HeadBlocks(p.Extraction), p.Extraction.AboveFoldBlocks, p.Extraction.RestOfPageBlocks} {
		for _, b := range list {
			state, text, _ := blockState(b, suggested[b.ID], r)
			sum.Blocks++
			if text != "" || suggested[b.ID] != "" { // ReviewBlock.Proposal
				sum.Proposing++
			}
			if sum.States == nil {
				sum.States = map[string]int{}
			}
			sum.States[state]++
		}
	}
	return sum
}

// indexPages is the store's Indexer: it brings the summaries of refs,
// their projects' aggregates and the log timeline up to date in tx.
func indexPages(tx *localstore.Tx, refs []localstore.PageRef) error {
	deltas := map[string]*projectAggRec{}
	var order []string
	for _, ref := range refs {
		newPage := false
		if tx.Changed(model.NSPages, model.PageKey(ref.ProjectID, ref.PageID)) ||
			tx.Changed(model.NSPages, model.ReviewKey(ref.ProjectID, ref.PageID)) ||
			tx.Changed(model.NSStatus, model.StatusKey(ref.ProjectID, ref.PageID)) {
			old, next, changed, err := resummarize(tx, ref, false)
			if err != nil {
				return err
			}
			newPage = (old == nil || old.SourcePath == "") && next != nil && next.SourcePath != ""
			if changed {
				d := deltas[ref.ProjectID]
				if d == nil {
					d = &projectAggRec{}
					deltas[ref.ProjectID] = d
					order = append(order, ref.ProjectID)
				}
				d.add(old, -1)
				d.add(next, 1)
			}
		}
		// After the summary: the timeline carries the page's path, so a
		// page's first summary rewrites the entries logged before it (a
		// file that failed, then came right).
		if newPage || tx.Changed(model.NSLogs, model.LogsKey(ref.ProjectID, ref.PageID)) {
			if err := indexLogs(tx, ref, newPage); err != nil {
				return err
			}
		}
	}
	for _, projectID := range order {
		agg, err := readAgg(tx, projectID)
		if err != nil {
			// Derived data that no longer reads must not refuse the write
			// (a pull, a decision): the next read rebuilds the index.
			if err := invalidateIndex(tx); err != nil {
				return err
			}
			continue
		}
		merge(&agg, deltas[projectID])
		if err := tx.PutIndex(aggKey(projectID), mustJSON(agg)); err != nil {
			return err
		}
	}
	return nil
}

// merge adds delta's counts to a.
func merge(a *projectAggRec, d *projectAggRec) {
	a.Pages += d.Pages
	a.Missing += d.Missing
	a.Proposals += d.Proposals
	a.Decided += d.Decided
	addAll := func(m *map[string]int, from map[string]int) {
		for k, n := range from {
			if *m == nil {
				*m = map[string]int{}
			}
			(*m)[k] += n
			if (*m)[k] == 0 {
				delete(*m, k)
			}
		}
	}
	addAll(&a.Statuses, d.Statuses)
	addAll(&a.States, d.States)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings, ints and maps
	}
	return b
}

func readAgg(tx *localstore.Tx, projectID string) (projectAggRec, error) {
	var agg projectAggRec
	if v, ok := tx.GetIndex(aggKey(projectID)); ok {
		if err := json.Unmarshal(v, &agg); err != nil {
			return agg, fmt.Errorf("index record %s: %w", aggKey(projectID), err)
		}
	}
	return agg, nil
}

// resummarize recomputes one page's summary; old is the summary it
// replaces (nil: none), next the new one (nil: the page has no page record
// yet, only a status or review). full recomputes it from the records even
// when only the status was written (a rebuild).
func resummarize(tx *localstore.Tx, ref localstore.PageRef, full bool) (old, next *pageSummaryRec, changed bool, err error) {
	key := summaryKey(ref.ProjectID, ref.PageID)
	oldBytes, had := tx.GetIndex(key)
	if had {
		var o pageSummaryRec
		if decodeSummary(oldBytes, &o) == nil {
			old = &o
		} else if err := invalidateIndex(tx); err != nil { // the aggregate cannot take it out: rebuild
			return nil, nil, false, err
		}
	}
	pkey := model.PageKey(ref.ProjectID, ref.PageID)
	var status *model.StatusData
	if s, err := written[model.StatusData](tx, model.NSStatus, model.StatusKey(ref.ProjectID, ref.PageID)); err == nil && s.Status != "" {
		status = &s
	}
	if !full && old != nil && old.Broken == "" && !tx.Changed(model.NSPages, pkey) && !tx.Changed(model.NSPages, model.ReviewKey(ref.ProjectID, ref.PageID)) {
		// Only the status moved (a batch's progress, a pull): the rest of
		// the summary stands, and the page record is not decoded.
		sum := *old
		sum.Status = status
		return putSummary(tx, ref.ProjectID, key, oldBytes, old, sum)
	}
	var page *model.PageData
	if rec, ok := tx.Written(model.NSPages, pkey); ok {
		page, _ = rec.(*model.PageData)
	}
	broken := ""
	if page == nil {
		p, ok, err := getJSON[model.PageData](tx, model.NSPages, pkey)
		switch {
		case err != nil:
			broken = err.Error()
			page = &model.PageData{PageID: ref.PageID, ProjectID: ref.ProjectID}
		case !ok:
			return old, nil, false, nil // a status or review ahead of its page
		default:
			page = &p
		}
	}
	review, err := written[model.ReviewData](tx, model.NSPages, model.ReviewKey(ref.ProjectID, ref.PageID))
	if err != nil {
		review = model.ReviewData{} // an unreadable review counts as no decisions
	}
	sum := summarize(page, review, status)
	sum.Broken = broken
	return putSummary(tx, ref.ProjectID, key, oldBytes, old, sum)
}

// putSummary writes sum unless it equals the stored bytes.
func putSummary(tx *localstore.Tx, projectID, key string, oldBytes []byte, old *pageSummaryRec, sum pageSummaryRec) (*pageSummaryRec, *pageSummaryRec, bool, error) {
	b := encodeSummary(&sum)
	if old != nil && string(b) == string(oldBytes) {
		return old, &sum, false, nil
	}
	err := tx.PutIndex(key, b)
	if err != nil {
		return nil, nil, false, err
	}
	if (old == nil || old.SourcePath == "") && sum.SourcePath != "" {
		// the page in path order (a page's path never changes: its ID is
		// made from it)
		if err := tx.PutIndex(pathIndexKey(projectID, sum.SourcePath), []byte(sum.PageID)); err != nil {
			return nil, nil, false, err
		}
	}
	rk := reviewListKey(projectID, sum.PageID)
	if sum.reviewable() {
		err = tx.PutIndex(rk, []byte{1})
	} else if _, listed := tx.GetIndex(rk); listed {
		err = tx.PutIndex(rk, []byte{0}) // off the list (records are never deleted)
	}
	if err != nil {
		return nil, nil, false, err
	}
	return old, &sum, true, nil
}

// written reads a record of the transaction: the typed record its writer
// passed when there is one, else the stored bytes decoded (zero when
// absent).
func written[T any](tx *localstore.Tx, ns model.Namespace, key string) (T, error) {
	if rec, ok := tx.Written(ns, key); ok {
		if v, ok := rec.(*T); ok {
			return *v, nil
		}
	}
	v, _, err := getJSON[T](tx, ns, key)
	return v, err
}

// pageCountIn is the number of the project's page records as tx sees
// them: from the index's aggregate when the index is current (counting
// the keys touches every page record of the file), else by counting.
func pageCountIn(tx *localstore.Tx, projectID string) (int, error) {
	if tx.Meta(localstore.MetaIndexVersion) != pageIndexVersion || !tx.IndexNoted() {
		return tx.Count(model.NSPages, model.ProjectPrefix(model.KindPage, projectID))
	}
	if err := tx.FlushIndex(); err != nil {
		return 0, err
	}
	if tx.Meta(localstore.MetaIndexVersion) != pageIndexVersion { // written without an indexer
		return tx.Count(model.NSPages, model.ProjectPrefix(model.KindPage, projectID))
	}
	agg, err := readAgg(tx, projectID)
	if err != nil {
		return tx.Count(model.NSPages, model.ProjectPrefix(model.KindPage, projectID))
	}
	return agg.Pages, nil
}

// invalidateIndex marks the index out of date in tx (an index record that
// does not read): the next use rebuilds it.
func invalidateIndex(tx *localstore.Tx) error {
	return tx.SetMeta(localstore.MetaIndexVersion, "out of date")
}

// indexState guards the one rebuild of a workspace's index.
type indexState struct {
	mu    gosync.Mutex
	ready bool
}

// startIndex marks the index of a store that holds no page yet as built
// (it is empty, and the indexer keeps it from now on), so that a new
// store is never rebuilt.
func startIndex(st *localstore.Store) {
	if v, err := st.Meta(localstore.MetaIndexVersion); err != nil || v == pageIndexVersion {
		return
	}
	n, err := st.Count(model.NSPages, "page:")
	if err == nil && n == 0 {
		n, err = st.Count(model.NSLogs, "logs:") // logs without a page go on the timeline too
	}
	if err == nil && n == 0 {
		_ = st.SetMeta(localstore.MetaIndexVersion, pageIndexVersion)
	}
}

// ensureIndex rebuilds the page index when the store's is missing or of
// another version, once per workspace (concurrent callers wait for it).
func (w *Workspace) ensureIndex(ctx context.Context) error {
	w.index.mu.Lock()
	defer w.index.mu.Unlock()
	v, err := w.store.Meta(localstore.MetaIndexVersion)
	if err != nil {
		return err
	}
	if w.index.ready && v == pageIndexVersion {
		// A writer without an indexer (a tool on the same file) or an
		// index record that no longer reads clears the version: checked
		// at every use, cheaply.
		return nil
	}
	current := v == pageIndexVersion
	if current && !w.index.ready {
		// Written since by a Nimbus without the index (an older version,
		// an older CLI on the same store)?
		if current, err = w.store.IndexCurrent(); err != nil {
			return err
		}
	}
	if !current {
		// The rebuild is the store's, not the caller's: a caller that
		// gives up (a filter changed) must not make the next one start
		// again from the first page.
		if err := w.rebuildIndex(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("rebuild the page index of %s: %w", w.store.Path(), err)
		}
	}
	w.index.ready = true
	return nil
}

// IndexStale reports whether the next read of the page index rebuilds it
// first (a store from an older version: about 20 s for 100,000 pages), so
// that a window can say so instead of freezing.
func (w *Workspace) IndexStale() bool {
	// Never waits for a rebuild (it holds the lock): one running means
	// stale.
	if !w.index.mu.TryLock() {
		return true
	}
	ready := w.index.ready
	w.index.mu.Unlock()
	v, err := w.store.Meta(localstore.MetaIndexVersion)
	if err != nil || v != pageIndexVersion {
		return true
	}
	if ready {
		return false
	}
	current, err := w.store.IndexCurrent()
	return err != nil || !current
}

// rebuildIndex recomputes every page's summary from the namespaces, a few
// hundred pages per transaction (writers are not held up for long), then
// every project's aggregate from the summaries, and records the version in
// that last transaction. Writes between the chunks keep their pages'
// summaries up to date through the indexer, so the result is exact.
func (w *Workspace) rebuildIndex(ctx context.Context) error {
	// From nothing: records of another index version must not stay.
	if err := w.store.DeleteAllIndex(ctx); err != nil {
		return err
	}
	var refs []localstore.PageRef
	if err := w.store.Walk(model.NSPages, "page:", func(key string, _ []byte) error {
		k, err := model.ParseKey(key)
		if err != nil || k.Kind != model.KindPage {
			return nil
		}
		refs = append(refs, localstore.PageRef{ProjectID: k.ID, PageID: k.Secondary})
		return ctx.Err()
	}); err != nil {
		return err
	}
	// Logs can exist without a page record (a file that failed
	// extraction): the timeline takes every log record, not only pages'.
	hasPage := make(map[localstore.PageRef]bool, len(refs))
	for _, r := range refs {
		hasPage[r] = true
	}
	var logOnly []localstore.PageRef
	if err := w.store.Walk(model.NSLogs, "logs:", func(key string, _ []byte) error {
		k, err := model.ParseKey(key)
		if err != nil || k.Kind != model.KindLogs {
			return nil
		}
		if r := (localstore.PageRef{ProjectID: k.ID, PageID: k.Secondary}); !hasPage[r] {
			logOnly = append(logOnly, r)
		}
		return ctx.Err()
	}); err != nil {
		return err
	}
	for i := 0; i < len(logOnly); i += 500 {
		part := logOnly[i:min(i+500, len(logOnly))]
		if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
			for _, ref := range part {
				if err := indexLogs(tx, ref, true); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if len(refs) > 5000 {
		fmt.Fprintf(os.Stderr, "nimbus: indexing %d pages of %s (once, after an update)\n", len(refs), w.store.Path())
	}
	const chunk = 500
	for i := 0; i < len(refs); i += chunk {
		part := refs[i:min(i+chunk, len(refs))]
		if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
			defer tx.ReleaseMapped()
			for _, ref := range part {
				if _, _, _, err := resummarize(tx, ref, true); err != nil {
					return err
				}
				if err := indexLogs(tx, ref, true); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return w.store.Update(ctx, func(tx *localstore.Tx) error {
		aggs := map[string]*projectAggRec{}
		if err := tx.ScanIndex("sum:", func(k, v []byte) error {
			var s pageSummaryRec
			if err := decodeSummary(v, &s); err != nil {
				return fmt.Errorf("index record %s: %w", k, err)
			}
			project, _, _ := strings.Cut(string(k[len("sum:"):]), ":")
			a := aggs[project]
			if a == nil {
				a = &projectAggRec{}
				aggs[project] = a
			}
			a.add(&s, 1)
			return nil
		}); err != nil {
			return err
		}
		projects := make([]string, 0, len(aggs))
		for p := range aggs {
			projects = append(projects, p)
		}
		sort.Strings(projects)
		for _, p := range projects {
			if err := tx.PutIndex(aggKey(p), mustJSON(aggs[p])); err != nil {
				return err
			}
		}
		return tx.SetMeta(localstore.MetaIndexVersion, pageIndexVersion)
	})
}

// releaseEvery is how many records a long listing reads between two
// ReleaseMapped calls.
const releaseEvery = 2048

// summaries calls fn with every page summary of the project, in page ID
// order, States left out and Issues shared (decodeSummaryLean): fn must
// not change s.Issues' elements.
func (w *Workspace) summaries(ctx context.Context, projectID string, fn func(s *pageSummaryRec) error) error {
	if err := w.ensureIndex(ctx); err != nil {
		return err
	}
	intern, lists := map[string]string{}, &issueLists{}
	n := 0
	return w.store.View(func(tx *localstore.Tx) error {
		return tx.ScanIndex(summaryPrefix(projectID), func(k, v []byte) error {
			var s pageSummaryRec
			if err := decodeSummaryLean(v, &s, intern, lists); err != nil {
				return fmt.Errorf("index record %s: %w", k, err)
			}
			if err := fn(&s); err != nil {
				return err
			}
			if n++; n%releaseEvery == 0 {
				tx.ReleaseMapped() // the resident set stays that of a few thousand records
			}
			return ctx.Err()
		})
	})
}

// reviewSummaries calls fn with the summary of every page on the project's
// review list (a block in a state other than original), in page ID order.
func (w *Workspace) reviewSummaries(ctx context.Context, projectID string, fn func(s *pageSummaryRec) error) error {
	if err := w.ensureIndex(ctx); err != nil {
		return err
	}
	return w.store.View(func(tx *localstore.Tx) error {
		prefix := reviewListPrefix(projectID)
		return tx.ScanIndex(prefix, func(k, on []byte) error {
			if len(on) != 1 || on[0] != 1 {
				return nil
			}
			key := summaryKey(projectID, string(k[len(prefix):]))
			v, ok := tx.GetIndex(key)
			if !ok {
				return fmt.Errorf("index record %s: on the review list without a summary", k)
			}
			var s pageSummaryRec
			if err := decodeSummary(v, &s); err != nil {
				return fmt.Errorf("index record %s: %w", key, err)
			}
			if err := fn(&s); err != nil {
				return err
			}
			return ctx.Err()
		})
	})
}

// summaryStatuses reads the status records of pages from their summaries
// in one transaction (nil for a page never submitted or without one).
func (w *Workspace) summaryStatuses(ctx context.Context, projectID string, pageIDs []string) (map[string]*model.StatusData, error) {
	if err := w.ensureIndex(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]*model.StatusData, len(pageIDs))
	err := w.store.View(func(tx *localstore.Tx) error {
		for _, id := range pageIDs {
			if v, ok := tx.GetIndex(summaryKey(projectID, id)); ok {
				var s pageSummaryRec
				if err := decodeSummary(v, &s); err != nil {
					return fmt.Errorf("index record %s: %w", summaryKey(projectID, id), err)
				}
				out[id] = s.Status
			}
		}
		return ctx.Err()
	})
	return out, err
}

// summaryOf reads one page's summary; false when the page has none.
func (w *Workspace) summaryOf(ctx context.Context, projectID, pageID string) (pageSummaryRec, bool, error) {
	var s pageSummaryRec
	if err := w.ensureIndex(ctx); err != nil {
		return s, false, err
	}
	v, ok, err := w.store.GetIndex(summaryKey(projectID, pageID))
	if err != nil || !ok {
		return s, false, err
	}
	if err := decodeSummary(v, &s); err != nil {
		return s, false, fmt.Errorf("index record %s: %w", summaryKey(projectID, pageID), err)
	}
	return s, true, nil
}

// ProjectCounts is what the views count of a project, read from the
// index's aggregate (no page is read).
type ProjectCounts struct {
	Pages, Missing     int
	Proposals, Decided int
	Statuses           map[string]int // "" : never submitted
	ReviewStates       map[string]int // blocks per ReviewBlock.State
}

// Counts returns the project's counts from the page index.
func (w *Workspace) Counts(ctx context.Context, projectID string) (ProjectCounts, error) {
	if err := w.ensureIndex(ctx); err != nil {
		return ProjectCounts{}, err
	}
	v, ok, err := w.store.GetIndex(aggKey(projectID))
	if err != nil {
		return ProjectCounts{}, err
	}
	var a projectAggRec
	if ok {
		if err := json.Unmarshal(v, &a); err != nil {
			return ProjectCounts{}, fmt.Errorf("index record %s: %w", aggKey(projectID), err)
		}
	}
	return ProjectCounts{Pages: a.Pages, Missing: a.Missing, Proposals: a.Proposals, Decided: a.Decided,
		Statuses: a.Statuses, ReviewStates: a.States}, nil
}
