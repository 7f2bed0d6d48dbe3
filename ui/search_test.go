package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// Text search in Review (paths, originals, proposals; the query runs in
// the workspace) and in Logs (the loaded lines); Enter gives the keyboard
// back to the list, so A/R/N work again.
func TestReviewAndLogsTextSearch(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(2)
	all := len(s.review.blocks)
	test.Type(s.review.search, "polishing")
	if n := len(s.review.blocks); n == 0 || n >= all {
		t.Fatalf("search 'polishing': %d of %d blocks", n, all)
	}
	for _, b := range s.review.blocks {
		if !containsFold(b.SourcePath+b.Original+b.Suggested+b.Text, "polishing") {
			t.Errorf("%s %s does not contain the search text", b.SourcePath, b.BlockID)
		}
	}
	s.win.Canvas().Focus(s.review.search)
	s.review.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if s.win.Canvas().Focused() != nil {
		t.Error("Enter in the search field left the focus there")
	}
	s.review.search.SetText("")
	if len(s.review.blocks) != all {
		t.Errorf("cleared search: %d blocks, want %d", len(s.review.blocks), all)
	}

	s.tabs.SelectIndex(3)
	lines := len(s.logs.visible)
	if lines == 0 {
		t.Fatal("the fixture has no log lines")
	}
	test.Type(s.logs.search, "AUDIT ISSUES")
	if n := len(s.logs.visible); n == 0 || n >= lines {
		t.Fatalf("logs search: %d of %d lines", n, lines)
	}
	for _, l := range s.logs.visible {
		if !strings.Contains(strings.ToLower(l.entry.Message+s.batches.pathOf(l.pageID)), "audit issues") {
			t.Errorf("line %q does not contain the search text", l.entry.Message)
		}
	}
}

// An error dialog holds the keys like every other dialog: after A on a
// QA-blocked block, R pressed while the error shows must not reject the
// block behind it (the walk through the GUI lost 4 blocks that way); Esc
// closes it, and then R works.
func TestErrorDialogHoldsTheKeys(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(2)
	v := s.review
	i := -1
	for j, b := range v.blocks {
		if b.HasQAError() {
			i = j
			break
		}
	}
	if i < 0 {
		t.Fatal("no QA-blocked proposal in the fixture")
	}
	v.show(i)
	b := v.blocks[i]
	state := func() string {
		r, err := storeOf(ws).GetReview(proj, b.PageID)
		if err != nil {
			return ""
		}
		return r.Blocks[b.BlockID].State
	}
	c := s.win.Canvas()
	test.TypeOnCanvas(c, "a")
	if s.dlg == nil {
		t.Fatal("A on a QA-blocked block shows no error")
	}
	if v.cur != i {
		t.Errorf("A on a blocked block moved to block %d", v.cur)
	}
	test.TypeOnCanvas(c, "r")
	if st := state(); st != "" {
		t.Fatalf("R behind the error dialog decided the block: %q", st)
	}
	c.(interface{ OnTypedKey() func(*fyne.KeyEvent) }).OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.dlg != nil {
		t.Fatal("Esc left the error dialog open")
	}
	test.TypeOnCanvas(c, "r")
	if st := state(); st != "rejected" {
		t.Errorf("R after the dialog closed: %q, want rejected", st)
	}
}

// The page detail shows a page of the table: a search that hides it closes
// the detail (a Birmingham page stayed open beside five Bristol rows).
func TestPageDetailClosesWhenFilteredOut(t *testing.T) {
	s, _, _ := fixtureShell(t)
	v := s.pages
	var open, other string
	for _, i := range v.filtered {
		r := v.rows[i]
		switch {
		case open == "" && strings.Contains(r.path, "/leeds/"):
			open = r.id
		case other == "" && strings.Contains(r.path, "/bristol/"):
			other = r.path
		}
	}
	if open == "" || other == "" {
		t.Fatal("the fixture has no leeds and bristol pages")
	}
	v.showDetail(open)
	test.Type(v.search, "bristol/")
	if v.selected != "" {
		t.Errorf("the detail still shows %s after a search that hides it", open)
	}
}

// Under the editor, a title's length as it is typed against its limit.
func TestEditorCountsATitlesCharacters(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(2)
	v := s.review
	for i, b := range v.blocks {
		if b.BlockID == "head-title" {
			v.show(i)
			break
		}
	}
	if !v.editorLen.Visible() {
		t.Fatal("no character count under a title's editor")
	}
	v.editor.SetText(strings.Repeat("x", 61))
	if v.editorLen.Text != "61 of 60 characters" || v.editorLen.Importance != widget.DangerImportance {
		t.Errorf("61 characters: %q (importance %v)", v.editorLen.Text, v.editorLen.Importance)
	}
	for i, b := range v.blocks {
		if b.Type == "p" {
			v.show(i)
			break
		}
	}
	if v.editorLen.Visible() {
		t.Error("a paragraph's editor shows a character count")
	}
}

// A deleted word right before an inserted one keeps a space between them
// ("Audemars PiguetAP" read as one word).
func TestDiffKeepsDeletionAndInsertionApart(t *testing.T) {
	test.NewTempApp(t)
	d := newDiffText()
	d.SetDiff(workspace.ReadableDiff("Audemars Piguet repair in London", "Audemars AP repair in London"), "")
	if got := d.String(); got != "Audemars Piguet AP repair in London" {
		t.Errorf("diff reads %q", got)
	}
}

// A click on the row already selected focuses the list (Fyne's List takes
// the focus on a tap) and does not run OnSelected: the single-key
// shortcuts still work, the list hands them on (they did nothing).
func TestShortcutsWorkWhenTheListHasTheFocus(t *testing.T) {
	s, ws, proj := fixtureShell(t)
	s.tabs.SelectIndex(2)
	if len(s.review.blocks) < 2 {
		t.Fatal("the review screen lists too few proposals")
	}
	b := s.review.blocks[s.review.cur]
	s.win.Canvas().Focus(s.review.list)
	if s.win.Canvas().Focused() != s.review.list {
		t.Fatal("the list did not take the focus")
	}
	// the window hands a character to the focused widget (glfw's
	// driver; test.TypeOnCanvas would go to the canvas)
	s.win.Canvas().Focused().TypedRune('r')
	r, err := storeOf(ws).GetReview(proj, b.PageID)
	if err != nil || r.Blocks[b.BlockID].State != model.ReviewRejected {
		t.Fatalf("R with the list focused: %+v, %v", r.Blocks[b.BlockID], err)
	}
	before := s.review.cur
	s.win.Canvas().Focus(s.review.list)
	s.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	if s.review.cur != before+1 {
		t.Errorf("Down with the list focused: block %d, want %d", s.review.cur, before+1)
	}
}

// F1 reaches the shell when a click on a row has focused the Pages table.
func TestF1WhenThePagesTableHasTheFocus(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.win.Canvas().Focus(s.pages.table)
	if s.win.Canvas().Focused() != s.pages.table {
		t.Fatal("the table did not take the focus")
	}
	s.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyF1})
	if s.dlg == nil {
		t.Error("F1 with the table focused showed no shortcut sheet")
	}
}
