package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/model"
)

// PageRow is what the Pages table shows of one page; the full record is
// read again only for the detail panel, so 10,000 rows stay small.
type PageRow struct {
	PageID, SourcePath, Title string
	Dimensions                map[string]string
	Issues                    []model.AuditIssue
	Missing                   bool             // source_missing: the file is gone from the build
	Status                    model.StatusData // zero: never submitted
	Proposals                 int              // blocks with a current proposal (model's rule)
	Decided                   int              // blocks accepted or rejected
}

// pageSummary is the part of a page record the table shows. Decoding only
// these fields (not the blocks and selector map) keeps listing 10,000 pages
// fast and its garbage small.
type pageSummary struct {
	PageID     string `json:"page_id"`
	SourcePath string `json:"source_path"`
	Extraction struct {
		Head       map[string]string `json:"head"`
		Dimensions map[string]string `json:"dimensions"`
		Above      []summaryBlock    `json:"above_fold_blocks"`
		Rest       []summaryBlock    `json:"rest_of_page_blocks"`
	} `json:"extraction"`
	Optimization *struct {
		SourceHash      string `json:"source_hash"`
		OptimizedBlocks []struct {
			Content          string `json:"content"`
			OptimizedContent string `json:"optimized_content"`
		} `json:"optimized_blocks"`
	} `json:"optimization"`
	ContentHash   string       `json:"content_hash"`
	Audit         *model.Audit `json:"audit"`
	SourceMissing string       `json:"source_missing"`
}

// summaryBlock is what the duplicate audit needs of a block.
type summaryBlock struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

// auditPage is the page's part of the project-wide duplicate audit, or
// false for a page whose file is gone.
func (p *pageSummary) auditPage() (extract.AuditPage, bool) {
	return auditPageOf(p.PageID, p.SourceMissing, p.Extraction.Head, p.Extraction.Above, p.Extraction.Rest)
}

// auditPageOf is what the duplicate audit compares of a page (the fields
// workspace.Audit reports duplicates of), from a partly decoded record;
// false for a page whose file is gone.
func auditPageOf(pageID, sourceMissing string, head map[string]string, above, rest []summaryBlock) (extract.AuditPage, bool) {
	if sourceMissing != "" {
		return extract.AuditPage{}, false
	}
	ap := extract.AuditPage{Key: pageID, Title: head["title"], Description: head["metaDescription"], Canonical: head["canonical"]}
	for _, b := range append(above, rest...) {
		if b.Type == "h1" {
			ap.H1 = b.Content // as firstH1
			break
		}
	}
	return ap, true
}

func rowFromSummary(p *pageSummary) PageRow {
	r := PageRow{PageID: p.PageID, SourcePath: p.SourcePath, Title: p.Extraction.Head["title"], Dimensions: p.Extraction.Dimensions, Missing: p.SourceMissing != ""}
	if p.Audit != nil {
		r.Issues = p.Audit.Issues
	}
	// model's rule on the decoded part: a current optimization's blocks
	// whose optimized_content differs from their content (the Worker writes
	// the original there).
	if o := p.Optimization; o != nil && model.OptimizationCurrent(o.SourceHash, p.ContentHash) {
		for _, b := range o.OptimizedBlocks {
			if model.ProposalText(b.OptimizedContent, b.Content) != "" {
				r.Proposals++
			}
		}
	}
	return r
}

func rowFromPage(p model.PageData) PageRow {
	r := PageRow{PageID: p.PageID, SourcePath: p.SourcePath, Title: p.Extraction.Head["title"], Dimensions: p.Extraction.Dimensions, Missing: p.SourceMissing != ""}
	if p.Audit != nil {
		r.Issues = p.Audit.Issues
	}
	r.Proposals = len(p.Proposals())
	return r
}

func decidedCount(rv model.ReviewData) int {
	n := 0
	for _, d := range rv.Blocks {
		if d.State == model.ReviewAccepted || d.State == model.ReviewRejected {
			n++
		}
	}
	return n
}

// errEnough stops a listing early.
var errEnough = errors.New("enough rows")

// PageRows reads the project's pages with their status and review progress,
// in path order; limit > 0 reads only the first limit pages (in key order,
// for a first screen: bounded work whatever the size of the project).
func (w *Workspace) PageRows(ctx context.Context, projectID string, limit int) ([]PageRow, error) {
	st := w.store
	var rows []PageRow
	var audit []extract.AuditPage
	if err := st.List(model.NSPages, model.ProjectPrefix(model.KindPage, projectID), func(key string, value []byte) error {
		if limit > 0 && len(rows) >= limit {
			return errEnough
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var p pageSummary
		if err := json.Unmarshal(value, &p); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		rows = append(rows, rowFromSummary(&p))
		if ap, ok := p.auditPage(); ok && limit <= 0 {
			audit = append(audit, ap)
		}
		return nil
	}); err != nil && !errors.Is(err, errEnough) {
		return rows, fmt.Errorf("list pages of %s: %w", projectID, err)
	}
	idx := make(map[string]int, len(rows))
	for i, r := range rows {
		idx[r.PageID] = i
	}
	// The project-wide duplicate issues (same title, description, h1 or
	// canonical as other pages), as workspace.Audit reports them; the first
	// screen (limit) has too few pages to tell.
	for id, issues := range extract.AuditDuplicates(audit) {
		if i, ok := idx[id]; ok {
			rows[i].Issues = append(append([]model.AuditIssue(nil), rows[i].Issues...), issues...)
		}
	}
	sortRows := func() { sort.Slice(rows, func(i, j int) bool { return rows[i].SourcePath < rows[j].SourcePath }) }
	if limit > 0 {
		for i := range rows {
			if s, err := st.GetStatus(projectID, rows[i].PageID); err == nil {
				rows[i].Status = s
			}
			if rv, err := st.GetReview(projectID, rows[i].PageID); err == nil {
				rows[i].Decided = decidedCount(rv)
			}
		}
		sortRows()
		return rows, nil
	}
	if err := st.ListStatuses(projectID, func(pageID string, s model.StatusData) error {
		if i, ok := idx[pageID]; ok {
			rows[i].Status = s
		}
		return ctx.Err()
	}); err != nil {
		return rows, fmt.Errorf("list statuses of %s: %w", projectID, err)
	}
	prefix := model.ProjectPrefix(model.KindReview, projectID)
	if err := st.List(model.NSPages, prefix, func(key string, value []byte) error {
		if i, ok := idx[key[len(prefix):]]; ok {
			rv, err := decodeAs[model.ReviewData](key, value)
			if err != nil {
				return err
			}
			rows[i].Decided = decidedCount(rv)
		}
		return ctx.Err()
	}); err != nil {
		return rows, fmt.Errorf("list review decisions of %s: %w", projectID, err)
	}
	sortRows()
	return rows, nil
}

// PageRowOf reads one page's row (a live change of its page, status or
// review record).
func (w *Workspace) PageRowOf(projectID, pageID string) (PageRow, error) {
	p, err := w.store.GetPage(projectID, pageID)
	if err != nil {
		return PageRow{}, err
	}
	r := rowFromPage(p)
	if s, err := w.store.GetStatus(projectID, pageID); err == nil {
		r.Status = s
	}
	if rv, err := w.store.GetReview(projectID, pageID); err == nil {
		r.Decided = decidedCount(rv)
	}
	return r, nil
}
