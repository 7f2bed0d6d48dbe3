package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
)

// dataView is the Data screen: a read-only browser over the local mirror of
// the eleven namespaces (namespace -> keys -> pretty JSON).
type dataView struct {
	s     *Shell
	dirty bool

	counts  []int
	nsList  *widget.List
	ns      model.Namespace
	allKeys []string
	keys    []string
	keyList *widget.List
	filter  *field
	key     string
	value   []byte
	json    *widget.Label
	keyLbl  *widget.Label
	copyKey *widget.Button
	copyVal *widget.Button
}

func newDataView(s *Shell) *dataView {
	v := &dataView{s: s, counts: make([]int, len(model.Namespaces))}
	v.nsList = widget.NewList(
		func() int { return len(model.Namespaces) },
		func() fyne.CanvasObject {
			n := widget.NewLabel("NIMBUS_SESSIONS")
			c := widget.NewLabel("")
			c.Importance = widget.LowImportance
			return container.NewBorder(nil, nil, nil, c, n)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			c := o.(*fyne.Container)
			c.Objects[0].(*widget.Label).SetText(string(model.Namespaces[i]))
			c.Objects[1].(*widget.Label).SetText(groupDigits(v.counts[i]))
		},
	)
	v.nsList.OnSelected = func(i widget.ListItemID) { v.openNS(model.Namespaces[i]); s.win.Canvas().Unfocus() }
	v.filter = newField(s, false)
	v.filter.SetPlaceHolder("Filter keys by prefix")
	v.filter.OnChanged = func(string) { v.applyFilter() }
	v.keyList = widget.NewList(
		func() int { return len(v.keys) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.TextStyle = fyne.TextStyle{Monospace: true}
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(v.keys) {
				o.(*widget.Label).SetText(v.keys[i])
			}
		},
	)
	v.keyList.OnSelected = func(i widget.ListItemID) {
		if i < len(v.keys) {
			v.openKey(v.keys[i])
		}
		s.win.Canvas().Unfocus()
	}
	v.json = widget.NewLabel("")
	v.json.TextStyle = fyne.TextStyle{Monospace: true}
	v.json.Wrapping = fyne.TextWrapBreak
	v.json.Selectable = true
	v.keyLbl = widget.NewLabelWithStyle("Pick a namespace, then a key.", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.keyLbl.Truncation = fyne.TextTruncateEllipsis
	v.copyKey = widget.NewButtonWithIcon("Copy key", theme.ContentCopyIcon(), func() { s.app.Clipboard().SetContent(v.key) })
	v.copyVal = widget.NewButtonWithIcon("Copy value", theme.ContentCopyIcon(), func() { s.app.Clipboard().SetContent(string(v.value)) })
	v.copyKey.Disable()
	v.copyVal.Disable()
	return v
}

func (v *dataView) content() fyne.CanvasObject {
	keys := container.NewBorder(container.NewPadded(v.filter), nil, nil, nil, v.keyList)
	value := container.NewBorder(container.NewBorder(nil, nil, nil, container.NewHBox(v.copyKey, v.copyVal), v.keyLbl), nil, nil, nil,
		container.NewVScroll(v.json))
	right := container.NewHSplit(keys, container.NewPadded(value))
	right.Offset = 0.42
	outer := container.NewHSplit(v.nsList, right)
	outer.Offset = 0.25
	return outer
}

func (v *dataView) load(string) {
	if !v.s.isShown(v) {
		v.dirty = true // counted when the screen is opened
		return
	}
	v.refreshCounts()
	if v.ns != "" {
		v.openNS(v.ns)
	}
}

func (v *dataView) refreshCounts() {
	for i, ns := range model.Namespaces {
		n, err := v.s.ws.KVCount(ns, "")
		if err != nil {
			v.s.showErr(err)
			return
		}
		v.counts[i] = n
	}
	v.nsList.Refresh()
}

func (v *dataView) openNS(ns model.Namespace) {
	v.ns = ns
	keys, err := v.s.ws.KVKeys(ns, "")
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.allKeys = keys
	v.applyFilter()
}

func (v *dataView) applyFilter() {
	p := v.filter.Text
	if p == "" {
		v.keys = v.allKeys
	} else {
		v.keys = nil
		for _, k := range v.allKeys {
			if strings.HasPrefix(k, p) {
				v.keys = append(v.keys, k)
			}
		}
	}
	v.keyList.UnselectAll()
	v.keyList.Refresh()
}

func (v *dataView) openKey(key string) {
	val, err := v.s.ws.KVGet(v.ns, key)
	if err != nil {
		v.s.showErr(fmt.Errorf("read %s %s: %w", v.ns, key, err))
		return
	}
	v.key, v.value = key, val
	v.keyLbl.SetText(key)
	v.json.SetText(prettyJSON(val))
	v.copyKey.Enable()
	v.copyVal.Enable()
}

// prettyJSON indents a stored value; bytes that are not JSON are shown as
// they are (the store validates, so this only guards the display).
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// shown catches up on changes that arrived while the screen was hidden.
func (v *dataView) shown() {
	if v.dirty {
		v.dirty = false
		v.load("")
	}
}

func (v *dataView) changed(cs *changeSet) {
	if !cs.overflow && len(cs.keys) == 0 {
		return
	}
	if !v.s.isShown(v) {
		v.dirty = true // counting and listing 10,000 keys for a hidden screen is waste
		return
	}
	v.refreshCounts()
	if v.ns == "" {
		return
	}
	reopen := cs.overflow
	for k, ns := range cs.keys {
		if ns == v.ns {
			reopen = true
			if k == v.key {
				v.openKey(k)
			}
		}
	}
	if reopen {
		v.openNS(v.ns)
	}
}
