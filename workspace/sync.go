package workspace

// Sync use cases: setup (find or create the eleven namespaces), push, pull,
// sync, submit (pages -> batches, queue items, statuses) and the status
// summary. The engine itself lives in package sync; this file wires it to
// the workspace's store, credentials and settings.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
)

// Meta keys (non-secret) of the sync settings.
const (
	metaNSPrefix = "sync.ns_prefix"
	metaRate     = "sync.rate"
	// metaCacheFull: "true" mirrors all of NIMBUS_CACHE on every pull
	// instead of fetching entries when they are opened.
	metaCacheFull = "sync.cache_full"
)

// DefaultNamespacePrefix is how the eleven namespaces' titles start.
const DefaultNamespacePrefix = "NIMBUS_"

// SyncOptions configure the engine a workspace builds.
type SyncOptions struct {
	// Remote replaces the Cloudflare remote (tests); credentials are then
	// not needed.
	Remote nsync.Remote
	// Credentials override the environment/keyring lookup.
	Credentials *nsync.Credentials
	// BaseURL overrides $NIMBUS_CF_API_BASE.
	BaseURL string
	// Rate is the account's requests per second (default: the sync.rate
	// setting, else 3).
	Rate   float64
	Logger *slog.Logger
}

// remote builds the Cloudflare remote from credentials.
func (w *Workspace) remote(o SyncOptions) (nsync.Remote, nsync.Credentials, error) {
	if o.Remote != nil {
		return o.Remote, nsync.Credentials{}, nil
	}
	var c nsync.Credentials
	if o.Credentials != nil {
		c = *o.Credentials
	} else {
		saved, err := w.store.Meta(nsync.MetaAccountID)
		if err != nil {
			return nil, c, err
		}
		if c, err = nsync.LoadCredentials(saved); err != nil {
			return nil, c, err
		}
	}
	r, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: c.AccountID, Token: c.Token, BaseURL: o.BaseURL})
	return r, c, err
}

// SetupOptions configure `nimbus setup`.
type SetupOptions struct {
	SyncOptions
	// Prefix of the namespace titles (default: the saved setting, else
	// NIMBUS_).
	Prefix string
	// SaveToken stores Credentials' token in the keyring (or the 0600
	// file) and the account ID in settings.
	SaveToken bool
}

// SetupResult says which namespaces were found and which created.
type SetupResult struct {
	AccountID  string            `json:"account_id"`
	Prefix     string            `json:"prefix"`
	Namespaces map[string]string `json:"namespaces"` // namespace -> remote ID
	Found      []string          `json:"found"`
	Created    []string          `json:"created"`
	TokenSaved string            `json:"token_saved,omitempty"` // "keyring" or "file"
}

// Setup finds the eleven namespaces by title (prefix + the part after
// NIMBUS_), creates the missing ones and stores their IDs in settings.
func (w *Workspace) Setup(ctx context.Context, o SetupOptions) (SetupResult, error) {
	prefix := o.Prefix
	if prefix == "" {
		prefix = w.namespacePrefix()
	}
	remote, creds, err := w.remote(o.SyncOptions)
	if err != nil {
		return SetupResult{}, fmt.Errorf("setup: %w", err)
	}
	res := SetupResult{AccountID: creds.AccountID, Prefix: prefix, Namespaces: map[string]string{}}
	pacer := w.pacer(creds.AccountID, o.Rate)
	var existing []nsync.NamespaceInfo
	list := func() error {
		return pacer.Do(ctx, func(ctx context.Context) error {
			var err error
			existing, err = remote.ListNamespaces(ctx)
			return err
		})
	}
	if err := list(); err != nil {
		return res, fmt.Errorf("setup: list namespaces: %w", err)
	}
	byTitle := map[string]string{}
	for _, n := range existing {
		byTitle[n.Title] = n.ID
	}
	for _, ns := range model.Namespaces {
		title := prefix + strings.TrimPrefix(string(ns), "NIMBUS_")
		if id, ok := byTitle[title]; ok {
			res.Namespaces[string(ns)] = id
			res.Found = append(res.Found, title)
			continue
		}
		var info nsync.NamespaceInfo
		err := pacer.Do(ctx, func(ctx context.Context) error {
			var err error
			info, err = remote.CreateNamespace(ctx, title)
			return err
		})
		var re *nsync.Error
		if errors.As(err, &re) && re.Code == nsync.CodeTitleExists {
			// Created meanwhile (another desktop's setup): look it up.
			if lerr := list(); lerr != nil {
				return res, fmt.Errorf("setup: list namespaces: %w", lerr)
			}
			for _, n := range existing {
				if n.Title == title {
					info, err = n, nil
				}
			}
		}
		if err != nil {
			return res, fmt.Errorf("setup: create namespace %s: %w", title, err)
		}
		res.Namespaces[string(ns)] = info.ID
		res.Created = append(res.Created, title)
	}
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		for ns, id := range res.Namespaces {
			if err := tx.SetMeta(nsync.MetaNamespacePrefix+ns, id); err != nil {
				return err
			}
		}
		if creds.AccountID != "" {
			if err := tx.SetMeta(nsync.MetaAccountID, creds.AccountID); err != nil {
				return err
			}
		}
		return tx.SetMeta(metaNSPrefix, prefix)
	})
	if err != nil {
		return res, fmt.Errorf("setup: save namespace IDs: %w", err)
	}
	if o.SaveToken && creds.Token != "" {
		where, err := nsync.SaveToken(creds.AccountID, creds.Token)
		if err != nil {
			return res, fmt.Errorf("setup: %w", err)
		}
		res.TokenSaved = where
	}
	return res, nil
}

func (w *Workspace) rate(r float64) float64 {
	if r > 0 {
		return r
	}
	if v, _ := w.store.Meta(metaRate); v != "" {
		var f float64
		if _, err := fmt.Sscanf(v, "%g", &f); err == nil && f > 0 {
			return f
		}
	}
	return 3
}

// pacer is the account's pacer: one per process, its schedule shared with
// the user's other Nimbus processes through the budget file in the user
// config dir, at the rate of this call (a changed setting applies at once).
func (w *Workspace) pacer(accountID string, rate float64) *nsync.Pacer {
	file, err := nsync.BudgetFile(accountID)
	if err != nil && accountID != "" {
		slog.Warn("request budget: no config dir for the schedule shared with the other Nimbus processes; this one spaces its requests alone", "err", err.Error())
	}
	if err != nil {
		file = ""
	}
	p := nsync.AccountPacer(accountID, nsync.PacerConfig{Rate: w.rate(rate), SharedFile: file})
	if rate <= 0 {
		w.pacersMu.Lock()
		if w.pacers == nil {
			w.pacers = map[*nsync.Pacer]bool{}
		}
		w.pacers[p] = true
		w.pacersMu.Unlock()
	}
	return p
}

// Syncer builds the sync engine of this workspace (setup must have run).
func (w *Workspace) Syncer(o SyncOptions) (*Syncer, error) {
	e, err := w.engine(o)
	if err != nil {
		return nil, err
	}
	return &Syncer{e: e}, nil
}

// engine builds the sync engine (setup must have run).
func (w *Workspace) engine(o SyncOptions) (*nsync.Engine, error) {
	ids, err := nsync.NamespaceIDs(w.store)
	if err != nil {
		return nil, err
	}
	if len(ids) < len(model.Namespaces) {
		return nil, fmt.Errorf("sync: %d of %d namespace IDs known: run 'nimbus setup' first", len(ids), len(model.Namespaces))
	}
	remote, creds, err := w.remote(o)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	cacheFull, _ := w.store.Meta(metaCacheFull)
	return nsync.NewEngine(nsync.EngineConfig{
		Store: w.store, Remote: remote, NamespaceIDs: ids, Logger: o.Logger, CacheFull: cacheFull == "true",
		Pacer: w.pacer(creds.AccountID, o.Rate),
	})
}

// SubmitOptions configure Submit.
type SubmitOptions struct {
	ProjectID string // "" = current project
	// BatchID submits an existing batch; "" submits every page waiting:
	// imported pages in their upload batch (uploading -> queued), pages
	// without a status record in new batches.
	BatchID string
	// PageIDs limits a new submission to these pages.
	PageIDs  []string
	Priority int // 1-10, default 5
	// Failed resubmits the pages whose status is failed (of BatchID when
	// set, else of the whole project) in a new batch.
	Failed bool
}

// SubmitResult lists the batches submitted.
type SubmitResult struct {
	ProjectID string   `json:"project_id"`
	Batches   []string `json:"batches"`
	Pages     int      `json:"pages"`
}

// Submit queues pages for the Worker: each batch goes to `queued`, every
// page gets a queue item (priority, attempts 0) and a `queued` status. A new
// submission larger than the project's max_pages_per_batch is split into
// several batches. Everything is one local transaction; the sync engine
// pushes it (pages first, by outbox order).
func (w *Workspace) Submit(ctx context.Context, o SubmitOptions) (SubmitResult, error) {
	pid, err := w.ResolveProject(o.ProjectID)
	if err != nil {
		return SubmitResult{}, err
	}
	prio := o.Priority
	if prio == 0 {
		prio = 5
	}
	if prio < 1 || prio > 10 {
		return SubmitResult{}, fmt.Errorf("submit: priority %d is not within 1-10", prio)
	}
	res := SubmitResult{ProjectID: pid}
	if o.Failed {
		ids, err := w.failedPages(pid, o.BatchID)
		if err != nil {
			return res, fmt.Errorf("submit: %w", err)
		}
		if len(ids) == 0 {
			where := "project " + pid
			if o.BatchID != "" {
				where = "batch " + o.BatchID
			}
			return res, fmt.Errorf("submit: %s has no failed pages", where)
		}
		o.PageIDs, o.BatchID = ids, ""
	}
	now := time.Now().UTC()
	stamp := model.FormatTime(now)
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		res.Batches, res.Pages = nil, 0
		proj, err := txProject(tx, pid)
		if err != nil {
			return err
		}
		maxPer := proj.Settings.MaxPagesPerBatch
		if maxPer <= 0 {
			maxPer = DefaultMaxPagesPerBatch
		}
		var batches []model.BatchData
		if o.BatchID != "" {
			b, ok, err := getJSON[model.BatchData](tx, model.NSBatches, model.BatchKey(pid, o.BatchID))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no batch %s in project %s", o.BatchID, pid)
			}
			batches = append(batches, b)
		} else {
			pages, err := unsubmittedPages(tx, pid, o.PageIDs)
			if err != nil {
				return err
			}
			if len(pages) == 0 {
				return fmt.Errorf("project %s has no pages waiting to be submitted", pid)
			}
			// Pages an import put into an upload batch (status uploaded,
			// batch still uploading) are submitted in that batch; with
			// PageIDs only those pages of it are.
			if batches, pages, err = uploadBatches(tx, pid, pages); err != nil {
				return err
			}
			taken := func(id string) bool {
				_, err := tx.Get(model.NSBatches, model.BatchKey(pid, id))
				return err == nil
			}
			t := now
			for lo := 0; lo < len(pages); lo += maxPer {
				id := model.NextBatchID(t, func(id string) bool {
					if taken(id) {
						return true
					}
					for _, b := range batches {
						if b.BatchID == id {
							return true
						}
					}
					return false
				})
				b := model.BatchData{BatchID: id, ProjectID: pid, Created: stamp, Status: model.BatchUploading, Pages: map[string]model.BatchPage{}}
				for _, p := range pages[lo:min(lo+maxPer, len(pages))] {
					b.Pages[p.PageID] = model.BatchPage{Status: model.StatusUploaded, Uploaded: p.Uploaded}
				}
				batches = append(batches, b)
				t = t.Add(time.Second)
			}
		}
		sort.Slice(batches, func(i, j int) bool { return batches[i].BatchID < batches[j].BatchID })
		q, _, err := getJSON[model.QueueData](tx, model.NSQueue, model.QueueKey(pid))
		if err != nil {
			return err
		}
		only := map[string]bool{}
		for _, id := range o.PageIDs {
			only[id] = true
		}
		var items []model.QueueItem
		for _, b := range batches {
			ids := make([]string, 0, len(b.Pages))
			for id := range b.Pages {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				bp := b.Pages[id]
				if model.PageStatusRank(bp.Status) >= model.PageStatusRank(model.StatusQueued) {
					continue // already queued or further
				}
				if len(only) > 0 && !only[id] {
					continue // not selected: stays uploaded in its batch
				}
				bp.Status = model.StatusQueued
				b.Pages[id] = bp
				st := model.StatusData{Status: model.StatusQueued, BatchID: b.BatchID, Updated: stamp}
				if err := tx.PutJSON(model.NSStatus, model.StatusKey(pid, id), st); err != nil {
					return err
				}
				// The editor's intent, kept until the page is past queued:
				// the sync re-queues it if the remote queue loses it.
				if err := tx.SetMeta(nsync.MetaQueuedIntent(model.StatusKey(pid, id)), b.BatchID); err != nil {
					return err
				}
				items = append(items, model.QueueItem{PageID: id, BatchID: b.BatchID, Priority: prio, QueuedAt: stamp, Attempts: 0})
				res.Pages++
			}
			b.PageCount = len(b.Pages)
			// Submitted pages are queued; once the Worker starts, the
			// derived status (processing, completed, failed) takes over.
			if b.Status = model.DerivedBatchStatus(b.Pages); b.Status == "" {
				b.Status = model.BatchQueued
				for _, bp := range b.Pages {
					if model.PageStatusRank(bp.Status) < model.PageStatusRank(model.StatusQueued) {
						b.Status = model.BatchUploading // some pages are still to be submitted
						break
					}
				}
			}
			b.Summary = model.BatchSummaryOf(b.Pages)
			if err := tx.PutJSON(model.NSBatches, model.BatchKey(pid, b.BatchID), b); err != nil {
				return err
			}
			res.Batches = append(res.Batches, b.BatchID)
		}
		if len(items) > 0 {
			merged := model.MergeQueueData(q, model.QueueData{Items: items})
			if err := tx.PutJSON(model.NSQueue, model.QueueKey(pid), merged); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("submit: %w", err)
	}
	return res, nil
}

// failedPages lists the project's pages whose status is failed (in batchID
// when it is set), in ID order.
func (w *Workspace) failedPages(pid, batchID string) ([]string, error) {
	var ids []string
	err := w.store.List(model.NSStatus, model.ProjectPrefix(model.KindStatus, pid), func(key string, v []byte) error {
		d, err := model.DecodeValue(key, v)
		if err != nil {
			return nil // a bad record is not a failed page; the sync reports it
		}
		st := d.(*model.StatusData)
		if st.Status != model.StatusFailed || (batchID != "" && st.BatchID != batchID) {
			return nil
		}
		ids = append(ids, key[strings.LastIndexByte(key, ':')+1:])
		return nil
	})
	return ids, err
}

// uploadBatches splits pages into the import upload batches (still
// uploading) that hold them and the pages in none.
func uploadBatches(tx *localstore.Tx, pid string, pages []model.PageData) ([]model.BatchData, []model.PageData, error) {
	byID := map[string]*model.BatchData{}
	var order []string
	var rest []model.PageData
	for _, p := range pages {
		st, ok, err := getJSON[model.StatusData](tx, model.NSStatus, model.StatusKey(pid, p.PageID))
		if err != nil {
			return nil, nil, err
		}
		if ok && st.Status == model.StatusUploaded && st.BatchID != "" {
			b, seen := byID[st.BatchID]
			if !seen {
				bd, found, err := getJSON[model.BatchData](tx, model.NSBatches, model.BatchKey(pid, st.BatchID))
				if err != nil {
					return nil, nil, err
				}
				if found && bd.Status == model.BatchUploading {
					b = &bd
					order = append(order, st.BatchID)
				}
				byID[st.BatchID] = b
			}
			if b != nil {
				if _, in := b.Pages[p.PageID]; in {
					continue
				}
			}
		}
		rest = append(rest, p)
	}
	batches := make([]model.BatchData, 0, len(order))
	for _, id := range order {
		batches = append(batches, *byID[id])
	}
	return batches, rest, nil
}

// unsubmittedPages returns the project's pages without a status record (or
// only those in ids), in key order.
func unsubmittedPages(tx *localstore.Tx, pid string, ids []string) ([]model.PageData, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []model.PageData
	err := tx.List(model.NSPages, model.ProjectPrefix(model.KindPage, pid), func(key string, v []byte) error {
		p, err := model.DecodeValue(key, v)
		if err != nil {
			return fmt.Errorf("page %s: %w", key, err)
		}
		pg := *p.(*model.PageData)
		if len(want) > 0 && !want[pg.PageID] {
			return nil
		}
		// A page only imported (status uploaded, in its upload batch) is
		// still waiting to be submitted.
		if st, ok, err := getJSON[model.StatusData](tx, model.NSStatus, model.StatusKey(pid, pg.PageID)); err != nil {
			return err
		} else if ok && len(want) == 0 && !model.NotSubmitted(st.Status) {
			return nil
		}
		out = append(out, pg)
		return nil
	})
	return out, err
}

// StatusSummary is `nimbus status`: page counts by status for a project or a
// batch, per batch, and the sync state.
type StatusSummary struct {
	ProjectID string         `json:"project_id"`
	BatchID   string         `json:"batch_id,omitempty"`
	Pages     int            `json:"pages"`
	Counts    map[string]int `json:"counts"` // status -> pages (no status: "not_submitted")
	Batches   []BatchLine    `json:"batches"`
	Waiting   int            `json:"changes_waiting"`
}

// BatchLine is one batch's progress.
type BatchLine struct {
	BatchID   string             `json:"batch_id"`
	Status    string             `json:"status"`
	PageCount int                `json:"page_count"`
	Summary   model.BatchSummary `json:"summary"`
}

// Busy reports whether the project has pages queued or processing (the
// GUI polls faster then), from the page index: nothing is listed.
func (w *Workspace) Busy(ctx context.Context, projectID string) (bool, error) {
	c, err := w.Counts(ctx, projectID)
	if err != nil {
		return false, err
	}
	return c.Statuses[model.StatusQueued]+c.Statuses[model.StatusProcessing] > 0, nil
}

// Busy reports whether some batch still has pages queued or processing.
func (s StatusSummary) Busy() bool {
	return s.Counts[model.StatusQueued]+s.Counts[model.StatusProcessing] > 0
}

// Status summarises the local mirror (pull first for live figures).
func (w *Workspace) Status(ctx context.Context, projectID, batchID string) (StatusSummary, error) {
	pid, err := w.ResolveProject(projectID)
	if err != nil {
		return StatusSummary{}, err
	}
	s := StatusSummary{ProjectID: pid, BatchID: batchID, Counts: map[string]int{}}
	if batchID == "" {
		// The project's counts come from the page index's aggregate: no
		// page or status record is read, whatever the size of the site.
		c, err := w.Counts(ctx, pid)
		if err != nil {
			return s, err
		}
		s.Pages = c.Pages
		for st, n := range c.Statuses {
			if st == "" {
				st = "not_submitted"
			}
			s.Counts[st] += n
		}
	}
	var batch model.BatchData
	if err := w.store.ListBatches(pid, func(b model.BatchData) error {
		if batchID == "" || b.BatchID == batchID {
			s.Batches = append(s.Batches, BatchLine{BatchID: b.BatchID, Status: b.Status, PageCount: b.PageCount, Summary: b.Summary})
		}
		if batchID == b.BatchID {
			batch = b
		}
		return ctx.Err()
	}); err != nil {
		return s, err
	}
	if batch.BatchID != "" {
		// The pages' statuses from their summaries, in one read.
		ids := make([]string, 0, len(batch.Pages))
		for id := range batch.Pages {
			ids = append(ids, id)
		}
		statuses, err := w.summaryStatuses(ctx, pid, ids)
		if err != nil {
			return s, err
		}
		for id, bp := range batch.Pages {
			s.Pages++
			if st := statuses[id]; st != nil && st.BatchID == batchID {
				s.Counts[st.Status]++
			} else {
				s.Counts[bp.Status]++
			}
		}
	}
	if batchID != "" && len(s.Batches) == 0 {
		return s, fmt.Errorf("status: no batch %s in project %s", batchID, pid)
	}
	s.Waiting, _ = w.store.OutboxLen()
	return s, nil
}
