package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

var reviewShortcuts = []shortcut{
	{"A", "Accept and next"},
	{"R", "Reject and next"},
	{"E", "Edit the proposal"},
	{"O", "Copy the original into the editor"},
	{"J or ↓", "Next block"},
	{"K or ↑", "Previous block"},
	{"N", "Next unfinished block"},
	{"U", "Undo the decision"},
	{"X", "Mark or unmark the block for a bulk action"},
	{"Ctrl+S", "Save the edit"},
	{"Esc", "Leave the editor"},
}

// bulkChunk bounds one bulk transaction, so accepting 50,000 blocks does not
// hold the store's write lock for long, and the progress bar moves at least
// every 100 ms (500 blocks took 240 ms on a 10,000-page store: make
// bench-ui). Bulk decisions of more than bulkDialog blocks show a progress
// dialog with Cancel.
const (
	bulkChunk  = 100
	bulkDialog = 500
)

// reviewView is the Review screen: block by block, original against
// proposal with a word diff, QA findings, and keyboard-first decisions.
type reviewView struct {
	s       *Shell
	project string
	dirty   bool

	pageFilter  string // page ID, "" = every page
	blocks      []workspace.ReviewBlock
	cur         int
	marked      map[string]bool    // page/block -> in the bulk selection
	gen         int                // the latest block query
	queryCancel context.CancelFunc // stops the latest block query

	stateSel, dimSel, typeSel, foldSel, qaSel *widget.Select
	pageLbl                                   *widget.Label
	clearPage                                 *widget.Button
	count                                     *widget.Label
	list                                      *keyList
	acceptAll, rejectAll, exportBtn           *widget.Button

	header     *widget.Label
	stateLbl   *widget.Label
	original   *widget.Label
	diff       *diffText
	diffCols   *fyne.Container // the original and the diff, side by side when the pane is wide
	qa         *fyne.Container
	editor     *field
	accept     *widget.Button
	reject     *widget.Button
	saveBtn    *widget.Button
	copyOrig   *widget.Button
	undo       *widget.Button
	prev       *widget.Button
	next       *widget.Button
	nextOpen   *widget.Button
	detail     *fyne.Container
	editorBox  fyne.CanvasObject
	empty      *widget.Label
	lastExport workspace.ExportResult

	search      *field
	searchTimer *time.Timer
	editorLen   *widget.Label
	bulkBar     *widget.ProgressBar // the latest bulk decision's progress (the benchmark watches it)

	refreshing   bool            // a read of changed pages' blocks is running
	pendingPages map[string]bool // pages changed meanwhile, read next
}

const (
	stateWithProposal = "With a proposal"
	stateEverything   = "Every block"
	foldAbove         = "above the fold"
	foldBelow         = "below the fold"
	qaAny             = "Any QA issue"
)

// qaFilters are the QA filter's choices: what the editor reads, and the
// check's code (workspace.CheckProposal) the filter asks for.
var qaFilters = []struct{ label, code string }{
	{"Price changed", "price_changed"},
	{"Number changed", "number_changed"},
	{"Brand or location missing", "name_missing"},
	{"Markup added", "markup_injected"},
	{"Markup would be lost", "markup_dropped"}, // workspace.ReviewBlocks, not CheckProposal
	{"Too long", "too_long"},
	{"Much longer than the original", "much_longer"},
	{"Empty proposal", "empty"},
}

func newReviewView(s *Shell) *reviewView {
	v := &reviewView{s: s, marked: map[string]bool{}}
	// After a filter choice the focus leaves the Select, so A/R/N/J reach
	// the list again (a focused Select takes the runes).
	reload := func(string) {
		v.reload()
		s.win.Canvas().Unfocus()
	}
	v.stateSel = widget.NewSelect(append([]string{stateWithProposal, "unfinished", stateEverything}, model.ReviewStates...), reload)
	v.stateSel.PlaceHolder = stateWithProposal
	v.dimSel = widget.NewSelect(nil, reload)
	v.dimSel.PlaceHolder = dimFilterAllLabel
	v.typeSel = widget.NewSelect([]string{filterAll, model.BlockTypeTitle, model.BlockTypeMetaDescription, "h1", "h2", "h3", "h4", "p", "li", "img", "a", "button", "td", "th", "blockquote", "figcaption", "dt", "dd", "summary"}, reload)
	v.typeSel.PlaceHolder = "Any block type"
	v.foldSel = widget.NewSelect([]string{filterAll, foldAbove, foldBelow}, reload)
	v.foldSel.PlaceHolder = "Above and below"
	qaOpts := []string{filterAll, qaAny}
	for _, q := range qaFilters {
		qaOpts = append(qaOpts, q.label)
	}
	v.qaSel = widget.NewSelect(qaOpts, reload)
	v.qaSel.PlaceHolder = "Any QA"
	// Text search over paths, originals, proposals and edits: the query
	// runs once typing pauses; Enter or Esc hands the keyboard back to the
	// list (a focused field takes A/R/N/J as text).
	v.search = newField(s, false)
	v.search.SetPlaceHolder("Search text")
	v.search.OnChanged = func(string) { s.whenTypingPauses(&v.searchTimer, v.reload) }
	v.search.OnSubmitted = func(string) { s.win.Canvas().Unfocus() }
	v.pageLbl = widget.NewLabel("")
	v.pageLbl.Truncation = fyne.TextTruncateEllipsis
	v.clearPage = widget.NewButtonWithIcon("All pages", theme.ContentClearIcon(), func() { v.openPage("") })
	v.count = widget.NewLabel("")
	v.count.Importance = widget.LowImportance
	v.exportBtn = widget.NewButtonWithIcon("Export site…", theme.DownloadIcon(), v.askExport)
	v.acceptAll = widget.NewButton("Accept all", func() { v.bulk(model.ReviewAccepted) })
	v.rejectAll = widget.NewButton("Reject all", func() { v.bulk(model.ReviewRejected) })

	v.list = newKeyList(s,
		func() int { return len(v.blocks) },
		func() fyne.CanvasObject {
			// The path is cut in the middle and the block id and type keep
			// their place: at 1024 wide a page's title and meta description
			// rows read the same path cut off before the id.
			where := newFitLabel(true)
			st := widget.NewLabel("suggested")
			text := widget.NewLabel("")
			text.Truncation = fyne.TextTruncateEllipsis
			text.Importance = widget.LowImportance
			mark := widget.NewCheck("", nil)
			return container.NewBorder(nil, nil, mark, nil, container.NewVBox(container.NewBorder(nil, nil, nil, st, where), text))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.blocks) {
				return
			}
			b := v.blocks[i]
			row := o.(*fyne.Container)
			mark := row.Objects[1].(*widget.Check)
			mark.OnChanged = nil // rows are reused: detach before setting
			mark.SetChecked(v.marked[refKey(b)])
			mark.OnChanged = func(on bool) { v.setMark(b, on) }
			box := row.Objects[0].(*fyne.Container)
			head := box.Objects[0].(*fyne.Container)
			head.Objects[0].(*fitLabel).SetText(b.SourcePath)
			st := head.Objects[1].(*widget.Label)
			st.Importance = reviewImportance(b)
			st.SetText(b.State)
			// What is being decided: the proposal (or the accepted edit);
			// the original once rejected or without a proposal.
			line := b.Original
			if p := b.Proposal(); p != "" && b.State != model.ReviewRejected {
				line = p
			}
			box.Objects[1].(*widget.Label).SetText(b.BlockID + " · " + b.Type + " · " + line)
		},
	)
	v.list.OnSelected = func(i widget.ListItemID) {
		v.show(i)
		// Hand the keyboard back to the canvas so single-key shortcuts work.
		s.win.Canvas().Unfocus()
	}

	v.header = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.header.Wrapping = fyne.TextWrapWord // breaks inside a word (a long path) only when it must
	v.stateLbl = widget.NewLabel("")
	v.original = widget.NewLabel("")
	v.original.Wrapping = fyne.TextWrapWord
	v.diff = newDiffText()
	v.diffCols = container.New(&sideBySideLayout{minColumn: 340},
		container.NewVBox(heading("Original"), v.original),
		container.NewVBox(heading("Proposal (word diff)"), v.diff))
	v.qa = container.NewVBox()
	v.editor = newField(s, true)
	v.editor.Wrapping = fyne.TextWrapWord
	v.editor.SetMinRowsVisible(3)
	v.editor.SetPlaceHolder("Edit the proposal here (E), then save (Ctrl+S)")
	// A title's or meta description's length as it is typed, against its
	// limit (QA tells only after the save).
	v.editorLen = widget.NewLabel("")
	v.editorLen.Importance = widget.LowImportance
	v.editorLen.Hide()
	v.editor.OnChanged = func(string) { v.refreshEditorLen() }
	v.accept = widget.NewButtonWithIcon("Accept (A)", theme.ConfirmIcon(), func() { v.decide(model.ReviewAccepted, true) })
	v.accept.Importance = widget.SuccessImportance
	v.reject = widget.NewButtonWithIcon("Reject (R)", theme.CancelIcon(), func() { v.decide(model.ReviewRejected, true) })
	v.reject.Importance = widget.DangerImportance
	v.saveBtn = widget.NewButtonWithIcon("Save edit", theme.DocumentSaveIcon(), v.saveEdit)
	v.copyOrig = widget.NewButtonWithIcon("Copy original (O)", theme.ContentCopyIcon(), v.copyOriginal)
	v.undo = widget.NewButtonWithIcon("Undo (U)", theme.ContentUndoIcon(), func() { v.decide(model.ReviewOriginal, false) })
	v.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { v.move(-1) })
	v.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { v.move(1) })
	v.nextOpen = widget.NewButton("Next unfinished (N)", v.nextUnfinished)
	// Two short lines: as one, it set the window's minimum width past 1024
	// while blocks loaded (and wrapping made the window tall).
	v.empty = widget.NewLabel("No blocks match.\nProposals appear here once the Worker has optimized pages.")
	v.empty.Alignment = fyne.TextAlignCenter
	v.detail = container.NewStack(container.NewCenter(v.empty))
	return v
}

func reviewImportance(b workspace.ReviewBlock) widget.Importance {
	switch b.State {
	case model.ReviewAccepted:
		return widget.SuccessImportance
	case model.ReviewRejected:
		return widget.DangerImportance
	case model.ReviewStale:
		return widget.WarningImportance
	case model.ReviewSuggested, model.ReviewEdited:
		if b.HasQAError() {
			return widget.WarningImportance
		}
		return widget.HighImportance
	}
	return widget.LowImportance
}

func (v *reviewView) content() fyne.CanvasObject {
	filters := container.NewGridWithColumns(3,
		v.stateSel, v.dimSel, v.typeSel, v.foldSel, v.qaSel, v.search)
	scope := container.NewBorder(nil, nil, nil, container.NewHBox(v.clearPage, v.exportBtn), v.pageLbl)
	bulk := container.NewVBox(v.count, container.NewGridWithColumns(2, v.acceptAll, v.rejectAll))
	left := container.NewBorder(container.NewVBox(filters, scope, bulk), nil, nil, nil, v.list)

	editor := container.New(fitVBoxLayout{},
		v.header, v.stateLbl,
		v.diffCols,
		v.qa,
		heading("Editor"), v.editor, v.editorLen,
		// Short rows, not one long one: the pane must fit a 1024-pixel
		// window (one row of five buttons cut off Undo and the header).
		container.NewHBox(v.accept, v.reject, v.saveBtn),
		container.NewHBox(v.copyOrig, v.undo),
		container.NewHBox(v.prev, v.next, v.nextOpen),
	)
	v.detail.Objects = []fyne.CanvasObject{container.NewCenter(v.empty)}
	v.editorBox = container.NewVScroll(container.NewPadded(editor))
	split := container.NewHSplit(container.NewPadded(left), v.detail)
	split.Offset = 0.38
	return split
}

func (v *reviewView) load(projectID string) {
	v.project = projectID
	v.pageFilter = ""
	v.pendingPages = nil
	v.refreshScope()
	v.refreshDimOptions()
	// Reading every page's blocks is the heaviest query of the app: do it
	// only when the screen is on view.
	if v.s.isShown(v) {
		v.reload()
	} else {
		v.blocks = nil
		v.dirty = true
	}
}

// refreshDimOptions offers the dimension values the pages view knows.
func (v *reviewView) refreshDimOptions() {
	dims := map[string]bool{}
	for _, r := range v.s.pages.rows {
		for _, d := range r.dims {
			dims[d.Name+" = "+d.Value] = true
		}
	}
	v.dimSel.SetOptions(append([]string{dimFilterAllLabel}, sortedKeys(dims)...))
}

func (v *reviewView) filter() workspace.ReviewFilter {
	f := workspace.ReviewFilter{PageID: v.pageFilter}
	switch st := v.stateSel.Selected; st {
	case "", stateWithProposal:
		f.States = []string{model.ReviewSuggested, model.ReviewEdited, model.ReviewAccepted, model.ReviewRejected, model.ReviewStale}
	case stateEverything:
	case "unfinished":
		f.States = []string{model.ReviewSuggested, model.ReviewEdited, model.ReviewStale}
	default:
		f.States = []string{st}
	}
	if d := v.dimSel.Selected; d != "" && d != dimFilterAllLabel {
		k, val, _ := strings.Cut(d, " = ")
		f.Dimensions = map[string]string{k: val}
	}
	if t := v.typeSel.Selected; t != "" && t != filterAll {
		f.BlockType = t
	}
	switch v.foldSel.Selected {
	case foldAbove:
		f.Fold = "above"
	case foldBelow:
		f.Fold = "below"
	}
	switch q := v.qaSel.Selected; q {
	case "", filterAll:
	case qaAny:
		f.QA = "any"
	default:
		for _, o := range qaFilters {
			if o.label == q {
				f.QA = o.code
			}
		}
	}
	f.Text = v.search.Text
	return f
}

// reload queries the blocks matching the filters, off the UI goroutine.
func (v *reviewView) reload() {
	proj, f := v.project, v.filter()
	if proj == "" {
		v.setBlocks(nil)
		return
	}
	// Reading every page's blocks takes a moment on big projects; a newer
	// query (the editor changed a filter meanwhile) wins over an older one.
	v.gen++
	gen := v.gen
	if v.queryCancel != nil {
		v.queryCancel() // the older query stops reading
	}
	ctx, cancel := context.WithCancel(context.Background())
	v.queryCancel = cancel
	v.count.SetText("loading blocks…")
	v.s.bg(func() func() {
		blocks, err := v.s.ws.ReviewBlocks(ctx, proj, f)
		return func() {
			if v.project != proj || v.gen != gen {
				return
			}
			if err != nil {
				v.s.showErr(err)
			}
			v.setBlocks(blocks)
		}
	})
}

func (v *reviewView) setBlocks(blocks []workspace.ReviewBlock) {
	keep := ""
	if v.cur >= 0 && v.cur < len(v.blocks) {
		keep = v.blocks[v.cur].PageID + "/" + v.blocks[v.cur].BlockID
	}
	v.blocks = blocks
	v.marked = map[string]bool{}
	v.refreshCount()
	v.refreshBulk()
	v.list.Refresh()
	cur := 0
	for i, b := range blocks {
		if b.PageID+"/"+b.BlockID == keep {
			cur = i
		}
	}
	if len(blocks) == 0 {
		v.cur = -1
		v.detail.Objects = []fyne.CanvasObject{container.NewCenter(v.empty)}
		v.detail.Refresh()
		return
	}
	v.show(cur)
}

func (v *reviewView) refreshScope() {
	if v.pageFilter == "" {
		v.pageLbl.SetText("All pages")
		v.clearPage.Hide()
		return
	}
	v.pageLbl.SetText(v.s.batches.pathOf(v.pageFilter))
	v.clearPage.Show()
}

// openPage limits the review to one page ("" = every page).
func (v *reviewView) openPage(pageID string) {
	v.pageFilter = pageID
	v.dirty = false
	v.refreshScope()
	v.reload()
}

// show displays block i.
func (v *reviewView) show(i int) {
	if i < 0 || i >= len(v.blocks) {
		return
	}
	v.cur = i
	b := v.blocks[i]
	fold := "below the fold"
	switch {
	case model.IsHeadBlock(b.BlockID):
		fold = fmt.Sprintf("head, at most %d characters", model.HeadBlockMaxChars(b.Type))
	case b.AboveFold:
		fold = "above the fold"
	}
	v.header.SetText(fmt.Sprintf("%s · %s · %s · %s", b.SourcePath, b.BlockID, b.Type, fold))
	state := "State: " + b.State
	if b.Decided != "" {
		state += " · decided " + ago(b.Decided)
	}
	v.stateLbl.SetText(state)
	v.original.SetText(b.Original)
	if p := b.Proposal(); p != "" {
		v.diff.SetDiff(workspace.ReadableDiff(b.Original, p), "")
	} else {
		v.diff.SetDiff(nil, "No proposal for this block.")
	}
	v.qa.Objects = nil
	for _, q := range b.QA {
		icon := theme.WarningIcon()
		if q.Severity == workspace.QAError {
			icon = theme.ErrorIcon()
		}
		l := widget.NewLabel(q.Message)
		l.Wrapping = fyne.TextWrapWord
		if q.Severity == workspace.QAError {
			l.Importance = widget.DangerImportance
		} else {
			l.Importance = widget.WarningImportance
		}
		v.qa.Add(container.NewBorder(nil, nil, widget.NewIcon(icon), nil, l))
	}
	v.qa.Refresh()
	v.editor.SetText(b.Proposal())
	v.refreshEditorLen()
	if b.Proposal() == "" || b.HasQAError() || b.State == model.ReviewStale {
		v.accept.Disable()
	} else {
		v.accept.Enable()
	}
	if v.detail.Objects[0] != v.editorBox {
		v.detail.Objects = []fyne.CanvasObject{v.editorBox}
		v.detail.Refresh()
	}
	// The wrapped texts above changed height: lay the pane out again, or
	// the QA row is drawn over the diff and the Editor heading (the box
	// kept the heights of the previous block).
	if sc, ok := v.editorBox.(*container.Scroll); ok {
		sc.Content.Refresh()
	}
	v.editorBox.Refresh()
	v.list.Select(i)
}

func (v *reviewView) current() (workspace.ReviewBlock, bool) {
	if v.cur < 0 || v.cur >= len(v.blocks) {
		return workspace.ReviewBlock{}, false
	}
	return v.blocks[v.cur], true
}

// decide records a decision on the current block, then moves on when
// advance is set.
func (v *reviewView) decide(state string, advance bool) {
	b, ok := v.current()
	if !ok {
		return
	}
	nb, err := v.s.ws.Decide(context.Background(), v.project, b.PageID, b.BlockID, state, "")
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.replace(nb)
	v.refreshCount()
	v.refreshBulk()
	if advance && v.cur+1 < len(v.blocks) {
		v.show(v.cur + 1)
	} else {
		v.show(v.cur)
	}
}

// saveEdit stores the editor's text as an edit of the current block.
func (v *reviewView) saveEdit() {
	b, ok := v.current()
	if !ok {
		return
	}
	nb, err := v.s.ws.Decide(context.Background(), v.project, b.PageID, b.BlockID, model.ReviewEdited, v.editor.Text)
	if err != nil {
		v.s.showErr(err)
		return
	}
	v.replace(nb)
	v.refreshCount()
	v.refreshBulk()
	v.s.win.Canvas().Unfocus()
	v.show(v.cur)
}

func (v *reviewView) copyOriginal() {
	b, ok := v.current()
	if !ok {
		return
	}
	v.editor.SetText(b.Original)
	v.focusEditor()
}

// focusEditor puts the keyboard in the editor with the caret at the end of
// its text, where an editor adding to a proposal types (it landed at the
// start: "E" then typing prefixed the text).
func (v *reviewView) focusEditor() {
	lines := strings.Split(v.editor.Text, "\n")
	v.editor.CursorRow = len(lines) - 1
	v.editor.CursorColumn = len([]rune(lines[len(lines)-1]))
	v.s.win.Canvas().Focus(v.editor)
	v.editor.Refresh()
}

// replace swaps in the new state of a block shown in the list.
func (v *reviewView) replace(nb workspace.ReviewBlock) {
	for i := range v.blocks {
		if v.blocks[i].PageID == nb.PageID && v.blocks[i].BlockID == nb.BlockID {
			v.blocks[i] = nb
			v.list.RefreshItem(i)
		}
	}
}

// replaceAll swaps in the new state of many blocks and redraws the list
// once: List.RefreshItem redraws every visible row, so one call per block
// of a 1,000-block bulk decision held the UI goroutine for seconds.
func (v *reviewView) replaceAll(nbs []workspace.ReviewBlock) {
	if len(nbs) == 0 {
		return
	}
	at := make(map[string]int, len(v.blocks))
	for i, b := range v.blocks {
		at[refKey(b)] = i
	}
	for _, nb := range nbs {
		if i, ok := at[refKey(nb)]; ok {
			v.blocks[i] = nb
		}
	}
	v.list.Refresh()
}

func (v *reviewView) move(d int) {
	if n := v.cur + d; n >= 0 && n < len(v.blocks) {
		v.show(n)
	}
}

func (v *reviewView) nextUnfinished() {
	for k := 1; k <= len(v.blocks); k++ {
		i := (v.cur + k) % len(v.blocks)
		if !v.blocks[i].Finished() {
			v.show(i)
			return
		}
	}
}

func (v *reviewView) typedRune(r rune) bool {
	switch r {
	case 'a', 'A':
		v.decide(model.ReviewAccepted, true)
	case 'r', 'R':
		v.decide(model.ReviewRejected, true)
	case 'e', 'E':
		v.focusEditor()
	case 'o', 'O':
		v.copyOriginal()
	case 'j', 'J':
		v.move(1)
	case 'k', 'K':
		v.move(-1)
	case 'n', 'N':
		v.nextUnfinished()
	case 'u', 'U':
		v.decide(model.ReviewOriginal, false)
	case 'x', 'X':
		v.toggleMark()
	default:
		return false
	}
	return true
}

func (v *reviewView) typedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyDown:
		v.move(1)
	case fyne.KeyUp:
		v.move(-1)
	case fyne.KeyEscape:
		v.s.win.Canvas().Unfocus()
	}
}

// bulk applies a decision to every matching block it can apply to.
func refKey(b workspace.ReviewBlock) string { return b.PageID + "/" + b.BlockID }

// setMark adds or removes a block from the selection bulk actions apply to.
func (v *reviewView) setMark(b workspace.ReviewBlock, on bool) {
	if on {
		v.marked[refKey(b)] = true
	} else {
		delete(v.marked, refKey(b))
	}
	v.refreshCount()
	v.refreshBulk()
}

// toggleMark marks or unmarks the current block (X).
func (v *reviewView) toggleMark() {
	b, ok := v.current()
	if !ok {
		return
	}
	v.setMark(b, !v.marked[refKey(b)])
	v.list.RefreshItem(v.cur)
}

// bulkScope is what bulk actions apply to: the marked blocks when there
// are any, else every block matching the filter.
func (v *reviewView) bulkScope() ([]workspace.ReviewBlock, string) {
	if len(v.marked) == 0 {
		return v.blocks, "matching the filter"
	}
	var out []workspace.ReviewBlock
	for _, b := range v.blocks {
		if v.marked[refKey(b)] {
			out = append(out, b)
		}
	}
	return out, "marked"
}

// bulkTargets is what a bulk accept or reject would decide: the undecided
// blocks of the scope (workspace.Undecided), for accept only those that
// pass QA; left counts the decided blocks it leaves alone, skipped the
// undecided ones QA keeps from being accepted.
func (v *reviewView) bulkTargets(state string) (targets []workspace.ReviewBlock, scope string, left, skipped int) {
	blocks, scope := v.bulkScope()
	todo, decided := workspace.Undecided(blocks)
	targets = todo
	if state == model.ReviewAccepted {
		var blocked []workspace.ReviewBlock
		targets, blocked = workspace.Acceptable(todo)
		skipped = len(blocked)
	}
	return targets, scope, len(decided), skipped
}

// refreshEditorLen shows "N of 60 characters" under the editor for a head
// block, as a warning past the limit.
func (v *reviewView) refreshEditorLen() {
	b, ok := v.current()
	max := 0
	if ok {
		max = model.HeadBlockMaxChars(b.Type)
	}
	if max == 0 {
		v.editorLen.Hide()
		return
	}
	n := utf8.RuneCountInString(strings.TrimSpace(v.editor.Text))
	v.editorLen.Importance = widget.LowImportance
	if n > max {
		v.editorLen.Importance = widget.DangerImportance
	}
	v.editorLen.SetText(fmt.Sprintf("%d of %d characters", n, max))
	v.editorLen.Show()
}

// refreshCount: the list's size and how many are still undecided (the
// blocks the bulk buttons act on; decided ones are left alone).
func (v *reviewView) refreshCount() {
	todo, _ := workspace.Undecided(v.blocks)
	v.count.SetText(fmt.Sprintf("%s · %s undecided", plural(len(v.blocks), "block", "blocks"), groupDigits(len(todo))))
}

func (v *reviewView) refreshBulk() {
	ok, scope, _, _ := v.bulkTargets(model.ReviewAccepted)
	rej, _, _, _ := v.bulkTargets(model.ReviewRejected)
	if scope == "marked" {
		v.acceptAll.SetText(fmt.Sprintf("Accept %s marked", groupDigits(len(ok))))
		v.rejectAll.SetText(fmt.Sprintf("Reject %s marked", groupDigits(len(rej))))
	} else {
		v.acceptAll.SetText(fmt.Sprintf("Accept all %s", groupDigits(len(ok))))
		v.rejectAll.SetText(fmt.Sprintf("Reject all %s", groupDigits(len(rej))))
	}
	// nothing to do: the button says so by being off (it looked clickable)
	for _, b := range []struct {
		btn *widget.Button
		n   int
	}{{v.acceptAll, len(ok)}, {v.rejectAll, len(rej)}} {
		if b.n == 0 {
			b.btn.Disable()
		} else {
			b.btn.Enable()
		}
	}
}

func (v *reviewView) bulk(state string) {
	targets, scope, left, skipped := v.bulkTargets(state)
	verb := strings.ToUpper(state[:1]) + state[1:len(state)-2]
	var notes []string
	if left > 0 {
		notes = append(notes, fmt.Sprintf("%s already decided (accepted, rejected, edited or stale) are left as they are; change those one by one.", groupDigits(left)))
	}
	if skipped > 0 {
		notes = append(notes, fmt.Sprintf("%s are skipped (QA errors or nothing to accept).", groupDigits(skipped)))
	}
	if len(targets) == 0 {
		msg := fmt.Sprintf("No undecided blocks %s to %s.", scope, strings.ToLower(verb))
		if len(notes) > 0 {
			msg += "\n" + strings.Join(notes, "\n")
		}
		v.s.inform("Bulk decision", msg)
		return
	}
	msg := fmt.Sprintf("%s %s %s?", verb, plural(len(targets), "undecided block", "undecided blocks"), scope)
	if len(notes) > 0 {
		msg += "\n" + strings.Join(notes, "\n")
	}
	v.s.confirm("Bulk decision", msg, true, func(ok bool) {
		if ok {
			v.applyBulk(targets, state)
		}
	})
}

// applyBulk decides targets off the UI goroutine in chunks of bulkChunk
// (one transaction each), with a progress dialog that can cancel between
// chunks; the list is updated when it ends. Chunks already written stay.
func (v *reviewView) applyBulk(targets []workspace.ReviewBlock, state string) {
	refs := make([]workspace.BlockRef, len(targets))
	for i, b := range targets {
		refs[i] = workspace.BlockRef{PageID: b.PageID, BlockID: b.BlockID}
	}
	// Page order keeps each page's blocks in one chunk (one record write).
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].PageID < refs[j].PageID })
	ctx, cancel := context.WithCancel(context.Background())
	bar := widget.NewProgressBar()
	v.bulkBar = bar
	label := widget.NewLabel(fmt.Sprintf("0 of %s blocks", groupDigits(len(refs))))
	var wait dialog.Dialog
	if !v.s.opts.Synchronous && len(refs) > bulkDialog {
		wait = dialog.NewCustomWithoutButtons("Deciding", container.NewVBox(bar, label,
			container.NewHBox(widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), cancel))), v.s.win)
		wait.Resize(fyne.NewSize(420, 0))
		v.s.presentWith(wait, nil, cancel) // Esc is its Cancel
	}
	proj := v.project
	v.s.bg(func() func() {
		var decided []workspace.ReviewBlock
		var err error
		for start := 0; start < len(refs) && ctx.Err() == nil; start += bulkChunk {
			end := min(start+bulkChunk, len(refs))
			done, derr := v.s.ws.DecideUndecided(ctx, proj, refs[start:end], state)
			if derr != nil {
				err = derr
				break
			}
			decided = append(decided, done...)
			if wait != nil {
				v.s.do(func() {
					bar.SetValue(float64(end) / float64(len(refs)))
					label.SetText(fmt.Sprintf("%s of %s blocks", groupDigits(end), groupDigits(len(refs))))
				})
			}
		}
		cancelled := ctx.Err() != nil
		return func() {
			cancel()
			if wait != nil {
				wait.Hide()
			}
			if proj == v.project {
				v.replaceAll(decided)
				v.marked = map[string]bool{}
				v.refreshCount()
				v.refreshBulk()
				v.list.Refresh()
				v.show(v.cur)
			}
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				v.s.showErr(err)
			case cancelled:
				v.s.showErr(fmt.Errorf("bulk decision cancelled after %s of %s blocks", groupDigits(len(decided)), groupDigits(len(refs))))
			}
		}
	})
}

// shown catches up on changes that arrived while the screen was hidden.
func (v *reviewView) shown() {
	v.refreshDimOptions()
	if v.dirty {
		v.dirty = false
		v.reload()
	}
}

func (v *reviewView) changed(cs *changeSet) {
	if v.project == "" {
		return
	}
	pages := map[string]bool{}
	for _, k := range cs.keysOf(model.KindReview, v.project) {
		pages[k[strings.LastIndexByte(k, ':')+1:]] = true
	}
	for _, k := range cs.keysOf(model.KindPage, v.project) {
		pages[k[strings.LastIndexByte(k, ':')+1:]] = true
	}
	if !cs.overflow && len(pages) == 0 {
		return
	}
	if !v.s.isShown(v) {
		v.dirty = true
		return
	}
	// Many pages rebuilt or optimized (a pull): blocks came or went, read
	// the list again. Decisions only (a bulk decision's own writes, a
	// pull of another editor's) change no block's place: update those
	// pages' blocks in place, so the editor keeps its position. A bulk
	// accept of 1,000 blocks on 10,000 pages reloaded every block each
	// 100 ms while it ran (make bench-ui).
	if cs.overflow || len(cs.keysOf(model.KindPage, v.project)) > 50 {
		v.reload()
		return
	}
	v.refreshPages(pages)
}

// refreshPages reads the blocks of pages again off the UI goroutine and
// swaps them in; one read at a time, so an older read never lands after a
// newer one (pages changed meanwhile wait for the next).
func (v *reviewView) refreshPages(pages map[string]bool) {
	if v.pendingPages == nil {
		v.pendingPages = map[string]bool{}
	}
	for p := range pages {
		v.pendingPages[p] = true
	}
	if v.refreshing || len(v.pendingPages) == 0 {
		return
	}
	v.refreshing = true
	pages, v.pendingPages = v.pendingPages, nil
	proj := v.project
	v.s.bg(func() func() {
		var changed []workspace.ReviewBlock
		for pageID := range pages {
			blocks, err := v.s.ws.ReviewPage(proj, pageID)
			if err != nil {
				continue
			}
			changed = append(changed, blocks...)
		}
		return func() {
			v.refreshing = false
			if proj == v.project {
				v.replaceAll(changed)
				v.refreshCount()
				v.refreshBulk()
				// Redraw the current block unless the editor is typing into it.
				if b, ok := v.current(); ok && pages[b.PageID] && v.s.win.Canvas().Focused() != v.editor {
					v.show(v.cur)
				}
			}
			v.refreshPages(nil)
		}
	})
}

// askExport picks the folder to export into: a new folder named after the
// time is created inside the chosen one (Export refuses non-empty folders).
func (v *reviewView) askExport() {
	if v.project == "" {
		return
	}
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			v.s.showErr(err)
			return
		}
		if u == nil {
			return
		}
		v.export(filepath.Join(u.Path(), "nimbus-export-"+time.Now().Format("20060102-150405")), "")
	}, v.s.win)
	d.Resize(fyne.NewSize(820, 560))
	d.Show()
}

// export writes the site with the accepted changes into out (source ""
// = the folder last imported) and reports what was written and refused.
func (v *reviewView) export(out, source string) {
	bar := widget.NewProgressBar()
	current := widget.NewLabel("")
	current.Truncation = fyne.TextTruncateEllipsis
	ctx, cancel := context.WithCancel(context.Background())
	cancelBtn := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), cancel)
	wait := dialog.NewCustomWithoutButtons("Exporting", container.NewVBox(
		widget.NewLabel("Writing the site with the accepted changes to\n"+out), bar, current, container.NewHBox(cancelBtn)), v.s.win)
	wait.Resize(fyne.NewSize(520, 0))
	v.s.presentWith(wait, nil, cancel) // Esc is its Cancel
	proj := v.project
	var last time.Time
	progress := func(done, total int, file string) {
		// at most ~10 redraws a second, and the last file always
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		v.s.do(func() {
			bar.SetValue(float64(done) / float64(max(total, 1)))
			current.SetText(fmt.Sprintf("%s of %s: %s", groupDigits(done), groupDigits(total), file))
		})
	}
	if v.s.opts.Synchronous {
		progress = nil // tests run the export inline on the UI goroutine
	}
	v.s.bg(func() func() {
		res, err := v.s.ws.Export(ctx, workspace.ExportOptions{ProjectID: proj, Out: out, Source: source, Progress: progress})
		return func() {
			cancel()
			wait.Hide()
			if errors.Is(err, context.Canceled) {
				v.s.showErr(fmt.Errorf("export cancelled; %s holds a partial copy", out))
				return
			}
			if err != nil {
				v.s.showErr(err)
				return
			}
			v.lastExport = res
			v.showExport(res)
		}
	})
}

// addList adds a heading (title with the count) and up to 30 wrapped lines.
func addList(box *fyne.Container, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	box.Add(heading(fmt.Sprintf(title, len(lines))))
	for i, line := range lines {
		if i == 30 {
			box.Add(widget.NewLabel(fmt.Sprintf("… and %d more", len(lines)-30)))
			break
		}
		l := widget.NewLabel(line)
		l.Wrapping = fyne.TextWrapWord
		box.Add(l)
	}
}

func (v *reviewView) showExport(res workspace.ExportResult) {
	box := container.NewVBox(widget.NewLabel(fmt.Sprintf("%s files copied to %s\n%s pages changed, %s blocks written",
		groupDigits(res.Files), res.Out, groupDigits(res.PagesChanged), groupDigits(res.Blocks))))
	refused := make([]string, len(res.Refusals))
	for i, r := range res.Refusals {
		refused[i] = fmt.Sprintf("%s %s: %s", r.SourcePath, r.BlockID, r.Reason)
	}
	addList(box, "%d replacements refused", refused)
	skipped := make([]string, len(res.NotCopied))
	for i, sk := range res.NotCopied {
		skipped[i] = fmt.Sprintf("%s: %s", sk.Path, sk.Reason)
	}
	addList(box, "%d files not copied", skipped)
	d := dialog.NewCustom("Export finished", "Close", container.NewVScroll(box), v.s.win)
	d.Resize(fyne.NewSize(640, 360))
	v.s.present(d, d.Hide) // Enter or Esc closes it
}
