package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// sideBySideLayout puts its two objects side by side, in halves, when each
// half gets at least minColumn; else one above the other. Both may hold
// wrapped text, whose height depends on the width given: an object is
// sized to its width first, then to the height it needs there. The
// minimum size follows the arrangement of the last layout, and its width
// is only the wider object's minimum (the pane decides the width; a wide
// minimum would widen the window).
type sideBySideLayout struct {
	minColumn float32
	side      bool // the last layout was side by side
}

func (l *sideBySideLayout) gap() float32 { return 4 * theme.Padding() }

// Side reports whether the last layout put the objects side by side.
func (l *sideBySideLayout) Side() bool { return l.side }

func (l *sideBySideLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	if len(objs) != 2 {
		return
	}
	a, b := objs[0], objs[1]
	fit := func(o fyne.CanvasObject, w float32) float32 {
		o.Resize(fyne.NewSize(w, o.Size().Height))
		h := o.MinSize().Height
		o.Resize(fyne.NewSize(w, h))
		return h
	}
	l.side = size.Width >= 2*l.minColumn+l.gap()
	if l.side {
		w := (size.Width - l.gap()) / 2
		fit(a, w)
		fit(b, w)
		a.Move(fyne.NewPos(0, 0))
		b.Move(fyne.NewPos(w+l.gap(), 0))
		return
	}
	h := fit(a, size.Width)
	fit(b, size.Width)
	a.Move(fyne.NewPos(0, 0))
	b.Move(fyne.NewPos(0, h+theme.Padding()))
}

func (l *sideBySideLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	if len(objs) != 2 {
		return fyne.Size{}
	}
	a, b := objs[0].MinSize(), objs[1].MinSize()
	if l.side {
		return fyne.NewSize(max(a.Width, b.Width), max(a.Height, b.Height))
	}
	return fyne.NewSize(max(a.Width, b.Width), a.Height+theme.Padding()+b.Height)
}
