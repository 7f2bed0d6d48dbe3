package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// A path too long for its column keeps its file name; a short one is left
// whole.
func TestMiddleEllipsisKeepsTheFileName(t *testing.T) {
	test.NewTempApp(t)
	mono := fyne.TextStyle{Monospace: true}
	short := "dist/index.html"
	width := fyne.MeasureText(short, theme.TextSize(), mono).Width + 1
	if got := middleEllipsis(short, width, mono); got != short {
		t.Errorf("a path that fits became %q", got)
	}
	long := "dist/local/birmingham-1/audemars-piguet-battery-replacement.html"
	width = fyne.MeasureText(strings.Repeat("x", 50), theme.TextSize(), mono).Width
	got := middleEllipsis(long, width, mono)
	if !strings.Contains(got, "…") || !strings.HasSuffix(got, "/audemars-piguet-battery-replacement.html") || !strings.HasPrefix(got, "dist/") {
		t.Errorf("middleEllipsis(%q) = %q: want the start, an ellipsis and the file name", long, got)
	}
	if w := fyne.MeasureText(got, theme.TextSize(), mono).Width; w > width {
		t.Errorf("%q is %.0f wide, over %.0f", got, w, width)
	}

	// The room left goes to the folders above the file name (leeds/ and
	// london/ hold files of the same names), not to the start.
	for _, c := range []struct {
		path  string
		chars int
		want  string
	}{
		{"dist/local/leeds/rolex-servicing.html", 33, "dist/…/leeds/rolex-servicing.html"},
		{"dist/local/leeds/rolex-servicing.html", 30, "dist/…eds/rolex-servicing.html"},
		{"dist/local/leeds/rolex-servicing.html", 22, "…/rolex-servicing.html"}, // no room for dist/
	} {
		width := fyne.MeasureText(strings.Repeat("x", c.chars), theme.TextSize(), mono).Width
		if got := middleEllipsis(c.path, width, mono); got != c.want {
			t.Errorf("middleEllipsis(%q, %d chars) = %q, want %q", c.path, c.chars, got, c.want)
		}
	}
}

// A theme change redraws a fitLabel whose text did not change (its
// skip-if-unchanged left table cells in the old theme's colours).
func TestFitLabelRedrawsAfterAThemeChange(t *testing.T) {
	test.NewTempApp(t)
	l := newFitLabel(false)
	l.Resize(fyne.NewSize(200, 30))
	l.SetText("dist/index.html")
	before := l.drawn
	l.SetText("dist/index.html")
	if l.drawn != before {
		t.Fatal("an unchanged text was drawn again")
	}
	themeGen++
	l.SetText("dist/index.html")
	if l.drawn.theme != themeGen {
		t.Errorf("after a theme change the label kept its drawing of theme %d (now %d)", l.drawn.theme, themeGen)
	}
}
