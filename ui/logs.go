package ui

import (
	"context"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
)

// logLine is one entry with the page it belongs to.
type logLine struct {
	pageID string
	entry  model.LogEntry
}

// logsView is the Logs screen: the project's log entries (or one page's),
// newest first, filtered by level and step.
type logsView struct {
	s       *Shell
	project string
	dirty   bool

	all      []logLine
	visible  []logLine
	scope    string // page ID, "" = whole project
	scopeLbl *widget.Label
	clear    *widget.Button
	level    *widget.Select
	step     *widget.Select
	search   *field
	list     *widget.List
}

func newLogsView(s *Shell) *logsView {
	v := &logsView{s: s}
	v.level = widget.NewSelect(append([]string{filterAll}, model.LogLevels...), func(string) { v.filter() })
	v.level.PlaceHolder = "Any level"
	v.step = widget.NewSelect(nil, func(string) { v.filter() })
	v.step.PlaceHolder = "Any step"
	v.search = newField(s, false)
	v.search.SetPlaceHolder("Search messages and paths")
	v.search.OnChanged = func(string) { v.filter() } // the loaded lines: no store read
	v.search.OnSubmitted = func(string) { s.win.Canvas().Unfocus() }
	v.scopeLbl = widget.NewLabel("All pages")
	v.clear = widget.NewButtonWithIcon("All pages", theme.ContentClearIcon(), func() { v.scopeTo("", "") })
	v.clear.Hide()
	v.list = widget.NewList(
		func() int { return len(v.visible) },
		func() fyne.CanvasObject {
			when := widget.NewLabel("00 Jan 00:00:00")
			lvl := widget.NewLabel("error")
			step := widget.NewLabel("")
			step.TextStyle = fyne.TextStyle{Monospace: true}
			msg := widget.NewLabel("")
			msg.Truncation = fyne.TextTruncateEllipsis
			left := container.NewHBox(container.NewGridWrap(fyne.NewSize(130, when.MinSize().Height), when),
				container.NewGridWrap(fyne.NewSize(60, lvl.MinSize().Height), lvl),
				container.NewGridWrap(fyne.NewSize(110, step.MinSize().Height), step))
			return container.NewBorder(nil, nil, left, nil, msg)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.visible) {
				return
			}
			l := v.visible[i]
			c := o.(*fyne.Container)
			left := c.Objects[1].(*fyne.Container)
			left.Objects[0].(*fyne.Container).Objects[0].(*widget.Label).SetText(shortTime(l.entry.Timestamp))
			lvl := left.Objects[1].(*fyne.Container).Objects[0].(*widget.Label)
			lvl.Importance = levelImportance(l.entry.Level)
			lvl.SetText(l.entry.Level)
			left.Objects[2].(*fyne.Container).Objects[0].(*widget.Label).SetText(l.entry.Step)
			msg := l.entry.Message
			if v.scope == "" {
				msg = s.batches.pathOf(l.pageID) + " — " + msg
			}
			c.Objects[0].(*widget.Label).SetText(msg)
		},
	)
	return v
}

func (v *logsView) content() fyne.CanvasObject {
	bar := container.NewBorder(nil, nil, container.NewHBox(v.scopeLbl, v.clear,
		container.NewGridWrap(fyne.NewSize(140, v.level.MinSize().Height), v.level),
		container.NewGridWrap(fyne.NewSize(160, v.step.MinSize().Height), v.step)), nil, v.search)
	return container.NewBorder(container.NewPadded(bar), nil, nil, nil, v.list)
}

func (v *logsView) load(projectID string) {
	v.project = projectID
	v.scope = ""
	if v.s.isShown(v) {
		v.reload()
	} else {
		v.all, v.visible = nil, nil
		v.dirty = true
	}
}

// scopeTo shows one page's logs (pageID "" = the whole project).
func (v *logsView) scopeTo(pageID, path string) {
	v.scope = pageID
	v.dirty = false
	if pageID == "" {
		v.scopeLbl.SetText("All pages")
		v.clear.Hide()
	} else {
		v.scopeLbl.SetText(path)
		v.clear.Show()
	}
	v.reload()
}

func (v *logsView) reload() {
	v.all = v.all[:0]
	if v.project != "" {
		lines, err := v.s.ws.Logs(context.Background(), v.project, v.scope)
		if err != nil {
			v.s.showErr(err)
		}
		for _, l := range lines {
			v.all = append(v.all, logLine{pageID: l.PageID, entry: l.Entry})
		}
	}
	sort.SliceStable(v.all, func(i, j int) bool { return v.all[i].entry.Timestamp > v.all[j].entry.Timestamp })
	steps := map[string]bool{}
	for _, l := range v.all {
		steps[l.entry.Step] = true
	}
	v.step.SetOptions(append([]string{filterAll}, sortedKeys(steps)...))
	v.filter()
}

func (v *logsView) filter() {
	v.visible = v.visible[:0]
	for _, l := range v.all {
		if lv := v.level.Selected; lv != "" && lv != filterAll && l.entry.Level != lv {
			continue
		}
		if st := v.step.Selected; st != "" && st != filterAll && l.entry.Step != st {
			continue
		}
		if q := strings.TrimSpace(v.search.Text); q != "" && !containsFold(l.entry.Message, q) && !containsFold(v.s.batches.pathOf(l.pageID), q) {
			continue
		}
		v.visible = append(v.visible, l)
	}
	v.list.Refresh()
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func (v *logsView) changed(cs *changeSet) {
	if v.project == "" {
		return
	}
	if cs.overflow || len(cs.keysOf(model.KindLogs, v.project)) > 0 {
		if !v.s.isShown(v) {
			v.dirty = true
			return
		}
		v.reload()
	}
}

// shown catches up on changes that arrived while the screen was hidden.
func (v *logsView) shown() {
	if v.dirty {
		v.dirty = false
		v.reload()
	}
}
