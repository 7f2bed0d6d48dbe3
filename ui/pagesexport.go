package ui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// CSV export of the Pages table's current view: the rows the filters let
// through, in the table's order (workspace.WritePagesCSV says the columns).

// viewRows are the rows on screen, in order, as workspace rows.
func (v *pagesView) viewRows() []workspace.PageRow {
	out := make([]workspace.PageRow, len(v.filtered))
	for i, idx := range v.filtered {
		out[i] = v.rows[idx].page()
	}
	return out
}

// csvFileName is "<project>-pages-20261201-1604.csv", safe as a file name.
func csvFileName(project string, now time.Time) string {
	name := unsafeFileChars.ReplaceAllString(strings.TrimSpace(project), "-")
	name = strings.Trim(name, "-.")
	if name == "" {
		name = "nimbus"
	}
	return name + "-pages-" + now.Format("20060102-1504") + ".csv"
}

// projectName is the open project's name (its ID when unknown).
func (v *pagesView) projectName() string {
	for _, p := range v.s.projects {
		if p.ProjectID == v.project {
			return p.Name
		}
	}
	return v.project
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// askExport asks where to save the current view as CSV, then writes it.
func (v *pagesView) askExport() {
	if v.project == "" || len(v.filtered) == 0 {
		return
	}
	rows := v.viewRows() // the view as it is now, whatever changes while the dialog is open
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			v.s.showErr(err)
			return
		}
		if w == nil {
			return // cancelled
		}
		v.exportTo(w, rows)
	}, v.s.win)
	d.SetFileName(csvFileName(v.projectName(), time.Now()))
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv"}))
	d.SetConfirmText("Export")
	d.SetTitleText(fmt.Sprintf("Export %s pages as CSV", groupDigits(len(rows))))
	win := v.s.win.Canvas().Size()
	d.Resize(fyne.NewSize(min(820, win.Width-40), min(560, win.Height-40)))
	d.Show()
}

// exportTo writes rows to w off the UI goroutine and says where they went.
func (v *pagesView) exportTo(w fyne.URIWriteCloser, rows []workspace.PageRow) {
	v.exportBtn.Disable()
	v.exportBtn.SetText("Exporting…")
	where := w.URI().Path()
	if where == "" {
		where = w.URI().String()
	}
	v.s.bg(func() func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		err := workspace.WritePagesCSV(ctx, w, rows)
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("save %s: %w", where, cerr)
		}
		return func() {
			v.exportBtn.SetText(exportLabel)
			v.exportBtn.Enable()
			if err != nil {
				v.s.showErr(err)
				return
			}
			done := dialog.NewInformation("Exported", fmt.Sprintf("%s pages written to\n%s", groupDigits(len(rows)), where), v.s.win)
			v.s.present(done, done.Hide) // Enter or Esc closes it
		}
	})
}

const exportLabel = "Export CSV…"
