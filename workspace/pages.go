package workspace

// Intake: importing a site folder into the mirror (extract.Scan over the
// store's file index), watching it, listing pages, the page audit and the
// export with reviewed blocks written back (extract.Apply).
//
// Review staleness needs no write here: review.go compares each decision's
// original_hash with the block's current text on read, so a re-imported
// page whose block text changed shows its decisions as stale.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// PageLine is one page in a listing.
type PageLine struct {
	PageID        string            `json:"page_id"`
	SourcePath    string            `json:"source_path"`
	Title         string            `json:"title"`
	Dimensions    map[string]string `json:"dimensions,omitempty"`
	Blocks        int               `json:"blocks"`
	Status        string            `json:"status,omitempty"`
	BatchID       string            `json:"batch_id,omitempty"`
	Issues        int               `json:"issues"`
	SourceMissing bool              `json:"source_missing,omitempty"`
}

// Pages lists the project's pages in source_path order; dims filters by
// dimension (every name=value must match).
func (w *Workspace) Pages(ctx context.Context, projectID string, dims map[string]string) ([]PageLine, error) {
	pid, err := w.ResolveProject(projectID)
	if err != nil {
		return nil, err
	}
	var out []PageLine
	err = w.store.List(model.NSPages, model.ProjectPrefix(model.KindPage, pid), func(key string, v []byte) error {
		var p model.PageData
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("page %s: %w", key, err)
		}
		for k, want := range dims {
			if p.Extraction.Dimensions[k] != want {
				return nil
			}
		}
		l := PageLine{PageID: p.PageID, SourcePath: p.SourcePath, Title: p.Extraction.Head["title"], Dimensions: p.Extraction.Dimensions,
			Blocks: len(p.Extraction.AboveFoldBlocks) + len(p.Extraction.RestOfPageBlocks), SourceMissing: p.SourceMissing != ""}
		if p.Audit != nil {
			l.Issues = len(p.Audit.Issues)
		}
		out = append(out, l)
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list pages of %s: %w", pid, err)
	}
	for i := range out {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := w.store.Get(model.NSStatus, model.StatusKey(pid, out[i].PageID))
		if errors.Is(err, localstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var st model.StatusData
		if json.Unmarshal(b, &st) == nil {
			out[i].Status, out[i].BatchID = st.Status, st.BatchID
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SourcePath < out[j].SourcePath })
	return out, nil
}
