package ui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/assets"
	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// AppID is the Fyne application ID (preferences, notifications); the same
// as FyneApp.toml's.
const AppID = "dev.nimbus.desktop"

// appIcon is the bundled icon as a Fyne resource.
var appIcon = fyne.NewStaticResource(assets.IconName, assets.IconPNG)

// minWindow is the smallest window the layouts are designed for.
var minWindow = fyne.NewSize(980, 620)

// Options tune the shell.
type Options struct {
	// Synchronous runs background loads inline and delivers store events
	// only on Flush. Tests use it: the test driver runs fyne.Do on the
	// caller's goroutine, so anything asynchronous would race the test.
	Synchronous bool
	// Ready is called once when the first screen has its data, with the
	// number of pages loaded.
	Ready func(pages int)

	// post, when set, takes every function meant for the UI goroutine
	// instead of fyne.Do (the interaction benchmark runs its own UI loop:
	// the test driver runs fyne.Do on the calling goroutine).
	post func(func())
}

// view is one screen of the navigation.
type view interface {
	// content is built once.
	content() fyne.CanvasObject
	// load (re)reads everything for a project ("" = none yet).
	load(projectID string)
	// changed applies coalesced store changes.
	changed(cs *changeSet)
}

// runeHandler is a view with single-key shortcuts (active only when no
// text field has the focus).
type runeHandler interface {
	typedRune(r rune) bool
}

// Shell is the one window: project switcher, navigation, sync chip, watch
// state, and the views.
type Shell struct {
	app  fyne.App
	win  fyne.Window
	ws   Workspace
	opts Options
	hub  *hub

	// dlg is the dialog on screen (Esc closes it; dlgEnter, when set, is
	// what Enter does); keys meant for the views behind it are not passed on.
	dlg      dialog.Dialog
	dlgEnter func()
	dlgEsc   func() // what Esc does: Hide, or a progress dialog's Cancel
	dlgUnder []presented

	closing atomic.Bool // Close has begun: do drops its functions

	project  string
	projects []model.ProjectData

	projectSelect *widget.Select
	syncChip      *widget.Button
	watchLabel    *widget.Label
	topBar        *fyne.Container
	tabs          *container.AppTabs
	views         []view

	wasOffline bool // the sync state the Batches list was drawn for

	readyOnce sync.Once
	// globals are the window's shortcuts by name, for fields (runGlobal).
	globals map[string]func(fyne.Shortcut)

	pages    *pagesView
	batches  *batchesView
	review   *reviewView
	logs     *logsView
	data     *dataView
	settings *settingsView
	intake   *intakeView
	syncer   *syncer
}

// Run opens the window on ws and blocks until it is closed.
func Run(ws *workspace.Workspace) error {
	a := app.NewWithID(AppID)
	a.SetIcon(appIcon)
	// The editor's Light/Dark choice (Settings), before the first paint.
	// Tests build the shell with New on the test theme.
	applyAppearance(a, appearance(a), false)
	s := New(a, ws, Options{Ready: func(pages int) {
		// The smoke run reads this line to measure startup.
		slog.Info("window ready", "startup_ms", time.Since(started).Milliseconds(), "pages", pages)
	}})
	defer s.Close()
	s.installTray()
	s.win.ShowAndRun()
	return nil
}

// trayMenu is the system-tray menu. Its third item pauses the folder watch
// and then offers to resume it: the label follows the pause state, which is
// kept here because cancelling the watch clears intake.watching only later,
// on the watch's own goroutine.
func (s *Shell) trayMenu() *fyne.Menu {
	pause := fyne.NewMenuItem("Pause watching", nil)
	menu := fyne.NewMenu("Nimbus",
		fyne.NewMenuItem("Show Nimbus", func() { s.win.Show(); s.win.RequestFocus() }),
		fyne.NewMenuItem("Sync now", s.syncNow),
		pause,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Quit", s.app.Quit),
	)
	paused := false
	pause.Action = func() {
		if paused {
			s.intake.resumeWatch(s.project)
			paused = false
			pause.Label = "Pause watching"
		} else {
			s.intake.cancelRunning()
			paused = true
			pause.Label = "Resume watching"
		}
		menu.Refresh()
	}
	return menu
}

// installTray adds the system-tray menu where the desktop has one, and then
// lets closing the window keep syncing in the tray instead of quitting.
func (s *Shell) installTray() {
	desk, ok := s.app.(desktop.App)
	if !ok {
		return
	}
	if ok, why := trayAvailable(); !ok {
		// Closing the window quits (the default); nothing could bring a
		// hidden window back.
		slog.Info("no system tray; closing the window quits", "why", why)
		return
	}
	menu := s.trayMenu()
	desk.SetSystemTrayMenu(menu)
	desk.SetSystemTrayIcon(appIcon)
	s.win.SetCloseIntercept(func() {
		if !s.syncer.active() && s.intake.watching == "" {
			s.app.Quit()
			return
		}
		dialog.ShowCustomConfirm("Close Nimbus?", "Keep syncing in the tray", "Quit",
			widget.NewLabel("Sync or folder watching is running. Keep it running in the system tray, or quit?"),
			func(keep bool) {
				if keep {
					s.win.Hide()
					return
				}
				s.app.Quit()
			}, s.win)
	})
}

// started approximates the process start for the startup figure.
var started = time.Now()

// markReady reports the first screen as loaded (once).
func (s *Shell) markReady() {
	s.readyOnce.Do(func() {
		if s.opts.Ready != nil {
			s.opts.Ready(len(s.pages.rows))
		}
	})
}

// New builds the shell on a (a real or test app) and loads the current
// project.
func New(a fyne.App, ws Workspace, opts Options) *Shell {
	s := &Shell{app: a, ws: ws, opts: opts}
	s.win = a.NewWindow("Nimbus")
	s.win.SetIcon(appIcon)
	s.win.SetMaster()
	s.win.Resize(fyne.NewSize(1240, 800))

	s.intake = newIntakeView(s)
	s.syncer = newSyncer(s)
	s.pages = newPagesView(s)
	s.batches = newBatchesView(s)
	s.review = newReviewView(s)
	s.logs = newLogsView(s)
	s.data = newDataView(s)
	s.settings = newSettingsView(s)
	s.views = []view{s.pages, s.batches, s.review, s.logs, s.data, s.settings}

	s.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Pages", theme.DocumentIcon(), s.pages.content()),
		container.NewTabItemWithIcon("Batches", theme.MediaPlayIcon(), s.batches.content()),
		container.NewTabItemWithIcon("Review", theme.ConfirmIcon(), s.review.content()),
		container.NewTabItemWithIcon("Logs", theme.ListIcon(), s.logs.content()),
		container.NewTabItemWithIcon("Data", theme.StorageIcon(), s.data.content()),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), s.settings.content()),
	)
	s.tabs.SetTabLocation(container.TabLocationLeading)
	s.tabs.OnSelected = func(*container.TabItem) {
		s.win.Canvas().Unfocus()
		if v, ok := s.views[s.tabs.SelectedIndex()].(interface{ shown() }); ok {
			v.shown()
		}
	}

	s.projectSelect = widget.NewSelect(nil, s.onProjectSelected)
	s.projectSelect.PlaceHolder = "No project yet"
	newProject := widget.NewButtonWithIcon("", theme.ContentAddIcon(), s.askNewProject)
	s.syncChip = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), s.syncChipTapped)
	s.syncChip.Importance = widget.LowImportance
	s.watchLabel = widget.NewLabel("")
	s.watchLabel.Importance = widget.LowImportance
	help := widget.NewButtonWithIcon("", theme.HelpIcon(), s.showShortcuts)
	help.Importance = widget.LowImportance

	title := widget.NewLabelWithStyle("Nimbus", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	top := container.NewBorder(nil, nil,
		container.NewHBox(title, container.NewGridWrap(fyne.NewSize(260, s.projectSelect.MinSize().Height), s.projectSelect), newProject),
		container.NewHBox(s.watchLabel, s.syncChip, help))
	s.topBar = top
	bar := container.NewVBox(container.NewPadded(top), widget.NewSeparator())

	minRect := canvas.NewRectangle(color.Transparent)
	minRect.SetMinSize(minWindow)
	s.win.SetContent(container.NewStack(minRect, container.NewBorder(bar, nil, nil, nil, s.tabs)))
	s.win.SetOnDropped(s.HandleDrop)
	s.installShortcuts()

	s.hub = newHub(ws, !opts.Synchronous, s.do, s.deliver)
	s.reloadProjects()
	if !opts.Synchronous {
		s.syncer.start()
	}
	return s
}

// Window returns the shell's window.
func (s *Shell) Window() fyne.Window { return s.win }

// Flush delivers pending store changes now (Synchronous mode).
func (s *Shell) Flush() { s.hub.flush() }

// Close stops the event subscription; the caller closes the workspace,
// which flushes the store.
func (s *Shell) Close() {
	s.closing.Store(true)
	s.hub.close()
	s.intake.stop()
	s.syncer.stop()
}

// bg runs work off the UI goroutine and applies the function it returns on
// it (inline in Synchronous mode).
func (s *Shell) bg(work func() (apply func())) {
	if s.opts.Synchronous {
		if apply := work(); apply != nil {
			apply()
		}
		return
	}
	go func() {
		if apply := work(); apply != nil {
			s.do(apply)
		}
	}()
}

// do runs fn on the UI goroutine (fyne.Do), from any goroutine. Once the
// window is gone (Close) it drops fn: the event loop has ended, fyne.Do
// would run fn on the caller's goroutine, and the watch and sync
// goroutines that Close waits for updated the top bar from there.
func (s *Shell) do(fn func()) {
	if s.closing.Load() {
		return
	}
	if s.opts.post != nil {
		s.opts.post(fn)
		return
	}
	fyne.Do(fn)
}

// isShown reports whether v is the selected screen.
func (s *Shell) isShown(v view) bool {
	i := s.tabs.SelectedIndex()
	return i >= 0 && i < len(s.views) && s.views[i] == v
}

// showErr reports an error to the editor (and the log).
func (s *Shell) showErr(err error) {
	if err == nil {
		return
	}
	slog.Error("ui", "err", err)
	d := dialog.NewError(err, s.win)
	s.present(d, d.Hide) // keys behind it are held: "r" must not reject a block under an error
}

// inform shows a message; Enter or Esc closes it, and keys do not reach
// the view behind it.
func (s *Shell) inform(title, msg string) {
	d := dialog.NewInformation(title, msg, s.win)
	s.present(d, d.Hide)
}

// ask shows a form; Enter submits it (when no field has the focus), Esc
// cancels.
func (s *Shell) ask(title, confirm, dismiss string, items []*widget.FormItem, cb func(bool)) {
	d := dialog.NewForm(title, confirm, dismiss, items, cb, s.win)
	s.present(d, d.Submit)
}

func (s *Shell) deliver(cs *changeSet) {
	if cs.any(model.NSProjects) {
		before := s.project
		s.reloadProjects()
		if s.project != before {
			return // every view was reloaded for the new project
		}
	}
	for _, v := range s.views {
		v.changed(cs)
	}
	s.refreshChips()
}

// reloadProjects reads the project list and current project, and reloads
// every view when the current project changed.
func (s *Shell) reloadProjects() {
	ps, err := s.ws.Projects()
	if err != nil {
		s.showErr(err)
	}
	cur, err := s.ws.CurrentProjectID()
	if err != nil && !errors.Is(err, workspace.ErrNoProject) {
		s.showErr(err)
	}
	s.projects = ps
	names := make([]string, len(ps))
	selected := ""
	for i, p := range ps {
		names[i] = p.Name
		if p.ProjectID == cur {
			selected = p.Name
		}
	}
	s.projectSelect.SetOptions(names)
	if selected != "" && s.projectSelect.Selected != selected {
		// SetSelected calls onProjectSelected, which loads the views.
		s.projectSelect.SetSelected(selected)
		return
	}
	if cur != s.project || cur == "" {
		s.setProject(cur)
	}
	s.refreshChips()
}

func (s *Shell) onProjectSelected(name string) {
	for _, p := range s.projects {
		if p.Name != name {
			continue
		}
		if p.ProjectID != s.project {
			if err := s.ws.UseProject(context.Background(), p.ProjectID); err != nil {
				s.showErr(err)
				return
			}
			s.setProject(p.ProjectID)
		}
		return
	}
}

func (s *Shell) setProject(id string) {
	s.project = id
	s.syncer.project.Store(&id)
	s.intake.cancelRunning()
	s.intake.watching = ""
	for _, v := range s.views {
		v.load(id)
	}
	s.intake.resumeWatch(id)
	s.refreshChips()
}

func (s *Shell) askNewProject() {
	name := widget.NewEntry()
	name.SetPlaceHolder("repairsbypost.com")
	domain := widget.NewEntry()
	domain.SetPlaceHolder("optional, defaults to the name")
	s.ask("New project", "Create", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Name", name),
		widget.NewFormItem("Domain", domain),
	}, func(ok bool) {
		if !ok {
			return
		}
		if _, err := s.ws.CreateProject(context.Background(), name.Text, workspace.ProjectOptions{Domain: domain.Text}); err != nil {
			s.showErr(err)
			return
		}
		s.reloadProjects()
	})
}

// refreshChips updates the sync chip and the watch state from the store.
func (s *Shell) refreshChips() {
	n, err := s.ws.ChangesWaiting()
	if err != nil {
		s.syncChip.SetText("sync state unavailable")
		return
	}
	s.syncChip.SetText(s.syncer.chip(n))
	// Batches' ETAs pause while offline and resume when back online.
	if off := s.syncer.isOffline(); off != s.wasOffline {
		s.wasOffline = off
		s.batches.list.Refresh()
	}
	s.watchLabel.SetText(s.intake.watchText())
	// The chips' widths change with their text: lay the bar out again.
	if s.topBar != nil {
		s.topBar.Refresh()
	}
}

// syncChipText says where the editor's changes are. The desktop works on
// the local store; until a sync engine is configured nothing leaves it.
func syncChipText(waiting int) string {
	switch waiting {
	case 0:
		return "Local · all changes saved"
	case 1:
		return "Local · 1 change waiting to sync"
	}
	return fmt.Sprintf("Local · %s changes waiting to sync", groupDigits(waiting))
}

// syncChipTapped: offline, the chip says why (the reason one click away)
// and offers to try again at once; otherwise it syncs now.
func (s *Shell) syncChipTapped() {
	reason, waiting, offline := s.syncer.offline()
	if !offline {
		s.syncNow()
		return
	}
	summary := widget.NewLabel(fmt.Sprintf("Nimbus cannot reach Cloudflare: %s.\n%s saved here and pushed as soon as Cloudflare answers;\nNimbus tries again by itself.",
		offlineCause(reason), changesPhrase(waiting)))
	detail := widget.NewLabelWithStyle(reason, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	detail.Wrapping = fyne.TextWrapBreak
	// The full error scrolls in a box of its own: a long one is never
	// drawn over the summary or the buttons.
	box := container.NewVScroll(detail)
	box.SetMinSize(fyne.NewSize(560, 110))
	d := dialog.NewCustomConfirm("Offline", "Retry now", "Close", container.NewVBox(summary, widget.NewLabel("The last error:"), box), func(retry bool) {
		if retry {
			s.syncNow()
		}
	}, s.win)
	s.present(d, d.Confirm)
}

// offlineCause says in a few words why a request failed, from the error
// text the sync engine keeps.
func offlineCause(err string) string {
	e := strings.ToLower(err)
	switch {
	case err == "":
		return "no answer yet"
	case strings.Contains(e, "connection refused"):
		return "the connection was refused"
	case strings.Contains(e, "no such host"), strings.Contains(e, "server misbehaving"):
		return "the host name does not resolve (no network, or DNS)"
	case strings.Contains(e, "network is unreachable"), strings.Contains(e, "no route to host"):
		return "there is no network"
	case strings.Contains(e, "timeout"), strings.Contains(e, "deadline exceeded"):
		return "no answer in time"
	case strings.Contains(e, "certificate"), strings.Contains(e, "tls"):
		return "a secure connection could not be made"
	case strings.Contains(e, "connection reset"), strings.Contains(e, "eof"):
		return "the connection was dropped"
	}
	return "see the error below"
}

// changesPhrase is "1 change is" / "N changes are".
func changesPhrase(n int) string {
	if n == 1 {
		return "1 change is"
	}
	return groupDigits(n) + " changes are"
}

// syncNow triggers a sync, or explains why there is none.
func (s *Shell) syncNow() {
	if !s.syncer.syncNow() {
		s.syncer.details()
		return
	}
	s.refreshChips()
}

// shortcut is one entry of the shortcut sheet.
type shortcut struct{ keys, what string }

var globalShortcuts = []shortcut{
	{"Ctrl+1 … Ctrl+6", "Pages, Batches, Review, Logs, Data, Settings"},
	{"Ctrl+O", "Import a site folder"},
	{"Ctrl+R", "Sync now"},
	{"Ctrl+F", "Search pages"},
	{"Ctrl+/ or F1", "This sheet"},
	{"Ctrl+Q", "Quit"},
}

// runGlobal runs sc when it is one of the window's shortcuts (a field
// with the focus hands them here: see field).
func (s *Shell) runGlobal(sc fyne.Shortcut) bool {
	fn, ok := s.globals[sc.ShortcutName()]
	if ok {
		fn(sc)
	}
	return ok
}

func (s *Shell) installShortcuts() {
	c := s.win.Canvas()
	s.globals = map[string]func(fyne.Shortcut){}
	add := func(key fyne.KeyName, fn func(fyne.Shortcut)) {
		sc := &desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault}
		guarded := func(sh fyne.Shortcut) {
			// Behind a dialog only Ctrl+Q acts: Ctrl+3 switched the screen
			// behind the import summary, Ctrl+O opened a second import.
			if s.dlg != nil && key != fyne.KeyQ {
				return
			}
			fn(sh)
		}
		c.AddShortcut(sc, guarded)
		s.globals[sc.ShortcutName()] = guarded
	}
	for i := range 6 {
		idx := i
		add(fyne.KeyName(fmt.Sprint(i+1)), func(fyne.Shortcut) {
			s.tabs.SelectIndex(idx)
		})
	}
	add(fyne.KeyO, func(fyne.Shortcut) { s.intake.pickFolder() })
	add(fyne.KeyR, func(fyne.Shortcut) { s.syncNow() })
	add(fyne.KeyF, func(fyne.Shortcut) {
		s.tabs.SelectIndex(0)
		c.Focus(s.pages.search)
	})
	add(fyne.KeySlash, func(fyne.Shortcut) { s.showShortcuts() })
	add(fyne.KeyQ, func(fyne.Shortcut) { s.app.Quit() })
	add(fyne.KeyS, func(fyne.Shortcut) {
		if s.tabs.SelectedIndex() == 2 {
			s.review.saveEdit()
		}
	})
	c.SetOnTypedKey(s.typedKey)
	c.SetOnTypedRune(s.typedRune)
}

// whenTypingPauses runs fn on the UI goroutine once a field's typing has
// paused for 300 ms (a query per keystroke would pile up), through the
// field's timer; at once in synchronous tests.
func (s *Shell) whenTypingPauses(timer **time.Timer, fn func()) {
	if *timer != nil {
		(*timer).Stop()
	}
	if s.opts.Synchronous {
		fn()
		return
	}
	*timer = time.AfterFunc(300*time.Millisecond, func() { s.do(fn) })
}

// themeChanged redraws what Fyne's theme change leaves in the old colours:
// the rows of lists and tables (their cells are only redrawn when their
// content changes) and the whole window.
func (s *Shell) themeChanged() {
	themeGen++
	for _, o := range []interface{ Refresh() }{s.pages.table, s.review.list, s.batches.list, s.batches.pages, s.logs.list, s.data.nsList, s.data.keyList, s.settings.keyList} {
		o.Refresh()
	}
	s.win.Content().Refresh()
}

// typedKey handles a key no focused widget took (and the keys a keyList
// hands on).
func (s *Shell) typedKey(ev *fyne.KeyEvent) {
	if s.dlg != nil {
		switch ev.Name {
		case fyne.KeyEscape:
			if s.dlgEsc != nil {
				s.dlgEsc()
			}
		case fyne.KeyReturn, fyne.KeyEnter:
			if s.dlgEnter != nil {
				s.dlgEnter()
			}
		}
		return
	}
	if ev.Name == fyne.KeyF1 {
		s.showShortcuts()
		return
	}
	if s.tabs.SelectedIndex() == 2 {
		s.review.typedKey(ev)
	}
}

// typedRune handles a character no focused widget took (and those a
// keyList hands on).
func (s *Shell) typedRune(r rune) {
	if s.dlg != nil {
		return // "a" must not accept a block behind a dialog
	}
	if r == '?' {
		s.showShortcuts()
		return
	}
	if h, ok := s.views[s.tabs.SelectedIndex()].(runeHandler); ok {
		h.typedRune(r)
	}
}

// keyList is a List that hands the keys it gets to the shell: a click on
// a row focuses the list, and a focused widget gets the keys before the
// window, so the single-key shortcuts (A, R, N, J...) died after a click
// on the row already selected (its OnSelected, which gives the keys back,
// does not run then).
type keyList struct {
	widget.List
	s *Shell
}

func newKeyList(s *Shell, length func() int, create func() fyne.CanvasObject, update func(widget.ListItemID, fyne.CanvasObject)) *keyList {
	l := &keyList{s: s}
	l.Length, l.CreateItem, l.UpdateItem = length, create, update
	l.ExtendBaseWidget(l)
	return l
}

// TypedRune hands the character to the shell's shortcuts.
func (l *keyList) TypedRune(r rune) { l.s.typedRune(r) }

// TypedKey hands the key to the shell (the review's Up/Down move as the
// list's own would, with the detail following).
func (l *keyList) TypedKey(ev *fyne.KeyEvent) { l.s.typedKey(ev) }

// keyTable is a Table that keeps its arrow keys and hands the shell the
// rest (F1 and ? did nothing once a click on a row had focused it).
type keyTable struct {
	widget.Table
	s *Shell
}

// TypedRune hands the character to the shell's shortcuts.
func (t *keyTable) TypedRune(r rune) { t.s.typedRune(r) }

// TypedKey moves in the table with the arrows and Space, and hands the
// shell every other key.
func (t *keyTable) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyUp, fyne.KeyDown, fyne.KeyLeft, fyne.KeyRight, fyne.KeySpace:
		t.Table.TypedKey(ev)
	default:
		t.s.typedKey(ev)
	}
}

func (s *Shell) showShortcuts() {
	grid := container.New(layout.NewFormLayout())
	section := func(title string, list []shortcut) {
		grid.Add(widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		grid.Add(layout.NewSpacer())
		for _, sc := range list {
			grid.Add(widget.NewLabelWithStyle(sc.keys, fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}))
			grid.Add(widget.NewLabel(sc.what))
		}
	}
	section("Everywhere", globalShortcuts)
	section("Review (when no text field has the focus)", reviewShortcuts)
	d := dialog.NewCustom("Keyboard shortcuts", "Close", container.NewScroll(grid), s.win)
	// A scroll's minimum is one line: size the sheet to its content, within
	// the window (it collapsed to one line).
	win := s.win.Canvas().Size()
	want := grid.MinSize().Add(fyne.NewSize(60, 140))
	d.Resize(fyne.NewSize(min(want.Width, win.Width-40), min(want.Height, win.Height-40)))
	s.present(d, nil)
}

// present shows d so that Esc closes it and, with enter set, Enter does
// what its confirm button does (dialogs ignored both keys).
// Dialogs stack (an error over the bulk confirmation): closing the top one
// gives the keys to the one under it, not to the view.
func (s *Shell) present(d dialog.Dialog, enter func()) { s.presentWith(d, enter, d.Hide) }

// presentWith is present with what Esc does: a progress dialog's Esc is its
// Cancel (the work ends, then the dialog closes), not a Hide that leaves
// the work running unseen.
func (s *Shell) presentWith(d dialog.Dialog, enter, esc func()) {
	if s.dlg != nil {
		s.dlgUnder = append(s.dlgUnder, presented{s.dlg, s.dlgEnter, s.dlgEsc})
	}
	s.dlg, s.dlgEnter, s.dlgEsc = d, enter, esc
	d.SetOnClosed(func() {
		if s.dlg != d {
			// closed from under another: drop it from the stack
			for i, p := range s.dlgUnder {
				if p.d == d {
					s.dlgUnder = append(s.dlgUnder[:i], s.dlgUnder[i+1:]...)
					break
				}
			}
			return
		}
		s.dlg, s.dlgEnter, s.dlgEsc = nil, nil, nil
		if n := len(s.dlgUnder); n > 0 {
			top := s.dlgUnder[n-1]
			s.dlgUnder = s.dlgUnder[:n-1]
			s.dlg, s.dlgEnter, s.dlgEsc = top.d, top.enter, top.esc
		}
	})
	d.Show()
}

// presented is a dialog under the one on top, with its Enter action.
type presented struct {
	d          dialog.Dialog
	enter, esc func()
}

// confirm asks a yes/no question; Esc answers no, and Enter yes when
// enterConfirms (not for what cannot be undone).
func (s *Shell) confirm(title, msg string, enterConfirms bool, cb func(bool)) {
	d := dialog.NewConfirm(title, msg, cb, s.win)
	var enter func()
	if enterConfirms {
		enter = d.Confirm
	}
	s.present(d, enter)
}

// plural is "1 page" / "10,000 pages".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return groupDigits(n) + " " + many
}

// groupDigits renders 10000 as "10,000".
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ago renders a timestamp as "3 min ago" for chips and lists.
func ago(stamp string) string {
	t, err := model.ParseTime(stamp)
	if err != nil || stamp == "" {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.Local().Format("2 Jan 2006")
}
