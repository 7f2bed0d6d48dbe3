package ui

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
)

// The Review's detail pane at the smallest and a large window, in light and
// dark: every part (header, state, original, diff, QA messages, editor,
// buttons) sits below the one before it, nothing overlaps, and nothing is
// wider than the pane (text drawn over text: the QA warning over the diff
// and the "Editor" heading, the header cut off at 1024x700).
func TestReviewDetailLayoutDoesNotOverlap(t *testing.T) {
	for _, size := range []fyne.Size{{Width: 1024, Height: 700}, {Width: 1600, Height: 1000}} {
		for _, look := range []string{appearanceLight, appearanceDark} {
			t.Run(fmt.Sprintf("%vx%v-%s", size.Width, size.Height, look), func(t *testing.T) {
				s, _, _ := fixtureShell(t)
				applyAppearance(s.app, look, false)
				s.win.Resize(size)
				s.tabs.SelectIndex(2)
				v := s.review
				qa := -1
				for i, b := range v.blocks {
					if len(b.QA) > 0 {
						qa = i
						break
					}
				}
				if qa < 0 {
					t.Fatal("the fixture has no proposal with a QA message")
				}
				v.show(qa)
				if len(v.qa.Objects) == 0 {
					t.Fatal("no QA row shown")
				}
				if w := s.win.Canvas().Size().Width; w > size.Width+1 {
					t.Fatalf("the window grew to %v wide for a %v window (a part's minimum width)", w, size.Width)
				}
				d := fyne.CurrentApp().Driver()
				paneLeft := d.AbsolutePositionForObject(v.editorBox).X
				paneRight := paneLeft + v.editorBox.Size().Width
				parts := []struct {
					name string
					o    fyne.CanvasObject
				}{
					{"header", v.header}, {"state", v.stateLbl}, {"original", v.original}, {"diff", v.diff},
					{"QA", v.qa}, {"editor", v.editor}, {"accept", v.accept}, {"copy original", v.copyOrig}, {"previous", v.prev},
				}
				bottom, above := float32(-1), ""
				for _, p := range parts {
					pos, sz := d.AbsolutePositionForObject(p.o), p.o.Size()
					// Wrapped text needs at least its minimum height at the
					// width it was given, or the next part is drawn over it.
					if min := p.o.MinSize(); sz.Height+0.5 < min.Height {
						t.Errorf("%s: %v tall, needs %v", p.name, sz.Height, min.Height)
					}
					if pos.Y+0.5 < bottom {
						t.Errorf("%s starts at y=%v, above the end of %s at y=%v: drawn over it", p.name, pos.Y, above, bottom)
					}
					if pos.X+0.5 < paneLeft || pos.X+sz.Width > paneRight+0.5 {
						t.Errorf("%s spans x=%v..%v, outside the pane's %v..%v", p.name, pos.X, pos.X+sz.Width, paneLeft, paneRight)
					}
					bottom, above = pos.Y+sz.Height, p.name
				}
			})
		}
	}
}
