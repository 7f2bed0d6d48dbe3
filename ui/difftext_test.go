package ui

import (
	"image/color"
	"sort"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// drawnRun is a text the diff widget drew, its operation told by its
// colour, and the lines drawn through or under it.
type drawnRun struct {
	op             int
	text           *canvas.Text
	struck, underl bool
}

// drawDiff lays a diffText with the diff of a and b out at width and
// returns its texts in reading order.
func drawDiff(t *testing.T, a, b string, width float32) (*diffText, []drawnRun) {
	t.Helper()
	d := newDiffText()
	d.SetDiff(workspace.ReadableDiff(a, b), "")
	d.Resize(fyne.NewSize(width, 10))
	d.Resize(fyne.NewSize(width, d.MinSize().Height))
	th := d.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	same := func(c1, c2 color.Color) bool {
		r1, g1, b1, a1 := c1.RGBA()
		r2, g2, b2, a2 := c2.RGBA()
		return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
	}
	var runs []drawnRun
	var lines []*canvas.Line
	for _, o := range test.WidgetRenderer(d).Objects() {
		switch x := o.(type) {
		case *canvas.Text:
			r := drawnRun{op: workspace.DiffEqual, text: x}
			switch {
			case same(x.Color, th.Color(theme.ColorNameError, v)):
				r.op = workspace.DiffDelete
			case same(x.Color, th.Color(theme.ColorNameSuccess, v)):
				r.op = workspace.DiffInsert
			}
			runs = append(runs, r)
		case *canvas.Line:
			lines = append(lines, x)
		}
	}
	for i := range runs {
		tx := runs[i].text
		words := strings.TrimSpace(tx.Text)
		if words == "" {
			continue
		}
		lead := fyne.MeasureText(tx.Text[:strings.Index(tx.Text, words)], tx.TextSize, tx.TextStyle).Width
		left := tx.Position().X + lead
		right := left + fyne.MeasureText(words, tx.TextSize, tx.TextStyle).Width
		top, h := tx.Position().Y, tx.Size().Height
		for _, l := range lines {
			y := l.Position1.Y
			if l.Position2.Y != y || l.Position1.X > left+0.5 || l.Position2.X < right-0.5 {
				continue // not level, or not across the whole text
			}
			switch {
			case y > top+0.3*h && y < top+0.75*h:
				runs[i].struck = true
			case y >= top+0.75*h && y <= top+h+2:
				runs[i].underl = true
			}
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		pi, pj := runs[i].text.Position(), runs[j].text.Position()
		if pi.Y != pj.Y {
			return pi.Y < pj.Y
		}
		return pi.X < pj.X
	})
	return d, runs
}

// Every deleted run has a line drawn through it, every inserted run one
// under it, and nothing else has either, in light and dark, on one line and
// wrapped over several.
func TestDiffTextStrikesDeletions(t *testing.T) {
	a := "Our workshop in Birmingham repairs Audemars Piguet watches of every age, with free insured collection."
	b := "Our Birmingham workshop services Audemars Piguet watches of every age, with free insured collection and return."
	for _, look := range []string{appearanceLight, appearanceDark} {
		for _, width := range []float32{2000, 260} {
			app := test.NewTempApp(t)
			applyAppearance(app, look, false)
			d, runs := drawDiff(t, a, b, width)
			var del, ins, rows int
			lastY := float32(-1)
			for _, r := range runs {
				if y := r.text.Position().Y; y != lastY {
					rows, lastY = rows+1, y
				}
				if strings.TrimSpace(r.text.Text) == "" {
					continue
				}
				if right := r.text.Position().X + r.text.Size().Width; right > width+0.5 {
					t.Errorf("%s, %v wide: %q ends at x=%v", look, width, r.text.Text, right)
				}
				switch r.op {
				case workspace.DiffDelete:
					del++
					if !r.struck || r.underl {
						t.Errorf("%s, %v wide: deleted %q: struck %v, underlined %v", look, width, r.text.Text, r.struck, r.underl)
					}
				case workspace.DiffInsert:
					ins++
					if !r.underl || r.struck {
						t.Errorf("%s, %v wide: inserted %q: struck %v, underlined %v", look, width, r.text.Text, r.struck, r.underl)
					}
				default:
					if r.struck || r.underl {
						t.Errorf("%s, %v wide: unchanged %q is struck (%v) or underlined (%v)", look, width, r.text.Text, r.struck, r.underl)
					}
				}
			}
			if del == 0 || ins == 0 {
				t.Errorf("%s, %v wide: %d deleted and %d inserted runs drawn", look, width, del, ins)
			}
			if width < 1000 && rows < 3 {
				t.Errorf("%s: at %v wide the diff takes %d lines; it does not wrap", look, width, rows)
			}
			if width > 1000 && rows != 1 {
				t.Errorf("%s: at %v wide the diff takes %d lines", look, width, rows)
			}
			if got := d.MinSize().Height; got+0.5 < d.Size().Height || got > d.Size().Height+0.5 {
				t.Errorf("%s, %v wide: %v tall, needs %v", look, width, d.Size().Height, got)
			}
		}
	}
}

// A rewrite reads as the original struck through, then the proposal: one
// deletion and one insertion, not the few shared words ("in", "the")
// interleaved with everything else.
func TestDiffTextShowsRewriteAsReplaced(t *testing.T) {
	test.NewTempApp(t)
	a := "We repair every watch in the shop in Leeds, and we return it within the week."
	b := "Our specialists service your timepiece in a workshop near you and send it back in days."
	for _, width := range []float32{2000, 300} {
		_, runs := drawDiff(t, a, b, width)
		var del, ins strings.Builder
		var order []int
		for _, r := range runs {
			if strings.TrimSpace(r.text.Text) == "" {
				continue
			}
			if len(order) == 0 || order[len(order)-1] != r.op {
				order = append(order, r.op)
			}
			switch r.op {
			case workspace.DiffDelete:
				del.WriteString(r.text.Text + " ")
			case workspace.DiffInsert:
				ins.WriteString(r.text.Text + " ")
			}
		}
		if len(order) != 2 || order[0] != workspace.DiffDelete || order[1] != workspace.DiffInsert {
			t.Errorf("%v wide: runs read %v; want one deletion, then one insertion", width, order)
		}
		if got := strings.Join(strings.Fields(del.String()), " "); got != a {
			t.Errorf("%v wide: deleted %q", width, got)
		}
		if got := strings.Join(strings.Fields(ins.String()), " "); got != b {
			t.Errorf("%v wide: inserted %q", width, got)
		}
	}
}

// No proposal: a placeholder, neither struck nor underlined.
func TestDiffTextPlaceholder(t *testing.T) {
	test.NewTempApp(t)
	d := newDiffText()
	d.SetDiff(nil, "No proposal for this block.")
	d.Resize(fyne.NewSize(400, d.MinSize().Height))
	objs := test.WidgetRenderer(d).Objects()
	if len(objs) != 1 || objs[0].(*canvas.Text).Text != "No proposal for this block." {
		t.Errorf("placeholder drawn as %v", objs)
	}
}

// Unchanged text reads like the Label of the original beside it: the same
// lines, as far apart.
func TestDiffTextLinesLikeALabel(t *testing.T) {
	test.NewTempApp(t)
	text := "Looking for Audemars Piguet battery replacement in Birmingham? Our watchmakers replace batteries and reseal the case to its water rating, with fixed prices from £119."
	for _, width := range []float32{300, 420, 2000} {
		l := widget.NewLabel(text)
		l.Wrapping = fyne.TextWrapWord
		l.Resize(fyne.NewSize(width, 10))
		d := newDiffText()
		d.SetDiff([]workspace.DiffOp{{Op: workspace.DiffEqual, Text: text}}, "")
		d.Resize(fyne.NewSize(width, 10))
		if lh, dh := l.MinSize().Height, d.MinSize().Height; lh != dh {
			t.Errorf("%v wide: the label is %v tall, the diff %v", width, lh, dh)
		}
	}
}

// Tabs, carriage returns and no-break spaces are drawn as spaces; a line
// break starts a new line.
func TestDiffTextWhitespace(t *testing.T) {
	test.NewTempApp(t)
	d := newDiffText()
	d.SetDiff(workspace.ReadableDiff("Opening\thours:\r\nMon\u00a0to Fri", "Opening\thours:\r\nMon\u00a0to Sat"), "")
	if got, want := d.String(), "Opening hours:\nMon to Fri Sat"; got != want {
		t.Errorf("drawn as %q, want %q", got, want)
	}
	d.Resize(fyne.NewSize(2000, 10))
	ys := map[float32]bool{}
	for _, o := range test.WidgetRenderer(d).Objects() {
		if tx, ok := o.(*canvas.Text); ok {
			ys[tx.Position().Y] = true
			if strings.ContainsAny(tx.Text, "\t\r\n\u00a0") {
				t.Errorf("a text draws %q", tx.Text)
			}
		}
	}
	if len(ys) != 2 {
		t.Errorf("two lines drawn on %d", len(ys))
	}
}
