package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// Poll is the live poll while batches run; Watch calls it at the fast
// interval between full syncs. It reads only what moves: the records of
// the active batches (queued or processing here; one bulk get for up to
// 100) and, for the pages whose batch entries changed, their status, page
// and log records by bulk get; then it pushes what is waiting. Its cost is
// bounded by the batches and pages that changed, not by the size of the
// site: 1 + 3*ceil(changed/100) requests, plus the push. Everything else
// (other editors' reviews, projects without an active batch, the queue)
// arrives with the full sync at the slow interval.
func (e *Engine) Poll(ctx context.Context) (Stats, error) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	st, err := e.poll(ctx)
	if err == nil {
		var ws Stats
		ws, err = e.push(ctx, nil)
		st.add(ws)
	}
	e.finish(err)
	return st, err
}

// pollKinds are the records the Worker writes for a page it processed.
var pollKinds = []model.Kind{model.KindStatus, model.KindPage, model.KindLogs}

func (e *Engine) poll(ctx context.Context) (Stats, error) {
	var st Stats
	projects, err := e.cfg.Projects()
	if err != nil {
		return st, fmt.Errorf("poll: projects: %w", err)
	}
	sort.Strings(projects)
	var keys []string
	local := map[string]model.BatchData{}
	for _, p := range projects {
		err := e.cfg.Store.ListBatches(p, func(b model.BatchData) error {
			if b.Status == model.BatchQueued || b.Status == model.BatchProcessing {
				k := model.BatchKey(p, b.BatchID)
				keys = append(keys, k)
				local[k] = b
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("poll: batches of %s: %w", p, err)
		}
	}
	if len(keys) == 0 && len(e.pollAgain) == 0 {
		return st, nil
	}
	got := map[string]Item{}
	if len(keys) > 0 {
		if got, err = e.bulkGet(ctx, model.NSBatches, keys, &st); err != nil {
			return st, fmt.Errorf("poll: %w", err)
		}
	}
	// The pages whose entries moved since this desktop last merged the
	// batch: the Worker has written their status, page and log records.
	moved := map[string]bool{}
	var pages [][2]string       // project, page
	want := map[string]string{} // "project:page" -> the status its batch entry shows
	for _, k := range keys {
		it := got[k]
		if !it.Found {
			continue
		}
		var rb model.BatchData
		if json.Unmarshal(it.Value, &rb) != nil {
			continue // storePulled refuses it, with a log entry
		}
		lb := local[k]
		for pid, re := range rb.Pages {
			id := lb.ProjectID + ":" + pid
			want[id] = re.Status
			if le, ok := lb.Pages[pid]; ok && le == re {
				continue
			}
			if !moved[id] {
				moved[id] = true
				pages = append(pages, [2]string{lb.ProjectID, pid})
			}
		}
	}
	// And the pages the last poll read too early (their batch may have
	// completed since).
	for id, status := range e.pollAgain {
		if !moved[id] {
			moved[id] = true
			pid, page, _ := strings.Cut(id, ":")
			pages = append(pages, [2]string{pid, page})
			want[id] = status
		}
	}
	if err := e.storePulled(ctx, model.NSBatches, keys, got, nil, &st); err != nil {
		return st, err
	}
	// The Worker writes a batch entry when a page ends, not when it starts;
	// the pages it is working on now are, by its order (priority, then
	// age), the first waiting ones of the project's queue: their statuses
	// (one bulk get a project) show "processing" without a full sync.
	peek, err := e.queueHeads(projects, local, moved)
	if err != nil {
		return st, err
	}
	if len(pages) == 0 && len(peek) == 0 {
		return st, nil
	}
	byKey := func(ps [][2]string) {
		sort.Slice(ps, func(i, j int) bool {
			return ps[i][0] < ps[j][0] || ps[i][0] == ps[j][0] && ps[i][1] < ps[j][1]
		})
	}
	byKey(pages)
	byKey(peek)
	for _, kind := range pollKinds {
		read := pages
		if kind == model.KindStatus {
			read = append(append([][2]string(nil), pages...), peek...)
		}
		ks := make([]string, 0, len(read))
		for _, p := range read {
			switch kind {
			case model.KindStatus:
				ks = append(ks, model.StatusKey(p[0], p[1]))
			case model.KindPage:
				ks = append(ks, model.PageKey(p[0], p[1]))
			case model.KindLogs:
				ks = append(ks, model.LogsKey(p[0], p[1]))
			}
		}
		ns := kind.Namespace()
		for i := 0; i < len(ks); i += MaxBulkGet {
			chunk := ks[i:min(i+MaxBulkGet, len(ks))]
			got, err := e.bulkGet(ctx, ns, chunk, &st)
			if err != nil {
				return st, fmt.Errorf("poll: %w", err)
			}
			if err := e.storePulled(ctx, ns, chunk, got, nil, &st); err != nil {
				return st, err
			}
		}
	}
	// A page whose batch entry is terminal but whose status here is not was
	// read before its status write reached this edge: read it next time too.
	if e.pollAgain == nil {
		e.pollAgain = map[string]string{}
	}
	for _, p := range pages {
		id := p[0] + ":" + p[1]
		entry := want[id]
		local, err := e.cfg.Store.GetStatus(p[0], p[1])
		if terminal(entry) && (err != nil || local.Status != entry) {
			e.pollAgain[id] = entry
		} else {
			delete(e.pollAgain, id)
		}
	}
	return st, nil
}

func terminal(status string) bool { return status == model.StatusDone || status == model.StatusFailed }

// queueHeads are up to MaxBulkGet pages per project with an active batch:
// the first items of its local queue record (priority, then age: the
// Worker's order) whose status here is not terminal and that the poll does
// not read anyway (moved).
func (e *Engine) queueHeads(projects []string, active map[string]model.BatchData, moved map[string]bool) ([][2]string, error) {
	busy := map[string]bool{}
	for _, b := range active {
		busy[b.ProjectID] = true
	}
	var out [][2]string
	for _, pid := range projects {
		if !busy[pid] {
			continue
		}
		q, err := e.cfg.Store.GetQueue(pid)
		if errors.Is(err, localstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("poll: queue of %s: %w", pid, err)
		}
		items := append([]model.QueueItem(nil), q.Items...)
		sort.SliceStable(items, func(i, j int) bool {
			if items[i].Priority != items[j].Priority {
				return items[i].Priority > items[j].Priority
			}
			return items[i].QueuedAt < items[j].QueuedAt
		})
		n := 0
		for _, it := range items {
			if n == MaxBulkGet {
				break
			}
			if moved[pid+":"+it.PageID] {
				continue
			}
			if s, err := e.cfg.Store.GetStatus(pid, it.PageID); err == nil && terminal(s.Status) {
				continue
			}
			out = append(out, [2]string{pid, it.PageID})
			n++
		}
	}
	return out, nil
}
