package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// middleEllipsis shortens s to fit width (at the theme's text size in
// style) by cutting out its middle, so that a path keeps its file name (a
// label's own truncation cuts the end, the part that tells pages apart).
// Where the file name fits, the first folder stays ("dist/", which build)
// and the rest of the room goes to the end, the folders just above the
// file name: "dist/…/leeds/rolex-servicing.html", not
// "dist/local/l…/rolex-servicing.html", as leeds/ and london/ hold files of
// the same names. Where even the file name does not fit, more of the end
// than of the start is kept.
func middleEllipsis(s string, width float32, style fyne.TextStyle) string {
	size := theme.TextSize()
	fits := func(t string) bool { return fyne.MeasureText(t, size, style).Width <= width }
	if fits(s) {
		return s
	}
	r := []rune(s)
	if i := strings.LastIndexByte(s, '/'); i > 0 && fits("…"+s[i:]) {
		head := ""
		if j := strings.IndexByte(s, '/'); j < i && fits(s[:j+1]+"…"+s[i:]) {
			head = s[:j+1]
		}
		base := len([]rune(s[i:]))
		best := head + "…" + s[i:]
		// the longest end that fits after the head (one rune at least is cut)
		for lo, hi := base+1, len(r)-len([]rune(head))-1; lo <= hi; {
			n := (lo + hi) / 2
			if cand := head + "…" + string(r[len(r)-n:]); fits(cand) {
				best, lo = cand, n+1
			} else {
				hi = n - 1
			}
		}
		return best
	}
	best := "…"
	for lo, hi := 0, len(r)-1; lo <= hi; {
		n := (lo + hi) / 2
		tail := min((2*n+2)/3, n)
		cand := string(r[:n-tail]) + "…" + string(r[len(r)-tail:])
		if fits(cand) {
			best, lo = cand, n+1
		} else {
			hi = n - 1
		}
	}
	return best
}
