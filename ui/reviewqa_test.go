package ui

import (
	"strings"
	"testing"
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
