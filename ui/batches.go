package ui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// batchesView is the Batches screen: every batch with its progress, and
// the per-page status of the open one, updated live row by row.
type batchesView struct {
	s       *Shell
	project string

	batches []model.BatchData
	byID    map[string]int
	list    *widget.List

	open     string // batch ID shown on the right
	pageIDs  []string
	pageRow  map[string]int
	statuses map[string]model.StatusData
	pages    *widget.List
	header   *widget.Label
	retry    *widget.Button    // "Retry N failed", on a batch with failed pages
	movedTo  map[string]string // page ID -> the later batch its status belongs to now
	right    *fyne.Container
}

func newBatchesView(s *Shell) *batchesView {
	v := &batchesView{s: s, byID: map[string]int{}, pageRow: map[string]int{}, statuses: map[string]model.StatusData{}}
	v.list = widget.NewList(
		func() int { return len(v.batches) },
		func() fyne.CanvasObject {
			name := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			state := widget.NewLabel("")
			figures := widget.NewLabel("")
			figures.Truncation = fyne.TextTruncateEllipsis
			return container.NewVBox(container.NewBorder(nil, nil, nil, state, name), widget.NewProgressBar(), figures)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.batches) {
				return
			}
			b := v.batches[i]
			box := o.(*fyne.Container)
			head := box.Objects[0].(*fyne.Container)
			head.Objects[0].(*widget.Label).SetText(b.BatchID)
			st := head.Objects[1].(*widget.Label)
			st.Importance = batchImportance(b.Status)
			st.SetText(b.Status)
			bar := box.Objects[1].(*widget.ProgressBar)
			if b.Status == model.BatchUploading {
				bar.Hide() // an import, not work in flight
			} else {
				bar.Show()
				bar.Max = float64(max(b.PageCount, 1))
				bar.SetValue(float64(b.Summary.Completed + b.Summary.Failed))
			}
			box.Objects[2].(*widget.Label).SetText(batchFigures(b, v.concurrency(), v.s.syncer.etaPause()))
		},
	)
	v.list.OnSelected = func(i widget.ListItemID) {
		if i < len(v.batches) {
			v.openBatch(v.batches[i].BatchID)
		}
		s.win.Canvas().Unfocus()
	}

	v.pages = widget.NewList(
		func() int { return len(v.pageIDs) },
		newBatchPageRow,
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.pageIDs) {
				return
			}
			id := v.pageIDs[i]
			status, detail := v.pageStatus(id)
			r := o.(*fyne.Container)
			line := r.Objects[0].(*fyne.Container)
			line.Objects[0].(*fitLabel).SetText(v.pathOf(id))
			st := line.Objects[1].(*fyne.Container).Objects[0].(*widget.Label)
			st.Importance = statusImportance(status)
			st.SetText(status)
			d := r.Objects[1].(*widget.Label)
			d.Importance = widget.LowImportance
			if status == model.StatusFailed {
				d.Importance = widget.DangerImportance
			}
			d.SetText(detail)
		},
	)
	// A failed page opens its logs (the Logs screen scoped to it): what
	// went wrong before the code and message, and the retries.
	v.pages.OnSelected = func(i widget.ListItemID) {
		v.pages.Unselect(i) // a second click on the same page opens it again
		if i >= len(v.pageIDs) {
			return
		}
		id := v.pageIDs[i]
		if st, _ := v.pageStatus(id); st != model.StatusFailed {
			return
		}
		s.logs.scopeTo(id, v.pathOf(id))
		s.tabs.SelectIndex(3)
	}
	v.header = widget.NewLabel("Select a batch to see its pages.")
	v.header.Truncation = fyne.TextTruncateEllipsis
	v.retry = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), v.retryFailed)
	v.retry.Hide()
	v.right = container.NewBorder(container.NewBorder(nil, nil, nil, v.retry, v.header), nil, nil, nil, v.pages)
	return v
}

// newBatchPageRow is one page of the open batch on two lines: the path
// (its middle cut, so the file name stays) and the status, then what goes
// with the status (a failure's code and message, a step, the changes) on
// the whole width below, so a long error never squeezes the path.
func newBatchPageRow() fyne.CanvasObject {
	path := newFitLabel(true) // the regular font, as in Pages: more of a path fits
	st := widget.NewLabel("")
	detail := widget.NewLabel("")
	detail.Truncation = fyne.TextTruncateEllipsis
	line := container.NewBorder(nil, nil, nil, container.NewGridWrap(fyne.NewSize(110, st.MinSize().Height), st), path)
	// The detail line tucks under the path: the labels' own paddings
	// overlap, their text does not.
	return container.New(layout.NewCustomPaddedVBoxLayout(-theme.InnerPadding()-theme.Padding()), line, detail)
}

func (v *batchesView) content() fyne.CanvasObject {
	split := container.NewHSplit(v.list, container.NewPadded(v.right))
	split.Offset = 0.4
	return split
}

func (v *batchesView) concurrency() int {
	p, err := v.s.ws.Project(v.project)
	if err != nil || p.Settings.DefaultConcurrency < 1 {
		return 1
	}
	return p.Settings.DefaultConcurrency
}

func batchImportance(status string) widget.Importance {
	switch status {
	case model.BatchCompleted:
		return widget.SuccessImportance
	case model.BatchFailed:
		return widget.DangerImportance
	case model.BatchProcessing:
		return widget.HighImportance
	}
	return widget.MediumImportance
}

// batchFigures is "95 done · 2 failed · 3 pending · 2.5 s/page · ETA 2 min"
// for work in flight. An import's upload batch is no work in flight: it says
// how many pages it holds and that they wait to be submitted; pages a
// finished batch never got to are "not submitted", with no ETA. Offline
// nothing new is known of the Worker's progress: the ETA is paused, not a
// figure that goes stale.
func batchFigures(b model.BatchData, concurrency int, paused string) string {
	s := b.Summary
	if b.Status == model.BatchUploading {
		return fmt.Sprintf("import of %s pages · not submitted yet (Submit… sends them to the Worker)", groupDigits(max(b.PageCount, len(b.Pages))))
	}
	inFlight := b.Status == model.BatchQueued || b.Status == model.BatchProcessing
	parts := []string{
		fmt.Sprintf("%s done", groupDigits(s.Completed)),
		fmt.Sprintf("%s failed", groupDigits(s.Failed)),
	}
	if s.Pending > 0 {
		if inFlight {
			parts = append(parts, fmt.Sprintf("%s pending", groupDigits(s.Pending)))
		} else {
			parts = append(parts, fmt.Sprintf("%s not submitted", groupDigits(s.Pending)))
		}
	}
	if s.AverageTimeMs > 0 {
		parts = append(parts, fmt.Sprintf("%.1f s/page", float64(s.AverageTimeMs)/1000))
	}
	if inFlight && s.Pending > 0 {
		if paused != "" {
			parts = append(parts, paused)
		} else if eta, ok := batchETA(b, concurrency); ok {
			parts = append(parts, "ETA "+eta.Round(time.Second).String())
		}
	}
	return strings.Join(parts, " · ")
}

// etaPaused stands for the ETA while the sync chip says offline, and
// etaLocal while sync is not set up (nothing new arrives from the Worker:
// an ETA from the last figures would count down for ever).
const (
	etaPaused = "ETA paused while offline"
	etaLocal  = "no ETA while sync is not set up"
)

// batchETA is the time the pending pages of b will take at the rate
// observed so far (pages finished per second since the first one started);
// before two pages have finished, from the average time per page and the
// concurrency. No ETA before anything has finished.
func batchETA(b model.BatchData, concurrency int) (time.Duration, bool) {
	var first, last time.Time
	done := 0
	for _, p := range b.Pages {
		if p.Completed == "" {
			continue
		}
		c, err := model.ParseTime(p.Completed)
		if err != nil {
			continue
		}
		start := c
		if st, err := model.ParseTime(p.Started); err == nil && p.Started != "" {
			start = st
		}
		if first.IsZero() || start.Before(first) {
			first = start
		}
		if c.After(last) {
			last = c
		}
		done++
	}
	pending := b.Summary.Pending
	if done >= 2 && last.After(first) {
		perPage := last.Sub(first) / time.Duration(done)
		return perPage * time.Duration(pending), true
	}
	if b.Summary.AverageTimeMs > 0 {
		return time.Duration(int64(pending)*b.Summary.AverageTimeMs/int64(max(concurrency, 1))) * time.Millisecond, true
	}
	return 0, false
}

func (v *batchesView) load(projectID string) {
	v.project = projectID
	v.batches = nil
	v.byID = map[string]int{}
	v.open = ""
	v.pageIDs = nil
	v.header.SetText("Select a batch to see its pages.")
	v.retry.Hide()
	if projectID != "" {
		bs, err := v.s.ws.Batches(projectID)
		if err != nil {
			v.s.showErr(err)
		}
		v.batches = append(v.batches, bs...)
	}
	v.sortBatches()
	v.list.UnselectAll()
	v.list.Refresh()
	v.pages.Refresh()
}

// sortBatches puts the newest first (IDs are timestamps).
func (v *batchesView) sortBatches() {
	sort.Slice(v.batches, func(i, j int) bool { return v.batches[i].BatchID > v.batches[j].BatchID })
	v.byID = make(map[string]int, len(v.batches))
	for i, b := range v.batches {
		v.byID[b.BatchID] = i
	}
}

func (v *batchesView) openBatch(id string) {
	i, ok := v.byID[id]
	if !ok {
		return
	}
	b := v.batches[i]
	v.open = id
	v.pageIDs = v.pageIDs[:0]
	for pid := range b.Pages {
		v.pageIDs = append(v.pageIDs, pid)
	}
	v.statuses = map[string]model.StatusData{}
	v.movedTo = map[string]string{}
	for _, pid := range v.pageIDs {
		st, err := v.s.ws.PageStatus(v.project, pid)
		switch {
		case err != nil:
		case st.BatchID == id:
			v.statuses[pid] = st
		case st.BatchID > id:
			// submitted again since (Retry failed, a later submit): not
			// this batch's to retry any more
			v.movedTo[pid] = st.BatchID
		}
	}
	// What needs attention first: processing, failed, waiting, then done;
	// by path within each. Rows keep their place while statuses change live.
	order := func(pid string) int {
		st, _ := v.pageStatus(pid)
		switch st {
		case model.StatusProcessing:
			return 0
		case model.StatusFailed:
			return 1
		case model.StatusQueued, model.StatusUploaded:
			return 2
		}
		return 3
	}
	sort.Slice(v.pageIDs, func(a, c int) bool {
		oa, oc := order(v.pageIDs[a]), order(v.pageIDs[c])
		if oa != oc {
			return oa < oc
		}
		return v.pathOf(v.pageIDs[a]) < v.pathOf(v.pageIDs[c])
	})
	v.pageRow = make(map[string]int, len(v.pageIDs))
	for n, pid := range v.pageIDs {
		v.pageRow[pid] = n
	}
	v.header.SetText(fmt.Sprintf("%s · %s pages · created %s", id, groupDigits(b.PageCount), shortTime(b.Created)))
	v.refreshRetry()
	v.pages.Refresh()
}

// refreshRetry offers "Retry N failed" for the open batch's failed pages
// that were not submitted again since.
func (v *batchesView) refreshRetry() {
	failed := 0
	for _, pid := range v.pageIDs {
		if st, _ := v.pageStatus(pid); st == model.StatusFailed && v.movedTo[pid] == "" {
			failed++
		}
	}
	if failed > 0 {
		v.retry.SetText(fmt.Sprintf("Retry %s failed", groupDigits(failed)))
		v.retry.Show()
	} else {
		v.retry.Hide()
	}
}

// retryFailed resubmits the open batch's failed pages in a new batch
// (workspace.SubmitOptions.Failed), after the editor confirms.
func (v *batchesView) retryFailed() {
	batch, proj := v.open, v.project
	if batch == "" {
		return
	}
	n := strings.TrimSuffix(strings.TrimPrefix(v.retry.Text, "Retry "), " failed")
	what := n + " failed pages"
	if n == "1" {
		what = "the failed page"
	}
	v.s.confirm("Retry failed pages", "Submit "+what+" of "+batch+" again, in a new batch?\nThey are sent at the next sync.", true, func(ok bool) {
		if !ok {
			return
		}
		v.s.bg(func() func() {
			res, err := v.s.ws.Submit(context.Background(), workspace.SubmitOptions{ProjectID: proj, BatchID: batch, Failed: true})
			return func() {
				if err != nil {
					v.s.showErr(err)
					return
				}
				if proj == v.project {
					v.load(proj)
				}
				v.s.inform("Submitted again", fmt.Sprintf("%s in %s. They are sent at the next sync.", plural(res.Pages, "page", "pages"), strings.Join(res.Batches, ", ")))
			}
		})
	})
}

func (v *batchesView) pathOf(pageID string) string {
	if i, ok := v.s.pages.byID[pageID]; ok {
		return v.s.pages.rows[i].path
	}
	return pageID
}

// pageStatus is the page's status in the open batch: the status record when
// it belongs to this batch (it is the freshest), else the batch entry.
func (v *batchesView) pageStatus(pageID string) (status, detail string) {
	if st, ok := v.statuses[pageID]; ok {
		switch {
		case st.Status == model.StatusProcessing && st.Processing != nil:
			return st.Status, fmt.Sprintf("%s %d%%", st.Processing.CurrentStep, st.Processing.Progress)
		case st.Status == model.StatusFailed && st.Error != nil:
			return st.Status, st.Error.Code + ": " + st.Error.Message
		case st.Status == model.StatusDone && st.Result != nil:
			return st.Status, fmt.Sprintf("%d changes", st.Result.Changes)
		}
		return st.Status, ""
	}
	if i, ok := v.byID[v.open]; ok {
		bp := v.batches[i].Pages[pageID]
		if later := v.movedTo[pageID]; later != "" {
			detail := "submitted again in " + later
			if bp.Error != "" {
				detail = bp.Error + " · " + detail
			}
			return bp.Status, detail
		}
		return bp.Status, bp.Error
	}
	return "", ""
}

func (v *batchesView) changed(cs *changeSet) {
	if v.project == "" {
		return
	}
	if cs.overflow {
		open := v.open
		v.load(v.project)
		if open != "" {
			v.openBatch(open)
		}
		return
	}
	added := false
	for _, key := range cs.keysOf(model.KindBatch, v.project) {
		id := key[strings.LastIndexByte(key, ':')+1:]
		b, err := v.s.ws.Batch(v.project, id)
		if err != nil {
			continue
		}
		if i, ok := v.byID[id]; ok {
			prev := v.batches[i].Status
			v.batches[i] = b
			v.list.RefreshItem(i)
			if prev != model.BatchCompleted && b.Status == model.BatchCompleted {
				v.s.app.SendNotification(fyne.NewNotification("Batch complete",
					fmt.Sprintf("%s: %d done, %d failed", id, b.Summary.Completed, b.Summary.Failed)))
			}
			if id == v.open {
				v.pages.Refresh()
			}
		} else {
			v.batches = append(v.batches, b)
			added = true
		}
	}
	if added {
		v.sortBatches()
		v.list.Refresh()
	}
	if v.open == "" {
		return
	}
	for _, key := range cs.keysOf(model.KindStatus, v.project) {
		pid := key[strings.LastIndexByte(key, ':')+1:]
		n, ok := v.pageRow[pid]
		if !ok {
			continue
		}
		s, err := v.s.ws.PageStatus(v.project, pid)
		switch {
		case err != nil:
			continue
		case s.BatchID == v.open:
			v.statuses[pid] = s
		case s.BatchID > v.open && v.movedTo != nil:
			v.movedTo[pid] = s.BatchID
			delete(v.statuses, pid)
		default:
			continue
		}
		v.pages.RefreshItem(n)
		v.refreshRetry()
	}
}
