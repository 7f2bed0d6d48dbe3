package ui

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
)

// The Review's detail pane at the smallest and a large window, in light and
// dark: every part (header, state, original and proposal, QA messages,
// editor, buttons) sits below the one before it, the original and the
// proposal are side by side at 1600 and stacked at 1024, nothing overlaps,
// and nothing is wider than the pane (text drawn over text: the QA warning
// over the diff and the "Editor" heading, the header cut off at 1024x700).
func TestReviewDetailLayoutDoesNotOverlap(t *testing.T) {
	for _, size := range []fyne.Size{{Width: 1024, Height: 700}, {Width: 1600, Height: 1000}} {
		for _, look := range []string{appearanceLight, appearanceDark} {
			t.Run(fmt.Sprintf("%vx%v-%s", size.Width, size.Height, look), func(t *testing.T) {
				s, _, _ := fixtureShell(t)
				applyAppearance(s.app, look, false)
				s.win.Resize(size)
				s.tabs.SelectIndex(2)
				v := s.review
				qa, long := -1, 0
				for i, b := range v.blocks {
					if len(b.QA) > 0 && qa < 0 {
						qa = i
					}
					if len(b.Original)+len(b.Proposal()) > len(v.blocks[long].Original)+len(v.blocks[long].Proposal()) {
						long = i
					}
				}
				if qa < 0 {
					t.Fatal("the fixture has no proposal with a QA message")
				}
				// The QA row under the columns, and the longest texts (they
				// wrap, and the columns' heights differ).
				for _, i := range []int{qa, long} {
					v.show(i)
					if i == qa && len(v.qa.Objects) == 0 {
						t.Fatal("no QA row shown")
					}
					checkReviewDetail(t, s, size, fmt.Sprintf("block %s %s", v.blocks[i].SourcePath, v.blocks[i].BlockID))
				}
			})
		}
	}
}

// checkReviewDetail checks the shown block's detail pane: rows one below
// the other, the original and the proposal side by side in a wide pane
// (without overlapping) and one above the other in a narrow one, every part
// inside the pane and as tall as its wrapped text needs.
func checkReviewDetail(t *testing.T, s *Shell, size fyne.Size, what string) {
	t.Helper()
	v := s.review
	if w := s.win.Canvas().Size().Width; w > size.Width+1 {
		t.Fatalf("%s: the window grew to %v wide for a %v window (a part's minimum width)", what, w, size.Width)
	}
	d := fyne.CurrentApp().Driver()
	paneLeft := d.AbsolutePositionForObject(v.editorBox).X
	paneRight := paneLeft + v.editorBox.Size().Width
	type part struct {
		name string
		o    fyne.CanvasObject
	}
	origCol, diffCol := v.diffCols.Objects[0], v.diffCols.Objects[1]
	side := v.diffCols.Layout.(*sideBySideLayout).Side()
	if wantSide := size.Width >= 1600; side != wantSide {
		t.Errorf("%s: side by side = %v in a %v-wide pane at %vx%v", what, side, v.diffCols.Size().Width, size.Width, size.Height)
	}
	rows := [][]part{{{"header", v.header}}, {{"state", v.stateLbl}}}
	if side {
		rows = append(rows, []part{{"original column", origCol}, {"proposal column", diffCol}})
	} else {
		rows = append(rows, []part{{"original column", origCol}}, []part{{"proposal column", diffCol}})
	}
	rows = append(rows, []part{{"QA", v.qa}}, []part{{"editor", v.editor}}, []part{{"accept", v.accept}},
		[]part{{"copy original", v.copyOrig}}, []part{{"previous", v.prev}})
	check := func(p part) (fyne.Position, fyne.Size) {
		pos, sz := d.AbsolutePositionForObject(p.o), p.o.Size()
		// Wrapped text needs at least its minimum height at the width it
		// was given, or the next part is drawn over it.
		if min := p.o.MinSize(); sz.Height+0.5 < min.Height {
			t.Errorf("%s: %s: %v tall, needs %v", what, p.name, sz.Height, min.Height)
		}
		if pos.X+0.5 < paneLeft || pos.X+sz.Width > paneRight+0.5 {
			t.Errorf("%s: %s spans x=%v..%v, outside the pane's %v..%v", what, p.name, pos.X, pos.X+sz.Width, paneLeft, paneRight)
		}
		return pos, sz
	}
	// Each text inside its column.
	for _, in := range []struct {
		p   part
		col fyne.CanvasObject
	}{{part{"original", v.original}, origCol}, {part{"diff", v.diff}, diffCol}} {
		pos, sz := check(in.p)
		cp, cs := d.AbsolutePositionForObject(in.col), in.col.Size()
		if pos.X+0.5 < cp.X || pos.X+sz.Width > cp.X+cs.Width+0.5 || pos.Y+0.5 < cp.Y || pos.Y+sz.Height > cp.Y+cs.Height+0.5 {
			t.Errorf("%s: %s at %v %v is outside its column at %v %v", what, in.p.name, pos, sz, cp, cs)
		}
	}
	bottom, above := float32(-1), ""
	for _, row := range rows {
		rowBottom, right, left := bottom, float32(-1), ""
		for _, p := range row {
			pos, sz := check(p)
			if pos.Y+0.5 < bottom {
				t.Errorf("%s: %s starts at y=%v, above the end of %s at y=%v: drawn over it", what, p.name, pos.Y, above, bottom)
			}
			if pos.X+0.5 < right {
				t.Errorf("%s: %s starts at x=%v, left of the end of %s at x=%v: drawn over it", what, p.name, pos.X, left, right)
			}
			right, left = pos.X+sz.Width, p.name
			rowBottom = max(rowBottom, pos.Y+sz.Height)
		}
		bottom, above = rowBottom, row[len(row)-1].name
	}
}

// The window resized with a block open (no new block shown to lay the
// pane out again): the columns go side by side or one above the other, and
// the parts below follow their new height (a gap under the columns after
// the window grew; the QA row over the proposal after it shrank).
func TestReviewDetailLayoutAfterResize(t *testing.T) {
	s, _, _ := fixtureShell(t)
	small, large := fyne.NewSize(1024, 700), fyne.NewSize(1600, 1000)
	s.win.Resize(small)
	s.tabs.SelectIndex(2)
	v := s.review
	long := 0
	for i, b := range v.blocks {
		if len(b.Original)+len(b.Proposal()) > len(v.blocks[long].Original)+len(v.blocks[long].Proposal()) {
			long = i
		}
	}
	v.show(long)
	checkReviewDetail(t, s, small, "at first")
	for _, size := range []fyne.Size{large, small, large} {
		s.win.Resize(size)
		checkReviewDetail(t, s, size, fmt.Sprintf("resized to %vx%v", size.Width, size.Height))
		// as tall as they need at their width, no taller
		if h, min := v.diffCols.Size().Height, v.diffCols.MinSize().Height; h > min+0.5 {
			t.Errorf("resized to %vx%v: the columns are %v tall and need %v: a gap under them", size.Width, size.Height, h, min)
		}
	}
}
