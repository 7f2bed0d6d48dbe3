package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// fitLabel is a one-line label whose text is fitted to the width it is
// given each time it is laid out: in middle mode a path loses its middle
// (middleEllipsis keeps the file name), otherwise the text loses its end
// (the label's own ellipsis). Table cells and list rows change width with
// the window, so the fit cannot be computed when the text is set.
type fitLabel struct {
	widget.Label
	full   string
	middle bool
	drawn  fitDrawn // what the last refresh drew
}

// fitDrawn is what a fitLabel's look depends on besides its size.
type fitDrawn struct {
	text  string
	imp   widget.Importance
	style fyne.TextStyle
	trunc fyne.TextTruncation
	theme int // themeGen when drawn: a new theme draws it again
}

// themeGen counts the theme changes of the app (applyAppearance), so
// that cells which skip an unchanged redraw take the new colours.
var themeGen int

func newFitLabel(middle bool) *fitLabel {
	l := &fitLabel{}
	l.ExtendBaseWidget(l)
	l.setMiddle(middle)
	return l
}

// setMiddle picks the truncation (the label is reused for other columns).
func (l *fitLabel) setMiddle(middle bool) {
	l.middle = middle
	if middle {
		// The text is cut to fit already; clipping only guards rounding.
		l.Truncation = fyne.TextTruncateClip
	} else {
		l.Truncation = fyne.TextTruncateEllipsis
	}
}

// SetText sets the full text and shows as much of it as fits. A table
// redraws every visible cell on each refresh (each column width set when
// the page detail opens): a cell whose text and look are unchanged is not
// shaped again (opening a page held the UI goroutine 190 ms: make bench-ui).
func (l *fitLabel) SetText(s string) {
	l.full = s
	d := fitDrawn{l.fitted(l.Size().Width), l.Importance, l.TextStyle, l.Truncation, themeGen}
	if d == l.drawn && l.Text == d.text {
		return
	}
	l.drawn = d
	l.Label.SetText(d.text)
}

// Resize fits the text to the new width.
func (l *fitLabel) Resize(size fyne.Size) {
	if size.Width != l.Size().Width {
		if t := l.fitted(size.Width); t != l.Text {
			l.Text = t
			l.drawn = fitDrawn{t, l.Importance, l.TextStyle, l.Truncation, themeGen}
			l.Label.Resize(size)
			l.Refresh()
			return
		}
	}
	l.Label.Resize(size)
}

// shown is the text on screen (tests).
func (l *fitLabel) shown() string { return l.Text }

func (l *fitLabel) fitted(width float32) string {
	if !l.middle || width <= 0 {
		return l.full
	}
	return middleEllipsis(l.full, width-2*theme.InnerPadding()-1, l.TextStyle)
}
