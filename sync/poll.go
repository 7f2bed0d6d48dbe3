package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

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
	if len(keys) == 0 {
		return st, nil
	}
	got, err := e.bulkGet(ctx, model.NSBatches, keys, &st)
	if err != nil {
		return st, fmt.Errorf("poll: %w", err)
	}
	// The pages whose entries moved since this desktop last merged the
	// batch: the Worker has written their status, page and log records.
	moved := map[string]bool{}
	var pages [][2]string // project, page
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
			if le, ok := lb.Pages[pid]; ok && le == re {
				continue
			}
			if id := lb.ProjectID + ":" + pid; !moved[id] {
				moved[id] = true
				pages = append(pages, [2]string{lb.ProjectID, pid})
			}
		}
	}
	if err := e.storePulled(ctx, model.NSBatches, keys, got, nil, &st); err != nil {
		return st, err
	}
	if len(pages) == 0 {
		return st, nil
	}
	sort.Slice(pages, func(i, j int) bool {
		return pages[i][0] < pages[j][0] || pages[i][0] == pages[j][0] && pages[i][1] < pages[j][1]
	})
	for _, kind := range pollKinds {
		ks := make([]string, 0, len(pages))
		for _, p := range pages {
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
	return st, nil
}
