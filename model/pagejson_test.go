package model

import (
	"bytes"
	"testing"
)

// CanonicalPage writes exactly Canonical's bytes, with and without the
// fields after the extraction.
func TestCanonicalPageIsCanonical(t *testing.T) {
	ex := Extraction{Engine: "t", MainSelector: "main", Head: map[string]string{"title": "A <b> & \"c\""},
		Dimensions:       map[string]string{"brand": "rolex"},
		AboveFoldBlocks:  []Block{{ID: "block-0", Type: "h1", Content: "Rolex é"}},
		RestOfPageBlocks: []Block{}, SelectorMap: map[string]string{"block-0": "main > h1"}}
	base := PageData{PageID: "page_0123456789ab", ProjectID: "proj_0123456789ab", SourcePath: "dist/a.html",
		Uploaded: "2026-12-01T00:00:00.000Z", Extraction: ex}
	full := base
	full.ContentHash = ContentHash(ex)
	full.Optimization = &Optimization{Completed: "2026-12-01T00:00:01.000Z", Model: "m", SourceHash: full.ContentHash}
	full.Audit = &Audit{Issues: []AuditIssue{}}
	full.SourceMissing = "2026-12-02T00:00:00.000Z"
	for _, p := range []PageData{base, full} {
		if got, want := CanonicalPage(p, Canonical(p.Extraction)), Canonical(p); !bytes.Equal(got, want) {
			t.Errorf("CanonicalPage:\n%s\nCanonical:\n%s", got, want)
		}
		if got, want := CanonicalPage(p, nil), Canonical(p); !bytes.Equal(got, want) {
			t.Errorf("CanonicalPage without extraction bytes differs")
		}
	}
}
