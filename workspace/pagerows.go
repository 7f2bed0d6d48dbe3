package workspace

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// PageRow is what the Pages table shows of one page; the full record is
// read again only for the detail panel, so 10,000 rows stay small.
type PageRow struct {
	PageID, SourcePath, Title string
	Dimensions                Dims
	Issues                    []model.AuditIssue // code and severity (the page record has the messages)
	Missing                   bool               // source_missing: the file is gone from the build
	Status                    model.StatusData   // zero: never submitted
	Proposals                 int                // blocks with a current proposal (model's rule)
	Decided                   int                // blocks accepted or rejected
}

// rowOf is a page's row from its summary (the index, pageindex.go).
func rowOf(s *pageSummaryRec) PageRow {
	r := PageRow{PageID: s.PageID, SourcePath: s.SourcePath, Title: s.Title, Dimensions: s.Dimensions, Missing: s.Missing,
		Issues: s.Issues, Proposals: s.Proposals, Decided: s.Decided}
	if s.Status != nil {
		r.Status = *s.Status
	}
	return r
}

// auditPage is the page's part of the project-wide duplicate audit, or
// false for a page whose file is gone.
func (s *pageSummaryRec) auditPage() (extract.AuditPage, bool) {
	if s.Missing {
		return extract.AuditPage{}, false
	}
	return extract.AuditPage{Key: s.PageID, Title: s.Title, Description: s.Description, Canonical: s.Canonical, H1: s.H1}, true
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
// in path order, from the page index (no page record is decoded); limit > 0
// reads only the first limit pages in path order (a first screen: bounded
// work whatever the size of the project; without the project-wide
// duplicate issues, which need every page).
func (w *Workspace) PageRows(ctx context.Context, projectID string, limit int) ([]PageRow, error) {
	if limit > 0 {
		return w.firstRows(ctx, projectID, limit)
	}
	// Sized once from the index's count: appending 100,000 rows would
	// leave as much again in grown-out copies for the collector.
	var rows []PageRow
	var audit []extract.AuditPage
	var auditRow []int32 // audit[j] is the page of rows[auditRow[j]]
	if c, err := w.Counts(ctx, projectID); err == nil && c.Pages > 0 {
		rows, audit, auditRow = make([]PageRow, 0, c.Pages), make([]extract.AuditPage, 0, c.Pages), make([]int32, 0, c.Pages)
	}
	if err := w.summaries(ctx, projectID, func(s *pageSummaryRec) error {
		rows = append(rows, rowOf(s))
		if ap, ok := s.auditPage(); ok {
			audit = append(audit, ap)
			auditRow = append(auditRow, int32(len(rows)-1))
		}
		return nil
	}); err != nil {
		return rows, fmt.Errorf("list pages of %s: %w", projectID, err)
	}
	// The project-wide duplicate issues (same title, description, h1 or
	// canonical as other pages), as workspace.Audit reports them (the first
	// screen, firstRows, has too few pages to tell).
	mask := extract.DuplicateMask(audit)
	audit = nil
	var lists issueLists // the merged lists shared too: most pages have one of a few
	var merged []model.AuditIssue
	for j, m := range mask {
		if m == 0 {
			continue
		}
		i := auditRow[j]
		merged = append(merged[:0], rows[i].Issues...)
		for code := range extract.DuplicateCodesOf(m) { // the codes only (Audit has the messages)
			merged = append(merged, model.AuditIssue{Code: code, Severity: "warn"})
		}
		rows[i].Issues = lists.shared(merged)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].SourcePath < rows[j].SourcePath })
	return rows, nil
}

// firstRows is PageRows' first screen: the path index's first limit pages.
func (w *Workspace) firstRows(ctx context.Context, projectID string, limit int) ([]PageRow, error) {
	if err := w.ensureIndex(ctx); err != nil {
		return nil, err
	}
	var rows []PageRow
	err := w.store.View(func(tx *localstore.Tx) error {
		return tx.ScanIndex(pathIndexPrefix(projectID), func(_, id []byte) error {
			if len(rows) >= limit {
				return errEnough
			}
			v, ok := tx.GetIndex(summaryKey(projectID, string(id)))
			if !ok {
				return nil
			}
			var s pageSummaryRec
			if err := decodeSummary(v, &s); err != nil {
				return fmt.Errorf("index record %s: %w", summaryKey(projectID, string(id)), err)
			}
			rows = append(rows, rowOf(&s))
			return ctx.Err()
		})
	})
	if err != nil && !errors.Is(err, errEnough) {
		return rows, fmt.Errorf("list pages of %s: %w", projectID, err)
	}
	return rows, nil
}

// PageRowOf reads one page's row (a live change of its page, status or
// review record).
func (w *Workspace) PageRowOf(projectID, pageID string) (PageRow, error) {
	s, ok, err := w.summaryOf(context.Background(), projectID, pageID)
	if err != nil {
		return PageRow{}, err
	}
	if !ok {
		return PageRow{}, fmt.Errorf("page %s of %s: %w", pageID, projectID, localstore.ErrNotFound)
	}
	return rowOf(&s), nil
}
