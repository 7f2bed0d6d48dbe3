package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// middleEllipsis shortens s to fit width (at the theme's text size in
// style) by cutting out its middle, so that a path keeps its file name:
// "dist/local/b…/rolex-servicing.html" (a label's own truncation cuts the
// end, the part that tells pages apart). Where even the file name does not
// fit, more of the end than of the start is kept.
func middleEllipsis(s string, width float32, style fyne.TextStyle) string {
	size := theme.TextSize()
	fits := func(t string) bool { return fyne.MeasureText(t, size, style).Width <= width }
	if fits(s) {
		return s
	}
	r := []rune(s)
	tailOf := func(n int) int { return (2*n + 2) / 3 }
	if i := strings.LastIndexByte(s, '/'); i > 0 && fits("…"+s[i:]) {
		base := len([]rune(s[i:]))
		tailOf = func(int) int { return base }
	}
	best := "…"
	for lo, hi := 0, len(r)-1; lo <= hi; {
		n := (lo + hi) / 2
		tail := min(tailOf(n), n)
		cand := string(r[:n-tail]) + "…" + string(r[len(r)-tail:])
		if fits(cand) {
			best, lo = cand, n+1
		} else {
			hi = n - 1
		}
	}
	return best
}
