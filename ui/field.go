package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// field is a text entry that lets the window's own shortcuts through and
// can be left from the keyboard. Fyne hands a shortcut only to the focused
// widget when that widget handles shortcuts (an Entry does), so without
// this Ctrl+1..6, Ctrl+O, Ctrl+R, Ctrl+S ... did nothing while a search or
// settings field had the focus. Esc leaves the field (the focus goes back
// to the window, where the view's keys work again); in a multi-line field
// Tab moves the focus on instead of typing a tab.
type field struct {
	widget.Entry
	s *Shell
}

func newField(s *Shell, multiLine bool) *field {
	f := &field{s: s}
	f.MultiLine = multiLine
	if multiLine {
		f.Wrapping = fyne.TextWrapWord
	}
	f.ExtendBaseWidget(f)
	return f
}

func newPasswordField(s *Shell) *field {
	f := newField(s, false)
	f.Password = true
	f.ActionItem = nil
	return f
}

// TypedShortcut runs a window shortcut, else the entry's own (copy, paste,
// undo ...).
func (f *field) TypedShortcut(sc fyne.Shortcut) {
	if f.s != nil && f.s.runGlobal(sc) {
		return
	}
	f.Entry.TypedShortcut(sc)
}

// TypedKey: Esc leaves the field.
func (f *field) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && f.s != nil {
		f.s.win.Canvas().Unfocus()
		return
	}
	f.Entry.TypedKey(ev)
}

// AcceptsTab is false: Tab moves the focus, also out of the editor.
func (f *field) AcceptsTab() bool { return false }
