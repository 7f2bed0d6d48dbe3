package ui

import (
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// The QA filter offers words, not codes ("Too long", not "too_long"), and
// filters by the code.
func TestReviewQAFilterShowsLabels(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(2)
	v := s.review
	for _, o := range v.qaSel.Options {
		if strings.Contains(o, "_") {
			t.Errorf("the QA filter offers %q", o)
		}
	}
	// every check the fixture's proposals fail has its words
	v.stateSel.SetSelected(stateEverything)
	codes := map[string]bool{}
	for _, b := range v.blocks {
		for _, q := range b.QA {
			codes[q.Code] = true
		}
	}
	// and the checks of a proposal the fixture does not fail
	for _, c := range [][3]string{
		{"p", "Rolex repair", " "},
		{model.BlockTypeTitle, "Rolex repair", strings.Repeat("Rolex repair ", 6)},
		{"p", "Rolex repair", strings.Repeat("Rolex repair ", 20)},
		{"p", "from £119", "from 119"},
		{"p", "open 7 days", "open every day"},
		{"p", "Rolex repair", "Watch repair"},
		{"p", "Rolex repair", "<b>Rolex</b> repair"},
	} {
		for _, q := range workspace.CheckProposal(c[0], c[1], c[2], map[string]string{"brand": "rolex"}) {
			codes[q.Code] = true
		}
	}
	if len(codes) < 8 {
		t.Fatalf("the test meets only the checks %v", codes)
	}
	for code := range codes {
		found := false
		for _, q := range qaFilters {
			found = found || q.code == code
		}
		if !found {
			t.Errorf("the QA filter offers nothing for %q", code)
		}
	}
	v.qaSel.SetSelected("Too long")
	if f := v.filter(); f.QA != "too_long" {
		t.Fatalf("'Too long' filters by %q", f.QA)
	}
	if len(v.blocks) == 0 {
		t.Fatal("no block of the fixture is too long")
	}
	for _, b := range v.blocks {
		found := false
		for _, q := range b.QA {
			found = found || q.Code == "too_long"
		}
		if !found {
			t.Errorf("%s %s is listed under 'Too long' with QA %+v", b.SourcePath, b.BlockID, b.QA)
		}
	}
}
