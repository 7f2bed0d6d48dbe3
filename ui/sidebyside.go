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
	l.side = size.Width >= 2*l.minColumn+l.gap()
	if l.side {
		w := (size.Width - l.gap()) / 2
		fitWidth(a, w)
		fitWidth(b, w)
		a.Move(fyne.NewPos(0, 0))
		b.Move(fyne.NewPos(w+l.gap(), 0))
		return
	}
	h := fitWidth(a, size.Width)
	fitWidth(b, size.Width)
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

// fitVBoxLayout is container.NewVBox's layout for wrapped text: each
// object is sized to the width first and then to the height it needs at
// that width. A VBox asks for the minimum height before it resizes, so
// after the pane changed width it kept the heights of the old width (a
// gap under the columns after the window grew, text drawn over the next
// part after it shrank, until something else laid the pane out again).
type fitVBoxLayout struct{}

func (fitVBoxLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		h := fitWidth(o, size.Width)
		o.Move(fyne.NewPos(0, y))
		y += h + theme.Padding()
	}
}

func (fitVBoxLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var min fyne.Size
	n := 0
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		min.Width = max(min.Width, m.Width)
		min.Height += m.Height
		n++
	}
	if n > 1 {
		min.Height += float32(n-1) * theme.Padding()
	}
	return min
}

// fitWidth sizes o to width w, then to the height it needs at that width,
// and returns the height.
func fitWidth(o fyne.CanvasObject, w float32) float32 {
	o.Resize(fyne.NewSize(w, o.Size().Height))
	h := o.MinSize().Height
	o.Resize(fyne.NewSize(w, h))
	return h
}
