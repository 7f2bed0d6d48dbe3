package ui

import (
	"image"
	"image/draw"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
)

// A failed page in Batches shows its path with the file name and, on its
// own line, the error's code and message, text never over text: at
// 1024x700 and at full screen.
func TestBatchesFailedPageIsReadable(t *testing.T) {
	s, _, _ := fixtureShell(t)
	s.tabs.SelectIndex(1)
	s.batches.list.Select(0)
	var failed string
	for _, id := range s.batches.pageIDs {
		if st, _ := s.batches.pageStatus(id); st == model.StatusFailed {
			failed = id
		}
	}
	if failed == "" {
		t.Fatal("the fixture batch has no failed page")
	}
	path := s.batches.pathOf(failed)
	_, detail := s.batches.pageStatus(failed)
	if !strings.Contains(detail, ": ") {
		t.Fatalf("failed page detail %q: want code and message", detail)
	}
	for _, size := range []fyne.Size{{Width: 1600, Height: 1000}, {Width: 1024, Height: 700}} {
		s.win.Resize(size)
		var row *fyne.Container
		walkObjects(s.batches.pages, func(o fyne.CanvasObject) {
			c, ok := o.(*fyne.Container)
			if !ok || len(c.Objects) != 2 {
				return
			}
			line, ok := c.Objects[0].(*fyne.Container)
			if !ok || len(line.Objects) != 2 {
				return
			}
			if l, ok := line.Objects[0].(*fitLabel); ok && l.full == path {
				row = c
			}
		})
		if row == nil {
			t.Fatalf("%v: no row for the failed page %s on screen", size, path)
		}
		line := row.Objects[0].(*fyne.Container)
		p := line.Objects[0].(*fitLabel)
		d := row.Objects[1].(*widget.Label)
		base := path[strings.LastIndexByte(path, '/'):]
		if !strings.HasSuffix(p.shown(), base) {
			t.Errorf("%v: path shown as %q: the file name %q is lost", size, p.shown(), base)
		}
		if w := fyne.MeasureText(p.shown(), theme.TextSize(), p.TextStyle).Width; w > p.Size().Width-2*theme.InnerPadding() {
			t.Errorf("%v: path %q is %.0f wide in a %.0f label", size, p.shown(), w, p.Size().Width)
		}
		if d.Text != detail {
			t.Errorf("%v: detail line %q, want %q", size, d.Text, detail)
		}
		// The detail's text starts below the path's text and spans the row.
		pathTextBottom := p.Position().Y + p.Size().Height - theme.InnerPadding()
		detailTextTop := d.Position().Y + theme.InnerPadding()
		if detailTextTop < pathTextBottom {
			t.Errorf("%v: the detail's text (from y %.0f) overlaps the path's (to y %.0f)", size, detailTextTop, pathTextBottom)
		}
		if d.Size().Width < row.Size().Width-1 {
			t.Errorf("%v: the detail line is %.0f wide in a %.0f row", size, d.Size().Width, row.Size().Width)
		}
		if want := fyne.MeasureText(detail, theme.TextSize(), fyne.TextStyle{}).Width + 2*theme.InnerPadding(); size.Width >= 1024 && d.Size().Width < want {
			t.Errorf("%v: the detail line is %.0f wide; %q needs %.0f", size, d.Size().Width, detail, want)
		}
	}
	// The page list only: the batch's header holds the time it was made.
	pos, size := absPos(s.batches.pages), s.batches.pages.Size()
	list := image.NewNRGBA(image.Rect(0, 0, int(size.Width), int(size.Height)))
	draw.Draw(list, list.Bounds(), s.win.Canvas().Capture(), image.Pt(int(pos.X), int(pos.Y)), draw.Src)
	test.AssertImageMatches(t, "batches_failed_1024.png", list)
}
