package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
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

	visible     []logLine
	more        bool            // the query found more than logLimit entries
	seq         int             // the latest query: an older one's answer is dropped
	steps       map[string]bool // the steps seen, for the step filter
	status      *widget.Label
	searchTimer *time.Timer
	loading     bool   // a query is on its way
	scope       string // page ID, "" = whole project
	scopeLbl    *widget.Label
	clear       *widget.Button
	level       *widget.Select
	step        *widget.Select
	search      *field
	list        *widget.List
}

func newLogsView(s *Shell) *logsView {
	v := &logsView{s: s}
	v.status = widget.NewLabel("")
	v.status.Importance = widget.LowImportance
	v.level = widget.NewSelect(append([]string{filterAll}, model.LogLevels...), func(string) { v.filter() })
	v.level.PlaceHolder = "Any level"
	v.step = widget.NewSelect(nil, func(string) { v.filter() })
	v.step.PlaceHolder = "Any step"
	v.search = newField(s, false)
	v.search.SetPlaceHolder("Search messages and paths")
	// the query runs once typing pauses (a search may read every log)
	v.search.OnChanged = func(string) { s.whenTypingPauses(&v.searchTimer, v.reload) }
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
	return container.NewBorder(container.NewPadded(bar), container.NewPadded(v.status), nil, nil, v.list)
}

func (v *logsView) load(projectID string) {
	if projectID != v.project {
		v.steps = nil
		v.step.SetOptions([]string{filterAll})
	}
	v.project = projectID
	v.scope = ""
	if v.s.isShown(v) {
		v.reload()
	} else {
		v.visible = nil
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

// logLimit is how many entries the screen shows: the newest that match
// its filters (workspace reads the log timeline newest first and stops
// there, so 100,000 pages cost what 100 cost).
const logLimit = 2000

// reload queries the newest entries matching the filters, off the UI
// goroutine.
func (v *logsView) reload() {
	v.seq++
	seq, project := v.seq, v.project
	if project == "" {
		v.visible, v.more = nil, false
		v.list.Refresh()
		v.status.SetText("")
		return
	}
	q := workspace.LogQuery{PageID: v.scope, Text: strings.TrimSpace(v.search.Text), Limit: logLimit}
	if lv := v.level.Selected; lv != "" && lv != filterAll {
		q.Level = lv
	}
	if st := v.step.Selected; st != "" && st != filterAll {
		q.Step = st
	}
	v.status.SetText("Reading logs…")
	v.loading = true
	v.s.bg(func() func() {
		lines, more, err := v.s.ws.RecentLogs(context.Background(), project, q)
		return func() {
			if seq != v.seq {
				return // a newer query is on its way
			}
			v.loading = false
			if err != nil {
				v.s.showErr(err)
			}
			v.visible = v.visible[:0]
			for _, l := range lines {
				v.visible = append(v.visible, logLine{pageID: l.PageID, entry: l.Entry})
			}
			v.more = more
			v.noteSteps(lines)
			v.list.Refresh()
			switch n := len(v.visible); {
			case more:
				v.status.SetText(fmt.Sprintf("The newest %s entries; filter or search to see older ones.", groupDigits(n)))
			case n == 1:
				v.status.SetText("1 entry")
			default:
				v.status.SetText(groupDigits(n) + " entries")
			}
		}
	})
}

// noteSteps adds the steps of lines to the step filter's options (they
// only grow while the project is open).
func (v *logsView) noteSteps(lines []workspace.LogLine) {
	if v.steps == nil {
		v.steps = map[string]bool{}
	}
	grew := false
	for _, l := range lines {
		if st := l.Entry.Step; st != "" && !v.steps[st] {
			v.steps[st] = true
			grew = true
		}
	}
	if grew {
		v.step.SetOptions(append([]string{filterAll}, sortedKeys(v.steps)...))
	}
}

// filter runs the query again with the filters as they are now.
func (v *logsView) filter() { v.reload() }

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
