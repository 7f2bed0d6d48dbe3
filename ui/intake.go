package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

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
	running bool

	progress *widget.ProgressBar
	current  *widget.Label
	box      *fyne.Container
	watching string
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

// pickFolder opens the folder picker.
func (v *intakeView) pickFolder() {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			v.s.showErr(err)
			return
		}
		if u == nil {
			return
		}
		v.importFolder(u.Path())
	}, v.s.win)
	d.Resize(fyne.NewSize(820, 560))
	d.Show()
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
	name := filepath.Base(filepath.Dir(folder))
	if name == "." || name == string(filepath.Separator) || name == "" {
		name = filepath.Base(folder)
	}
	p, err := v.s.ws.CreateProject(context.Background(), name, workspace.ProjectOptions{})
	if err != nil {
		return "", fmt.Errorf("create a project for %s: %w", folder, err)
	}
	v.s.reloadProjects()
	return p.ProjectID, nil
}

// importFolder imports folder into the current project (creating one on
// first run).
func (v *intakeView) importFolder(folder string) {
	proj, err := v.ensureProject(folder)
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.s.showErr(fmt.Errorf("import %s into %s: %w", folder, proj, errImportMissing))
}

// errImportMissing: this build has no intake engine to call yet.
var errImportMissing = errors.New("this build has no import engine yet; use 'nimbus import' once it exists")

func (v *intakeView) cancelRunning() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cancel != nil {
		v.cancel()
	}
}

// watchText is the watch state shown in the top bar.
func (v *intakeView) watchText() string {
	if v.watching == "" {
		return "Not watching a folder"
	}
	return v.watching
}
