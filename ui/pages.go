package ui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// pageRow is what the pages table shows of one page; the full record is
// read again only for the detail panel. A row is about 500 bytes with its
// strings (100,000 rows: 50 MB), so it holds each field once: page() gives
// the workspace row back for the CSV export.
type pageRow struct {
	id, path, title   string
	pathKey, titleKey string // lower case, for search and sort
	dims              workspace.Dims
	dimText           string
	issues            []model.AuditIssue
	st                *model.StatusData // nil: never submitted
	status            string            // "" = never submitted
	statusDetail      string
	errors            int  // issues of severity error
	proposals         int  // blocks with an AI proposal
	decided           int  // of those, accepted or rejected
	missing           bool // the file is gone from the build
}

// page is the workspace row r was built from.
func (r *pageRow) page() workspace.PageRow {
	p := workspace.PageRow{PageID: r.id, SourcePath: r.path, Title: r.title, Dimensions: r.dims, Issues: r.issues,
		Missing: r.missing, Proposals: r.proposals, Decided: r.decided}
	if r.st != nil {
		p.Status = *r.st
	}
	return p
}

func (r *pageRow) auditText() string {
	if len(r.issues) == 0 {
		return "ok"
	}
	if errs := r.errors; errs > 0 {
		return fmt.Sprintf("%d issues (%d errors)", len(r.issues), errs)
	}
	if len(r.issues) == 1 {
		return r.issues[0].Code
	}
	return fmt.Sprintf("%d issues", len(r.issues))
}

func (r *pageRow) reviewText() string {
	if r.proposals == 0 {
		return "—"
	}
	return fmt.Sprintf("%d/%d", r.decided, r.proposals)
}

func (r *pageRow) statusText() string {
	if r.missing || model.NotSubmitted(r.status) {
		return r.page().StatusText()
	}
	if r.statusDetail != "" {
		return r.status + " · " + r.statusDetail
	}
	return r.status
}

// rowOf is the table's row of a workspace page row.
func rowOf(p workspace.PageRow) *pageRow {
	r := new(pageRow)
	r.set(p)
	return r
}

// set makes r the row of p.
func (r *pageRow) set(p workspace.PageRow) {
	*r = pageRow{id: p.PageID, path: p.SourcePath, title: p.Title, dims: p.Dimensions, missing: p.Missing,
		proposals: p.Proposals, decided: p.Decided}
	r.pathKey, r.titleKey = strings.ToLower(r.path), strings.ToLower(r.title)
	r.dimText = dimText(r.dims)
	r.setIssues(p.Issues)
	if p.Status.Status != "" {
		r.setStatus(p.Status)
	}
}

func (r *pageRow) setIssues(issues []model.AuditIssue) {
	r.issues, r.errors = issues, 0
	for _, is := range issues {
		if is.Severity == "error" {
			r.errors++
		}
	}
}

// rowsOf is the rows of ps, in one allocation (100,000 small objects
// would cost the collector and the allocator's rounding).
func rowsOf(ps []workspace.PageRow) []*pageRow {
	rows := make([]*pageRow, len(ps))
	backing := make([]pageRow, len(ps))
	for i, p := range ps {
		backing[i].set(p)
		rows[i] = &backing[i]
	}
	return rows
}

func dimText(dims workspace.Dims) string {
	// Values only, in dimension-name order (brand, location, service): the
	// column is narrow and the values are what editors recognise.
	switch len(dims) {
	case 0:
		return ""
	case 1:
		return dims[0].Value
	}
	n := 0
	for _, d := range dims {
		n += len(d.Value) + len(" · ")
	}
	var b strings.Builder
	b.Grow(n)
	for i, d := range dims {
		if i > 0 {
			b.WriteString(" · ")
		}
		b.WriteString(d.Value)
	}
	return b.String()
}

func (r *pageRow) setStatus(st model.StatusData) {
	r.st = &st
	r.status = st.Status
	r.statusDetail = ""
	switch {
	case st.Status == model.StatusProcessing && st.Processing != nil:
		r.statusDetail = r.page().StatusDetail()
	case st.Status == model.StatusFailed && st.Error != nil:
		r.statusDetail = st.Error.Code // the message is in Batches and the detail panel
	}
}

// pagesView is the Pages screen: a virtualised table of every page with
// filters and search, and a detail panel.
type pagesView struct {
	s       *Shell
	project string

	rows       []*pageRow      // in path order
	rowsGen    int             // bumped whenever rows change (dimCols follow it)
	dimCols    dimColumns      // the rows' dimension values as columns, for the filters
	loading    bool            // only the first screen's rows are in
	loadCtx    context.Context // the current load; cancelled by the next
	loadCancel context.CancelFunc
	byID       map[string]int
	order      []int   // rows' indices in the sort order (nil: path order)
	filtered   []int   // the rows shown, in order
	shownAt    []int32 // per row, its place in filtered or -1
	selected   string
	applying   bool // several filters change at once: apply once at the end

	sort     sortSpec
	sortGen  int           // the newest sort; an older one's result is dropped
	sortTook time.Duration // the last sort's time (tests, figures)
	sorted   func()        // called when a sort is shown (tests)

	readingRows bool            // a read of changed rows is running
	pendingRows map[string]bool // page ID -> its record changed; read next
	sortFn      func([]*pageRow, sortSpec) []int

	// column widths follow the table's width
	fitWidth  float32
	fitTail   string // pathTail the widths were fitted for
	pathTail  string // longestTail of the rows
	colWidths []float32
	colMins   []float32 // with a sort arrow
	colBare   []float32 // without

	search      *field
	dimFilters  []*dimFilter // one per dimension key of the project's pages
	statusSel   *widget.Select
	auditSel    *widget.Select
	clearBtn    *widget.Button
	filterRow   *fyne.Container
	countLabel  *widget.Label
	submitBtn   *widget.Button
	exportBtn   *widget.Button
	table       *keyTable
	tableBox    *fyne.Container // the table, laid out by columnsLayout
	detail      *fyne.Container
	stack       *fyne.Container
	body        *fyne.Container
	split       *container.Split
	tableArea   fyne.CanvasObject
	emptyState  fyne.CanvasObject
	loadingText *widget.Label
}

const (
	filterAll         = "All"
	statusNotSent     = "not submitted"
	statusMissing     = "source missing"
	auditAnyIssue     = "any issue"
	dimFilterAllLabel = "All dimensions" // Review's dimension filter
	searchHint        = "Search path or title (Ctrl+F)"
)

func newPagesView(s *Shell) *pagesView {
	v := &pagesView{s: s, byID: map[string]int{}, sort: sortSpec{col: colPath}, sortFn: sortOrder}
	v.search = newField(s, false)
	v.search.SetPlaceHolder(searchHint)
	v.search.OnChanged = func(string) { v.applyFilter() }
	v.statusSel = widget.NewSelect(nil, func(string) { v.applyFilter() })
	v.statusSel.PlaceHolder = "Any status"
	v.auditSel = widget.NewSelect(nil, func(string) { v.applyFilter() })
	v.auditSel.PlaceHolder = "Any audit"
	v.clearBtn = widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), v.clearFilters)
	v.clearBtn.Importance = widget.LowImportance
	v.clearBtn.Disable()
	v.filterRow = container.New(filterRowLayout{}, v.statusSel, v.auditSel, v.clearBtn)
	v.countLabel = widget.NewLabel("")
	v.countLabel.Importance = widget.LowImportance
	v.loadingText = widget.NewLabel("")

	v.table = &keyTable{s: s}
	v.table.Length = func() (int, int) { return len(v.filtered), numCols }
	v.table.CreateCell = func() fyne.CanvasObject { return newFitLabel(false) }
	v.table.UpdateCell = v.updateCell
	v.table.ShowHeaderRow = true
	v.table.ExtendBaseWidget(v.table)
	v.table.ShowHeaderColumn = false
	v.table.CreateHeader = newHeader
	v.table.UpdateHeader = v.updateHeader
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.filtered) {
			v.showDetail(v.rows[v.filtered[id.Row]].id)
		}
	}
	v.tableBox = container.New(columnsLayout{v}, v.table)

	v.detail = container.NewStack(container.NewCenter(widget.NewLabel("Select a page to see its head, audit, blocks and logs.")))
	v.submitBtn = widget.NewButtonWithIcon("Submit…", theme.UploadIcon(), v.askSubmit)
	v.submitBtn.Importance = widget.HighImportance
	v.exportBtn = widget.NewButtonWithIcon(exportLabel, theme.DocumentSaveIcon(), v.askExport)
	// The search keeps room for its whole hint.
	hint := canvas.NewRectangle(color.Transparent)
	hint.SetMinSize(fyne.NewSize(fyne.MeasureText(searchHint, theme.TextSize(), fyne.TextStyle{}).Width+4*theme.InnerPadding(), 0))
	top := container.NewBorder(nil, nil, nil, container.NewHBox(v.countLabel, v.exportBtn, v.submitBtn), container.NewStack(hint, v.search))
	filters := container.NewVBox(top, v.filterRow)
	closeDetail := widget.NewButtonWithIcon("", theme.CancelIcon(), v.hideDetail)
	closeDetail.Importance = widget.LowImportance
	v.split = container.NewHSplit(v.tableBox, container.NewBorder(container.NewBorder(nil, nil, nil, closeDetail), nil, nil, nil, container.NewPadded(v.detail)))
	v.split.Offset = 0.6
	// The detail panel opens beside the table only when a page is selected,
	// so the table has the whole width for browsing.
	v.body = container.NewStack(v.tableBox)
	v.tableArea = container.NewBorder(container.NewPadded(filters), nil, nil, nil, v.body)
	v.emptyState = s.intake.emptyState()
	v.stack = container.NewStack(v.emptyState)
	return v
}

func (v *pagesView) content() fyne.CanvasObject { return v.stack }

func (v *pagesView) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	l := o.(*fitLabel)
	if id.Row < 0 || id.Row >= len(v.filtered) {
		l.SetText("")
		return
	}
	r := v.rows[v.filtered[id.Row]]
	l.Importance = widget.MediumImportance
	l.TextStyle = fyne.TextStyle{}
	l.setMiddle(id.Col == colPath)
	switch id.Col {
	case colPath:
		// The middle goes, the file name stays (the label fits it to the
		// column's width, which follows the window's). The regular font:
		// a monospaced path needs a third more width.
		l.SetText(r.path)
	case colTitle:
		l.SetText(r.title)
	case colDims:
		l.Importance = widget.LowImportance
		l.SetText(r.dimText)
	case colAudit:
		if len(r.issues) > 0 {
			l.Importance = widget.WarningImportance
		}
		l.SetText(r.auditText())
	case colStatus:
		l.Importance = statusImportance(r.status)
		if r.missing {
			l.Importance = widget.DangerImportance
		}
		l.SetText(r.statusText())
	case colReview:
		l.SetText(r.reviewText())
	}
}

func statusImportance(status string) widget.Importance {
	switch status {
	case model.StatusDone:
		return widget.SuccessImportance
	case model.StatusFailed:
		return widget.DangerImportance
	case model.StatusProcessing:
		return widget.HighImportance
	case model.StatusQueued, model.StatusUploaded:
		return widget.MediumImportance
	}
	return widget.LowImportance
}

// load reads every page of the project into rows, off the UI goroutine.
func (v *pagesView) load(projectID string) {
	v.project = projectID
	v.selected = ""
	v.pendingRows = nil
	if projectID == "" {
		v.setRows(nil, "")
		return
	}
	if v.loadCancel != nil {
		v.loadCancel() // a project switch stops the read of the last one
	}
	ctx, cancel := context.WithCancel(context.Background())
	v.loadCtx, v.loadCancel = ctx, cancel
	if v.s.opts.Synchronous {
		v.loadAll(projectID)
		return
	}
	// First screen first: a few hundred rows (bounded work, ~10 ms whatever
	// the project's size) are read right here, so the window opens with
	// data; the full table (10,000+ rows, most of a second) loads behind.
	v.loading = true
	if v.s.ws.IndexStale() {
		// A store from an older version: its page index is rebuilt first
		// (seconds on a big site), off the UI goroutine, and the screen
		// says so (an empty table would read as "no pages").
		busy := widget.NewProgressBarInfinite()
		msg := widget.NewLabel("Updating the page index of this store (once, after an update of Nimbus)…")
		msg.Alignment = fyne.TextAlignCenter
		v.stack.Objects = []fyne.CanvasObject{container.NewCenter(container.NewVBox(msg, busy))}
		v.stack.Refresh()
		v.s.markReady()
		v.loadAll(projectID)
		return
	}
	if rows, err := v.s.ws.PageRows(ctx, projectID, firstScreenRows); err == nil {
		v.setRows(rowsOf(rows), projectID)
	}
	// Let the window open and paint before the full read takes a core.
	time.AfterFunc(fullLoadDelay, func() {
		v.s.do(func() {
			if v.project == projectID && v.loading {
				v.loadAll(projectID)
			}
		})
	})
}

// fullLoadDelay is how long the full page read waits after the first screen.
const fullLoadDelay = 300 * time.Millisecond

// loadAll reads every page of the project into rows.
func (v *pagesView) loadAll(projectID string) {
	ctx := v.loadCtx
	v.s.bg(func() func() {
		prs, err := v.s.ws.PageRows(ctx, projectID, 0)
		rows := rowsOf(prs)
		return func() {
			if v.project != projectID || ctx.Err() != nil {
				// A newer load (another project, or this one again) took
				// over: its own full read clears loading, not this one.
				return
			}
			v.loading = false
			if err != nil {
				v.s.showErr(err)
			}
			v.setRows(rows, projectID)
		}
	})
}

// firstScreenRows is how many rows the quick first load reads.
const firstScreenRows = 200

func (v *pagesView) setRows(rows []*pageRow, projectID string) {
	v.rows = rows
	v.rowsGen++
	v.reindex()
	v.refreshFilterOptions()
	v.pathTail = longestTail(rows)
	if v.fitWidth > 0 {
		v.fitColumns(v.fitWidth)
	}
	v.order = nil // path order, which rows are in, until the sort is done
	v.applyFilter()
	if v.sort != (sortSpec{col: colPath}) {
		v.resort(false)
	}
	if len(rows) == 0 {
		v.stack.Objects = []fyne.CanvasObject{v.emptyState}
	} else {
		v.stack.Objects = []fyne.CanvasObject{v.tableArea}
	}
	v.stack.Refresh()
	v.s.markReady()
}

func (v *pagesView) reindex() {
	v.byID = make(map[string]int, len(v.rows))
	for i, r := range v.rows {
		v.byID[r.id] = i
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// applyFilter shows the rows the filters let through, in the sort order.
func (v *pagesView) applyFilter() {
	if v.applying {
		return
	}
	f := v.currentFilter()
	n := len(v.rows)
	order := v.order
	if len(order) != n {
		order = nil // rows came or went since the sort: path order until the next one
	}
	v.filtered = v.filtered[:0]
	if cap(v.shownAt) < n {
		v.shownAt = make([]int32, n)
	}
	v.shownAt = v.shownAt[:n]
	// The dimension filters compare value IDs in one array per dimension
	// (built once per change of the rows), not each row's map: the
	// filter of 10,000 rows then costs what the table's redraw costs.
	dims := v.dimCols.checks(v.rows, v.rowsGen, f.dims)
	rest := f
	rest.dims = nil
rows:
	for k := range n {
		i := k
		if order != nil {
			i = order[k]
		}
		v.shownAt[i] = -1
		for _, d := range dims {
			if d.col[i] != d.id {
				continue rows
			}
		}
		if rest.match(v.rows[i]) {
			v.shownAt[i] = int32(len(v.filtered))
			v.filtered = append(v.filtered, i)
		}
	}
	if v.loading {
		v.countLabel.SetText("loading pages…")
	} else if len(v.filtered) == len(v.rows) {
		v.countLabel.SetText(groupDigits(len(v.rows)) + " pages")
	} else {
		v.countLabel.SetText(fmt.Sprintf("%s of %s pages", groupDigits(len(v.filtered)), groupDigits(len(v.rows))))
	}
	if f.active() {
		v.clearBtn.Enable()
	} else {
		v.clearBtn.Disable()
	}
	// Export and Submit count the rows: not before they are all in (the
	// first screen's 200 rows were exported, and offered to Submit, as the
	// whole site).
	switch {
	case len(v.filtered) == 0 || v.loading:
		v.exportBtn.Disable()
	case v.exportBtn.Text == exportLabel:
		v.exportBtn.Enable()
	}
	if v.loading {
		v.submitBtn.Disable()
	} else {
		v.submitBtn.Enable()
	}
	v.table.UnselectAll()
	v.table.Refresh()
	// The detail shows a page of the table: one the filter hides is closed
	// (it showed a Birmingham page beside five Bristol rows).
	if v.selected != "" {
		if i, ok := v.byID[v.selected]; !ok || v.shownAt[i] < 0 {
			v.hideDetail()
		}
	}
}

// visibleRow returns the table row showing page id, or -1.
func (v *pagesView) visibleRow(id string) int {
	i, ok := v.byID[id]
	if !ok || i >= len(v.shownAt) {
		return -1
	}
	return int(v.shownAt[i])
}

func (v *pagesView) refreshRow(id string) {
	if row := v.visibleRow(id); row >= 0 {
		for c := range numCols {
			v.table.RefreshItem(widget.TableCellID{Row: row, Col: c})
		}
	}
}

// changed applies live changes: a status or review change refreshes one
// row; new pages are inserted and the filter re-applied. The rows are read
// off the UI goroutine (a bulk decision changes 200 pages a delivery, and
// their reads held the UI goroutine 60-100 ms while it ran: make bench-ui).
func (v *pagesView) changed(cs *changeSet) {
	if v.project == "" {
		return
	}
	if cs.overflow {
		v.pendingRows = nil
		v.load(v.project)
		return
	}
	if v.pendingRows == nil {
		v.pendingRows = map[string]bool{}
	}
	for _, key := range cs.keysOf(model.KindPage, v.project) {
		v.pendingRows[key[strings.LastIndexByte(key, ':')+1:]] = true // the record itself: audit findings too
	}
	for _, key := range append(cs.keysOf(model.KindStatus, v.project), cs.keysOf(model.KindReview, v.project)...) {
		id := key[strings.LastIndexByte(key, ':')+1:]
		if _, ok := v.pendingRows[id]; !ok {
			v.pendingRows[id] = false
		}
	}
	v.readRows()
}

// readRows reads the pending rows off the UI goroutine and applies them;
// one read at a time, so an older read never lands after a newer one.
func (v *pagesView) readRows() {
	if v.readingRows || len(v.pendingRows) == 0 {
		return
	}
	v.readingRows = true
	ids, proj := v.pendingRows, v.project
	v.pendingRows = nil
	v.s.bg(func() func() {
		read := make(map[string]workspace.PageRow, len(ids))
		for id := range ids {
			if nr, err := v.s.ws.PageRowOf(proj, id); err == nil {
				read[id] = nr
			}
		}
		return func() {
			v.readingRows = false
			if proj == v.project {
				v.applyRows(ids, read)
			}
			v.readRows()
		}
	})
}

// applyRows swaps in rows read again; record says whether the page record
// changed (else only its status or decisions: the audit findings stay, the
// project-wide duplicates among them).
func (v *pagesView) applyRows(record map[string]bool, read map[string]workspace.PageRow) {
	structural := false
	// Rows are redrawn once at the end: Table.RefreshItem redraws the
	// headers too, so a cell at a time for the 200 pages of a bulk
	// decision held the UI goroutine for a third of a second.
	var touched []string
	for pageID, nr := range read {
		i, ok := v.byID[pageID]
		switch {
		case !ok && record[pageID]:
			v.rows = append(v.rows, rowOf(nr))
			v.rowsGen++
			structural = true
			continue
		case !ok:
			continue
		case record[pageID]:
			v.rows[i] = rowOf(nr)
			v.rowsGen++
		default:
			row := rowOf(nr)
			row.setIssues(v.rows[i].issues)
			v.rows[i] = row
			v.rowsGen++
		}
		touched = append(touched, pageID)
		if record[pageID] && pageID == v.selected {
			v.showDetail(pageID)
		}
	}
	switch {
	case structural:
		sort.Slice(v.rows, func(i, j int) bool { return v.rows[i].path < v.rows[j].path })
		v.setRows(v.rows, v.project) // redraws the table
	case len(touched) == 1:
		v.refreshRow(touched[0])
	case len(touched) > 1:
		v.table.Refresh()
	}
}

// rowText returns the cell texts of the row showing page id (tests).
func (v *pagesView) rowText(id string) []string {
	i, ok := v.byID[id]
	if !ok {
		return nil
	}
	r := v.rows[i]
	return []string{r.path, r.title, r.dimText, r.auditText(), r.statusText(), r.reviewText()}
}

func (v *pagesView) showDetail(pageID string) {
	v.selected = pageID
	p, err := v.s.ws.Page(v.project, pageID)
	if err != nil {
		v.s.showErr(err)
		return
	}
	logs, err := v.s.ws.PageLogs(v.project, pageID)
	if err != nil {
		v.s.showErr(err)
	}
	v.detail.Objects = []fyne.CanvasObject{pageDetail(v.s, p, logs)}
	v.detail.Refresh()
	if v.body.Objects[0] != v.split {
		// The table has one parent at a time: in two, clicks went to
		// neither once the detail was closed and opened again.
		v.split.Leading = v.tableBox
		v.body.Objects = []fyne.CanvasObject{v.split}
		v.body.Refresh()
		v.split.Refresh()
	}
}

func (v *pagesView) hideDetail() {
	v.selected = ""
	v.table.UnselectAll()
	v.split.Leading = layout.NewSpacer() // the table leaves the split (one parent at a time)
	v.body.Objects = []fyne.CanvasObject{v.tableBox}
	v.body.Refresh()
}

// headOrder puts the fields editors look at first.
var headOrder = []string{"title", "metaDescription", "canonical", "favicon", "lang", "robots", "keywords"}

func pageDetail(s *Shell, p model.PageData, logs model.LogData) fyne.CanvasObject {
	box := container.NewVBox()
	path := widget.NewLabelWithStyle(p.SourcePath, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	path.Wrapping = fyne.TextWrapBreak
	box.Add(path)
	review := widget.NewButtonWithIcon("Review", theme.ConfirmIcon(), func() { s.review.openPage(p.PageID); s.tabs.SelectIndex(2) })
	showLogs := widget.NewButtonWithIcon("Logs", theme.ListIcon(), func() { s.logs.scopeTo(p.PageID, p.SourcePath); s.tabs.SelectIndex(3) })
	box.Add(container.NewHBox(review, showLogs))

	box.Add(heading("Head"))
	form := container.New(layout.NewFormLayout())
	seen := map[string]bool{}
	addField := func(k string) {
		val, ok := p.Extraction.Head[k]
		if !ok || seen[k] {
			return
		}
		seen[k] = true
		l := widget.NewLabel(val)
		l.Wrapping = fyne.TextWrapWord
		form.Add(widget.NewLabelWithStyle(k, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
		form.Add(l)
	}
	for _, k := range headOrder {
		addField(k)
	}
	rest := make([]string, 0, len(p.Extraction.Head))
	for k := range p.Extraction.Head {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		addField(k)
	}
	box.Add(form)

	box.Add(heading("Audit"))
	if p.Audit == nil || len(p.Audit.Issues) == 0 {
		box.Add(widget.NewLabel("No issues."))
	} else {
		for _, is := range p.Audit.Issues {
			icon := theme.WarningIcon()
			if is.Severity == "error" {
				icon = theme.ErrorIcon()
			} else if is.Severity == "info" {
				icon = theme.InfoIcon()
			}
			msg := widget.NewLabel(is.Message)
			msg.Wrapping = fyne.TextWrapWord
			hint := widget.NewLabel(auditHint(is.Code))
			hint.Wrapping = fyne.TextWrapWord
			hint.Importance = widget.LowImportance
			hint.TextStyle = fyne.TextStyle{Italic: true}
			box.Add(container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(icon)), nil, container.NewVBox(msg, hint)))
		}
	}
	if p.Audit != nil {
		stats := widget.NewLabel(fmt.Sprintf("title %d chars · description %d chars · %d h1 · %d words",
			p.Audit.TitleLength, p.Audit.DescriptionLength, p.Audit.H1Count, p.Audit.WordCount))
		stats.Importance = widget.LowImportance
		stats.Wrapping = fyne.TextWrapWord // the panel may be narrow beside the table
		box.Add(stats)
	}

	blocks := heading(fmt.Sprintf("Blocks (%d above the fold, %d below)", len(p.Extraction.AboveFoldBlocks), len(p.Extraction.RestOfPageBlocks)))
	blocks.(*widget.Label).Wrapping = fyne.TextWrapWord
	box.Add(blocks)
	all := slices.Concat(p.Extraction.AboveFoldBlocks, p.Extraction.RestOfPageBlocks)
	types := make([]*widget.Label, len(all))
	var typeW float32 // the widest type's label: "blockquote" was drawn over its text in a fixed 56 px
	for i, b := range all {
		types[i] = widget.NewLabelWithStyle(b.Type, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		types[i].Importance = widget.LowImportance
		typeW = max(typeW, types[i].MinSize().Width)
	}
	for i, b := range all {
		c := widget.NewLabel(b.Content)
		c.Wrapping = fyne.TextWrapWord
		box.Add(container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(typeW, types[i].MinSize().Height), types[i]), nil, c))
	}

	box.Add(heading("Logs"))
	if len(logs.Entries) == 0 {
		box.Add(widget.NewLabel("No log entries."))
	}
	for i := len(logs.Entries) - 1; i >= 0 && i >= len(logs.Entries)-20; i-- {
		e := logs.Entries[i]
		l := widget.NewLabel(fmt.Sprintf("%s  %s  %s  %s", shortTime(e.Timestamp), e.Level, e.Step, e.Message))
		l.Wrapping = fyne.TextWrapWord
		l.Importance = levelImportance(e.Level)
		box.Add(l)
	}
	return container.NewVScroll(box)
}

func heading(s string) fyne.CanvasObject {
	l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

func shortTime(stamp string) string {
	t, err := model.ParseTime(stamp)
	if err != nil {
		return stamp
	}
	return t.Local().Format("2 Jan 15:04:05")
}

func levelImportance(level string) widget.Importance {
	switch level {
	case model.LevelError:
		return widget.DangerImportance
	case model.LevelWarn:
		return widget.WarningImportance
	}
	return widget.MediumImportance
}

// auditHints say what triggers each page check and how to fix it.
var auditHints = map[string]string{
	"title_missing":         "No <title> in the head. Every page needs a unique title; add one in the page template.",
	"title_too_long":        "Search engines cut titles at about 60 characters. Put the brand and location first and trim the rest.",
	"title_too_short":       "A very short title wastes the most visible line in search results. Name the service, brand and location.",
	"title_multiple":        "Several <title> elements: browsers use the first. Remove the duplicates from the layout.",
	"title_duplicate":       "Other pages have the same title. Add the dimension that differs (location, brand or service).",
	"description_missing":   "No meta description: search engines then quote arbitrary page text. Add a 120–160 character summary.",
	"description_too_long":  "Descriptions over about 160 characters are cut off. Keep the offer and call to action early.",
	"description_too_short": "A short description under-sells the page. Say what, where and why in 120–160 characters.",
	"description_multiple":  "Several meta descriptions: only one is used. Remove the extras from the template.",
	"description_duplicate": "Other pages share this description. Template it with the page's location, brand or service.",
	"h1_missing":            "No h1 in the main area. Give the page one heading that states its topic.",
	"h1_multiple":           "Several h1 headings. Keep one and demote the others to h2.",
	"h1_duplicate":          "Other pages share this h1. Make it specific to the page's dimensions.",
	"low_word_count":        "Thin content in the main area. Add useful, page-specific text (pricing, process, FAQs).",
	"canonical_missing":     "No canonical link. Add <link rel=\"canonical\"> pointing to the page's own URL.",
	"canonical_multiple":    "Several canonical links confuse search engines. Keep exactly one.",
	"canonical_mismatch":    "The canonical points elsewhere, so this page will not be indexed itself. Check the URL template.",
	"canonical_duplicate":   "Several pages name the same canonical URL. Each page should name its own URL.",
}

func auditHint(code string) string {
	if h, ok := auditHints[code]; ok {
		return h
	}
	return "See the message above."
}

// Submit scopes.
const (
	submitAll      = "all"
	submitFiltered = "filtered"
	submitSelected = "selected"
)

// submitIDs are the pages a scope covers (nil = every page never submitted).
func (v *pagesView) submitIDs(scope string) []string {
	switch scope {
	case submitFiltered:
		ids := make([]string, len(v.filtered))
		for i, idx := range v.filtered {
			ids[i] = v.rows[idx].id
		}
		return ids
	case submitSelected:
		if v.selected != "" {
			return []string{v.selected}
		}
	}
	return nil
}

// notSubmitted counts the pages that wait to be submitted (model's rule,
// Submit's too).
func (v *pagesView) notSubmitted() int {
	n := 0
	for _, r := range v.rows {
		if model.NotSubmitted(r.status) {
			n++
		}
	}
	return n
}

func (v *pagesView) askSubmit() {
	if v.project == "" {
		return
	}
	notSent := v.notSubmitted()
	labels := map[string]string{
		submitAll:      fmt.Sprintf("Every page not yet submitted (%s)", groupDigits(notSent)),
		submitFiltered: fmt.Sprintf("The pages matching the filter (%s)", groupDigits(len(v.filtered))),
		submitSelected: "The selected page",
	}
	opts := []string{labels[submitAll], labels[submitFiltered]}
	if v.selected != "" {
		opts = append(opts, labels[submitSelected])
	}
	scope := widget.NewRadioGroup(opts, nil)
	// What the editor is looking at is the default: the filtered pages
	// when a filter narrows the table (Enter sent the whole site).
	if f := v.currentFilter(); f.active() {
		scope.SetSelected(labels[submitFiltered])
	} else {
		scope.SetSelected(opts[0])
	}
	prio := widget.NewSelect([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, nil)
	prio.SetSelected("5")
	v.s.ask("Submit pages for optimization", "Submit", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Pages", scope),
		widget.NewFormItem("Priority", prio),
	}, func(ok bool) {
		if !ok {
			return
		}
		sc := submitAll
		for k, l := range labels {
			if l == scope.Selected {
				sc = k
			}
		}
		p, _ := strconv.Atoi(prio.Selected)
		res, err := v.submit(sc, p)
		if err != nil {
			v.s.showErr(err)
			return
		}
		v.s.inform("Submitted", fmt.Sprintf("%s in %s: %s.\nThey are sent at the next sync.",
			plural(res.Pages, "page", "pages"), plural(len(res.Batches), "batch", "batches"), strings.Join(res.Batches, ", ")))
		v.s.syncer.syncNow()
	})
}

// submit queues the scope's pages as new batches with a priority.
func (v *pagesView) submit(scope string, priority int) (workspace.SubmitResult, error) {
	ids := v.submitIDs(scope)
	if scope != submitAll && len(ids) == 0 {
		return workspace.SubmitResult{}, errors.New("submit: no pages in the selection")
	}
	return v.s.ws.Submit(context.Background(), workspace.SubmitOptions{ProjectID: v.project, PageIDs: ids, Priority: priority})
}
