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
	"fmt"
	"sort"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/model"
)

// AuditRow is one issue of one page (Screaming Frog-style).
type AuditRow struct {
	SourcePath        string `json:"source_path"`
	PageID            string `json:"page_id"`
	Code              string `json:"code"`
	Severity          string `json:"severity"`
	Message           string `json:"message"`
	TitleLength       int    `json:"title_length"`
	DescriptionLength int    `json:"description_length"`
	H1Count           int    `json:"h1_count"`
	WordCount         int    `json:"word_count"`
}

// Audit returns the project's page issues: those stored with each page at
// extraction plus the project-wide duplicates (title, description, h1,
// canonical), computed now over all pages so they never go stale and never
// force a page rewrite (a page record is rewritten only when its content
// changed).
func (w *Workspace) Audit(ctx context.Context, projectID string) ([]AuditRow, error) {
	pid, err := w.ResolveProject(projectID)
	if err != nil {
		return nil, err
	}
	dups, err := w.duplicateIssues(pid)
	if err != nil {
		return nil, err
	}
	var rows []AuditRow
	err = w.store.List(model.NSPages, model.ProjectPrefix(model.KindPage, pid), func(key string, v []byte) error {
		var p model.PageData
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("page %s: %w", key, err)
		}
		a := model.Audit{}
		if p.Audit != nil {
			a = *p.Audit
		}
		issues := append(append([]model.AuditIssue{}, a.Issues...), dups[p.PageID]...)
		for _, is := range issues {
			rows = append(rows, AuditRow{SourcePath: p.SourcePath, PageID: p.PageID, Code: is.Code, Severity: is.Severity, Message: is.Message,
				TitleLength: a.TitleLength, DescriptionLength: a.DescriptionLength, H1Count: a.H1Count, WordCount: a.WordCount})
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("audit %s: %w", pid, err)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].SourcePath != rows[j].SourcePath {
			return rows[i].SourcePath < rows[j].SourcePath
		}
		return rows[i].Code < rows[j].Code
	})
	return rows, nil
}

// duplicateIssues runs the project-wide duplicate pass (pages whose source
// is missing do not count) on the page index: no page record is read.
func (w *Workspace) duplicateIssues(pid string) (map[string][]model.AuditIssue, error) {
	var pages []extract.AuditPage
	err := w.summaries(context.Background(), pid, func(s *pageSummaryRec) error {
		if ap, ok := s.auditPage(); ok {
			pages = append(pages, ap)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("duplicate audit of %s: %w", pid, err)
	}
	return extract.AuditDuplicates(pages), nil
}

// firstH1 is the content of the page's first h1 block (the duplicate pass
// compares these).
func firstH1(e model.Extraction) string {
	for _, list := range [][]model.Block{e.AboveFoldBlocks, e.RestOfPageBlocks} {
		for _, b := range list {
			if b.Type == "h1" {
				return b.Content
			}
		}
	}
	return ""
}
