package ui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// ErrNotAFolder is shown when files rather than a folder are dropped.
var ErrNotAFolder = errors.New("drop the site's output folder (for example dist/), not files")

// intakeView is the first-run invitation (drop or pick the site folder) and
// the import progress.
type intakeView struct {
	s *Shell

	mu      sync.Mutex
	cancel  context.CancelFunc
	ctx     context.Context
	running bool
	// wg tracks the watch goroutine, so Close waits for it before the
	// store closes.
	wg sync.WaitGroup

	progress   *widget.ProgressBar
	current    *widget.Label
	box        *fyne.Container
	dialog     dialog.Dialog
	otherSite  dialog.Dialog      // the "Another site?" question, while open
	openDialog *dialog.FormDialog // "Open site folder", the last one shown
	openPath   *field             // its path field
	watching   string
	notice     string
	lastResult workspace.ImportResult
}

func newIntakeView(s *Shell) *intakeView {
	v := &intakeView{s: s}
	v.progress = widget.NewProgressBar()
	v.current = widget.NewLabel("")
	v.current.Truncation = fyne.TextTruncateEllipsis
	return v
}

// emptyState is shown in place of the pages table while the project has no
// pages.
func (v *intakeView) emptyState() fyne.CanvasObject {
	icon := widget.NewIcon(theme.FolderOpenIcon())
	iconBox := container.NewCenter(container.NewGridWrap(fyne.NewSize(96, 96), icon))
	title := widget.NewLabelWithStyle("Drop your site's build folder here", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	body := widget.NewLabel("The folder your generator writes, for example dist/ or public/.\n" +
		"Nimbus reads every HTML page into the local store, works offline,\nand never changes the folder itself.")
	body.Alignment = fyne.TextAlignCenter
	pick := widget.NewButtonWithIcon("Choose folder…", theme.FolderOpenIcon(), v.pickFolder)
	pick.Importance = widget.HighImportance
	hint := widget.NewLabel("or press Ctrl+O")
	hint.Importance = widget.LowImportance
	hint.Alignment = fyne.TextAlignCenter
	v.box = container.NewVBox(iconBox, title, body, container.NewCenter(pick), hint)
	return container.NewCenter(v.box)
}

// pickFolder asks for the site folder (Ctrl+O, "Choose folder…"): a path
// typed or pasted, or Browse… for the folder picker (Fyne's picker has no
// path field). The path must be an existing folder; the form says what is
// wrong and its Open stays off until it is. Then the import goes on as a
// drop does (a folder that looks like another site asks: new project, or
// this one).
func (v *intakeView) pickFolder() {
	path := newField(v.s, false)
	path.SetPlaceHolder("/home/you/sites/example/dist")
	path.Validator = func(text string) error {
		_, err := siteFolder(text)
		return err
	}
	browse := widget.NewButtonWithIcon("Browse…", theme.FolderOpenIcon(), func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				v.s.showErr(err)
				return
			}
			if u != nil {
				path.SetText(u.Path())
			}
		}, v.s.win)
		d.Resize(fyne.NewSize(820, 560))
		d.Show()
	})
	item := widget.NewFormItem("Folder", path)
	item.HintText = "the site's build folder (dist/, public/, _site/): type or paste its path"
	d := dialog.NewForm("Open site folder", "Open", "Cancel", []*widget.FormItem{
		item, widget.NewFormItem("", container.NewHBox(browse)),
	}, func(ok bool) {
		if !ok {
			return
		}
		folder, err := siteFolder(path.Text)
		if err != nil {
			v.s.showErr(err)
			return
		}
		v.importFolder(folder)
	}, v.s.win)
	path.OnSubmitted = func(string) { d.Submit() }
	d.Resize(fyne.NewSize(640, 0))
	v.openDialog, v.openPath = d, path
	v.s.present(d, d.Submit)
	v.s.win.Canvas().Focus(path)
}

// siteFolder checks a typed or pasted folder path: quotes and a file://
// prefix (what a file manager's copy gives) are dropped and ~ is the home
// folder; it must name an existing folder.
func siteFolder(text string) (string, error) {
	p := strings.TrimSpace(text)
	p = strings.Trim(p, `"'`)
	p = strings.TrimPrefix(p, "file://")
	if p == "" {
		return "", errors.New("type or paste the folder's path, or Browse…")
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	p = filepath.Clean(p)
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("there is no folder %s", p)
	case err != nil:
		return "", fmt.Errorf("cannot open %s: %w", p, err)
	case !fi.IsDir():
		return "", fmt.Errorf("%s is a file, not a folder: pick the folder that holds the site's pages", p)
	}
	return p, nil
}

// HandleDrop is the window's drop handler: the first folder dropped is
// imported; files are rejected with a message. It is a named method so
// tests call it directly (the test window ignores SetOnDropped).
func (s *Shell) HandleDrop(_ fyne.Position, uris []fyne.URI) {
	folder, err := droppedFolder(uris)
	if err != nil {
		s.showErr(err)
		return
	}
	s.intake.importFolder(folder)
}

// droppedFolder picks the folder out of a drop.
func droppedFolder(uris []fyne.URI) (string, error) {
	var files []string
	for _, u := range uris {
		if ok, err := storage.CanList(u); err == nil && ok {
			return u.Path(), nil
		}
		files = append(files, u.Name())
	}
	if len(files) == 0 {
		return "", ErrNotAFolder
	}
	return "", fmt.Errorf("%w: %s", ErrNotAFolder, strings.Join(files, ", "))
}

// ensureProject returns the current project, creating one named after the
// site (the folder's parent, e.g. "repairsbypost.com" for
// .../repairsbypost.com/dist) on first run.
func (v *intakeView) ensureProject(folder string) (string, error) {
	if v.s.project != "" {
		return v.s.project, nil
	}
	p, err := v.s.ws.CreateProject(context.Background(), workspace.SuggestProjectName(folder), workspace.ProjectOptions{})
	if err != nil {
		return "", fmt.Errorf("create a project for %s: %w", folder, err)
	}
	v.s.reloadProjects()
	return p.ProjectID, nil
}

// importFolder imports folder into the current project (creating one on
// first run) with a progress dialog, shows the summary, then keeps watching
// the folder so changes flow in live.
func (v *intakeView) importFolder(folder string) {
	proj, err := v.ensureProject(folder)
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.startImport(folder, proj, true, false)
}

// startImport runs the import and watch of folder; interactive shows the
// progress dialog and the summary (a resumed watch after a restart does not).
//
// another: the editor chose to import a folder that looks like another
// site into proj (workspace.ImportOptions.AnotherFolder).
func (v *intakeView) startImport(folder, proj string, interactive, another bool) {
	v.cancelRunning()
	ctx, cancel := context.WithCancel(context.Background())
	v.mu.Lock()
	v.cancel = cancel
	v.ctx = ctx
	v.running = true
	v.mu.Unlock()

	v.progress.Min, v.progress.Max = 0, 1
	v.progress.SetValue(0)
	v.current.SetText("Scanning " + folder + " …")
	count := widget.NewLabel("")
	cancelBtn := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), cancel)
	body := container.NewVBox(v.current, v.progress, container.NewBorder(nil, nil, count, cancelBtn))
	if interactive {
		d := dialog.NewCustomWithoutButtons("Importing "+filepath.Base(folder), body, v.s.win)
		d.Resize(fyne.NewSize(560, 180))
		v.s.presentWith(d, nil, cancel) // Esc is its Cancel
		v.dialog = d
	}
	v.watching = "Reading " + filepath.Base(folder) + "/ …"
	v.s.refreshChips()

	// Progress arrives after every file; the UI takes the latest one at
	// most every 100 ms.
	var latest atomic.Pointer[workspace.ImportProgress]
	var pending atomic.Bool
	show := func() {
		pending.Store(false)
		p := latest.Load()
		if p == nil {
			return
		}
		v.progress.Max = float64(max(p.Total, 1))
		v.progress.SetValue(float64(p.Done))
		v.current.SetText(p.Current)
		count.SetText(fmt.Sprintf("%s of %s files", groupDigits(p.Done), groupDigits(p.Total)))
	}
	opts := workspace.ImportOptions{ProjectID: proj, Progress: func(p workspace.ImportProgress) {
		latest.Store(&p)
		if v.s.opts.Synchronous {
			return
		}
		if pending.CompareAndSwap(false, true) {
			time.AfterFunc(coalesceEvery, func() { v.s.do(show) })
		}
	}, AnotherFolder: another}

	if v.s.opts.Synchronous {
		// Tests: one import, no watch (its goroutines would outlive the test).
		res, err := v.s.ws.Import(ctx, folder, opts)
		show()
		v.imported(folder, proj, res, err, true)
		return
	}
	var first atomic.Bool
	first.Store(interactive)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		err := v.s.ws.WatchFolder(ctx, folder, opts, func(res workspace.ImportResult, err error) {
			isFirst := first.Swap(false)
			v.s.do(func() { v.imported(folder, proj, res, err, isFirst) })
		}, func(msg string) {
			v.s.do(func() { v.notice = msg; v.s.refreshChips() })
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			slog.Warn("watch", "folder", folder, "err", err)
		}
		v.s.do(func() {
			v.mu.Lock()
			mine := v.ctx == ctx
			if mine {
				v.running = false
			}
			v.mu.Unlock()
			if mine {
				v.watching = ""
				v.s.refreshChips()
			}
		})
	}()
}

// prefWatchFolder + project ID remembers the watched folder across runs.
const prefWatchFolder = "watch.folder."

// resumeWatch starts watching the project's folder again after a restart.
func (v *intakeView) resumeWatch(projectID string) {
	if projectID == "" || v.s.opts.Synchronous {
		return
	}
	folder := v.s.app.Preferences().String(prefWatchFolder + projectID)
	if folder == "" {
		return
	}
	if _, err := os.Stat(folder); err != nil {
		return
	}
	v.startImport(folder, projectID, false, false)
}

// imported handles one import's result: the first one closes the progress
// dialog and shows the summary; later ones (the watch) only update the
// watch state.
func (v *intakeView) imported(folder, proj string, res workspace.ImportResult, err error, first bool) {
	if first && v.dialog != nil {
		v.dialog.Hide()
		v.dialog = nil
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			if first {
				v.s.inform("Import cancelled", "Pages read so far are kept; import the folder again to finish.")
			}
			return
		}
		var other *workspace.OtherSiteError
		if first && errors.As(err, &other) {
			v.watching = ""
			v.s.refreshChips()
			v.askOtherSite(folder, proj, other.Check)
			return
		}
		v.s.showErr(fmt.Errorf("import %s: %w", folder, err))
		return
	}
	if first {
		// Remembered for the next start only once the folder is the
		// project's: a refused other site must not be resumed.
		v.s.app.Preferences().SetString(prefWatchFolder+proj, folder)
	}
	n, _ := v.s.ws.PageCount(proj)
	v.watching = fmt.Sprintf("Watching %s/ · %s pages", filepath.Base(folder), groupDigits(n))
	if v.s.opts.Synchronous {
		v.watching = ""
		v.s.pages.load(proj)
	}
	v.lastResult = res
	v.s.refreshChips()
	if first {
		v.showSummary(res)
	}
}

// askOtherSite: the folder looks like another site than the project's
// (workspace.CheckFolder). Nothing was written; the editor chooses: a new
// project for it (the usual case), this project on purpose (its other
// pages are then marked source missing), or nothing (the previous watch
// resumes).
func (v *intakeView) askOtherSite(folder, proj string, c workspace.FolderCheck) {
	projName := proj
	for _, p := range v.s.projects {
		if p.ProjectID == proj {
			projName = p.Name
		}
	}
	suggest := workspace.SuggestProjectName(folder)
	msg := widget.NewLabel(fmt.Sprintf("%s looks like another site than %s's.\nOnly %s of its %s pages are in this folder (it was imported from %s).",
		folder, projName, groupDigits(c.Found), groupDigits(c.Known), c.PrevRoot))
	msg.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	newBtn := widget.NewButtonWithIcon("New project “"+suggest+"”", theme.ContentAddIcon(), func() {
		d.Hide()
		id, err := v.newProjectFor(suggest)
		if err != nil {
			v.s.showErr(err)
			return
		}
		v.s.reloadProjects()
		v.startImport(folder, id, true, false)
	})
	newBtn.Importance = widget.HighImportance
	intoBtn := widget.NewButton("Import into “"+projName+"” anyway", func() {
		d.Hide()
		v.startImport(folder, proj, true, true)
	})
	cancelBtn := widget.NewButton("Cancel", func() {
		d.Hide()
		v.resumeWatch(proj)
	})
	d = dialog.NewCustomWithoutButtons("Another site?", container.NewVBox(msg,
		widget.NewLabel("Importing it into this project can mark the project's other pages \"source missing\"."),
		container.NewHBox(newBtn, intoBtn, cancelBtn)), v.s.win)
	d.Resize(fyne.NewSize(640, 0))
	v.s.presentWith(d, nil, func() { // Esc is its Cancel
		d.Hide()
		v.resumeWatch(proj)
	})
	v.otherSite = d
}

// newProjectFor creates a project named name, or "name (2)", "name (3)"
// ... when the name is taken.
func (v *intakeView) newProjectFor(name string) (string, error) {
	var last error
	for i := 1; i <= 20; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s (%d)", name, i)
		}
		p, err := v.s.ws.CreateProject(context.Background(), n, workspace.ProjectOptions{})
		if err == nil {
			return p.ProjectID, nil
		}
		last = err
	}
	return "", last
}

// showSummary is the end-of-import report.
func (v *intakeView) showSummary(res workspace.ImportResult) {
	lines := []string{
		fmt.Sprintf("%s files read in %.1f s", groupDigits(res.Files), float64(res.DurationMs)/1000),
		fmt.Sprintf("%s new pages", groupDigits(res.New)),
		fmt.Sprintf("%s changed pages", groupDigits(res.Written-res.New)),
		fmt.Sprintf("%s unchanged", groupDigits(res.Unchanged)),
		fmt.Sprintf("%s failed", groupDigits(res.Failed)),
	}
	if res.Missing > 0 {
		lines = append(lines, fmt.Sprintf("%s no longer in the folder (kept, marked missing)", groupDigits(res.Missing)))
	}
	if res.Duplicates != nil && *res.Duplicates > 0 {
		lines = append(lines, fmt.Sprintf("%s pages share a title, description, h1 or canonical", groupDigits(*res.Duplicates)))
	}
	box := container.NewVBox(widget.NewLabel(strings.Join(lines, "\n")))
	if len(res.Errors) > 0 {
		box.Add(heading("Failed files"))
		for i, e := range res.Errors {
			if i == 20 {
				box.Add(widget.NewLabel(fmt.Sprintf("… and %d more (see Logs)", len(res.Errors)-20)))
				break
			}
			l := widget.NewLabel(e.SourcePath + ": " + e.Reason)
			l.Wrapping = fyne.TextWrapWord
			box.Add(l)
		}
	}
	d := dialog.NewCustom("Import finished", "Close", container.NewVScroll(box), v.s.win)
	d.Resize(fyne.NewSize(600, 360))
	v.s.present(d, d.Hide) // Enter or Esc closes it
}

func (v *intakeView) cancelRunning() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cancel != nil {
		v.cancel()
	}
}

// stop cancels the import/watch and waits until it has let go of the store.
func (v *intakeView) stop() {
	v.cancelRunning()
	v.wg.Wait()
}

// watchText is the watch state shown in the top bar.
func (v *intakeView) watchText() string {
	if v.watching == "" {
		return "Not watching a folder"
	}
	if v.notice != "" {
		return v.watching + " · " + v.notice
	}
	return v.watching
}
