package ui

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
)

// The Pages table's columns: widths follow the table's width (every column
// stays on screen from 1024x700 to full screen), and a tap on a header
// sorts by that column, a second tap reverses.

const (
	colPath = iota
	colTitle
	colDims
	colAudit
	colStatus
	colReview
	numCols
)

// pageColumns: base is a column's share of the width (the widths at which
// the table was designed, scaled to the width there is); min is what its
// content needs at least (the header with its sort arrow may need more).
var pageColumns = [numCols]struct {
	title     string
	base, min float32
	descFirst bool // the first tap sorts descending (most issues first)
}{
	colPath:   {title: "Path", base: 330, min: 150},
	colTitle:  {title: "Title", base: 260, min: 100},
	colDims:   {title: "Dimensions", base: 170, min: 90},
	colAudit:  {title: "Audit", base: 110, min: 80, descFirst: true},
	colStatus: {title: "Status", base: 140, min: 112}, // "not submitted"
	colReview: {title: "Review", base: 80, min: 60},
}

// columnWidths shares avail among columns in proportion to base, none
// under its min; when the mins alone do not fit, the mins (the table then
// scrolls sideways).
func columnWidths(avail float32, base, mins []float32) []float32 {
	n := len(base)
	w := make([]float32, n)
	fixed := make([]bool, n)
	for range n {
		var share, rest float32 = 0, avail
		for i := range n {
			if fixed[i] {
				rest -= mins[i]
			} else {
				share += base[i]
			}
		}
		changed := false
		for i := range n {
			if fixed[i] {
				w[i] = mins[i]
				continue
			}
			w[i] = 0
			if share > 0 && rest > 0 {
				w[i] = base[i] * rest / share
			}
			if w[i] < mins[i] {
				fixed[i], changed = true, true
			}
		}
		if !changed {
			break
		}
	}
	for i := range w {
		w[i] = max(float32(int(w[i])), mins[i]) // whole pixels, never under the min
	}
	return w
}

// columnMins are the columns' minimum widths: the content's, or the
// header's when that is wider, with its sort arrow (arrow) or without.
func columnMins(arrow bool) []float32 {
	mins := make([]float32, numCols)
	for i, c := range pageColumns {
		b := widget.NewButton(c.title, nil)
		if arrow {
			b.SetIcon(theme.MenuDropDownIcon())
		}
		mins[i] = max(c.min, b.MinSize().Width)
	}
	return mins
}

// columnsLayout lays the table out at its container's size and, when the
// width changed, gives the columns their widths for it.
type columnsLayout struct{ v *pagesView }

func (l columnsLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	l.v.fitColumns(size.Width)
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// MinSize is as wide as the columns at their minimum widths, so that the
// detail panel's split cannot push a column out of sight.
func (l columnsLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	l.v.initMins()
	w := float32(numCols-1)*theme.Padding() + 1
	for _, m := range l.v.colMins {
		w += m
	}
	return fyne.NewSize(max(s.Width, w), s.Height)
}

// initMins measures the columns' minimum widths once: colMins with a sort
// arrow in every header (the table's minimum width, the same whichever
// column is sorted), colBare without.
func (v *pagesView) initMins() {
	if v.colMins == nil {
		v.colMins, v.colBare = columnMins(true), columnMins(false)
	}
}

// fitColumns sets the column widths for a table width.
func (v *pagesView) fitColumns(width float32) {
	if width <= 0 || (width == v.fitWidth && v.pathTail == v.fitTail) {
		return
	}
	v.fitTail = v.pathTail
	v.fitWidth = width
	v.initMins()
	base := make([]float32, numCols)
	for i, c := range pageColumns {
		base[i] = c.base
	}
	// The table puts a padding between columns; a pixel is kept so that
	// rounding never pushes the last column out.
	avail := width - float32(numCols-1)*theme.Padding() - 1
	// The path column gets room for the longest end of a path (its last
	// folder and file name: what tells pages apart) when the others can
	// keep their mins.
	// Only the sorted column's header has an arrow.
	mins := slices.Clone(v.colBare)
	mins[v.sort.col] = v.colMins[v.sort.col]
	others := float32(0)
	for i, m := range mins {
		if i != colPath {
			others += m
		}
	}
	if v.pathTail != "" {
		// (the longest in characters is not always the widest: a margin)
		want := fyne.MeasureText(v.pathTail, theme.TextSize(), fyne.TextStyle{}).Width*1.04 + 2*theme.InnerPadding() + 2
		mins[colPath] = max(mins[colPath], min(want, pathShareMax*avail, avail-others))
	}
	v.colWidths = columnWidths(avail, base, mins)
	for i, w := range v.colWidths {
		v.table.SetColumnWidth(i, w)
	}
}

// pathShareMax caps the room the path column claims for its longest end:
// the title needs room too.
const pathShareMax = 0.4

// newHeader is a column header: a flat button that sorts.
func newHeader() fyne.CanvasObject {
	b := widget.NewButton("", nil)
	b.Importance = widget.LowImportance
	b.Alignment = widget.ButtonAlignLeading
	b.IconPlacement = widget.ButtonIconTrailingText
	return b
}

func (v *pagesView) updateHeader(id widget.TableCellID, o fyne.CanvasObject) {
	if id.Col < 0 || id.Col >= numCols {
		return
	}
	b := o.(*widget.Button)
	col := id.Col
	b.Text = pageColumns[col].title
	b.Icon = nil
	if col == v.sort.col {
		// ▲ ascending, ▼ descending.
		b.Icon = theme.MenuDropUpIcon()
		if v.sort.desc {
			b.Icon = theme.MenuDropDownIcon()
		}
	}
	b.OnTapped = func() { v.sortBy(col) }
	b.Refresh()
}

// sortSpec is the table's order.
type sortSpec struct {
	col  int
	desc bool
}

// sortBy sorts by col; the column already sorted by is reversed.
func (v *pagesView) sortBy(col int) {
	if col == v.sort.col {
		v.sort.desc = !v.sort.desc
	} else {
		v.sort = sortSpec{col: col, desc: pageColumns[col].descFirst}
	}
	v.fitWidth = 0 // the arrow moved: the columns' minimums changed
	v.fitColumns(v.tableBox.Size().Width)
	v.table.Refresh() // the headers' arrows at once; the rows when sorted
	v.resort(true)
}

// resort orders the rows by the current sort, off the UI goroutine (10,000
// rows take milliseconds, more on a loaded machine), and shows them when a
// newer sort has not replaced it. The rows are immutable once built (a
// change replaces a row), so the goroutine reads a copy of the slice.
func (v *pagesView) resort(toTop bool) {
	v.sortGen++
	gen, spec, rows := v.sortGen, v.sort, slices.Clone(v.rows)
	v.s.bg(func() func() {
		start := time.Now()
		order := v.sortFn(rows, spec)
		took := time.Since(start)
		return func() {
			if gen != v.sortGen {
				return
			}
			v.order, v.sortTook = order, took
			v.applyFilter()
			if toTop {
				v.table.ScrollToTop()
			}
			if v.sorted != nil {
				v.sorted()
			}
		}
	})
}

// sortOrder returns the indices of rows in spec's order. Empty values
// (no title, no dimensions, no proposals to review) come last either way;
// ties go by path.
func sortOrder(rows []*pageRow, spec sortSpec) []int {
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	cmp := func(a, b *pageRow) int { return 0 }
	empty := func(*pageRow) bool { return false }
	switch spec.col {
	case colPath:
		cmp = func(a, b *pageRow) int { return strings.Compare(a.path, b.path) }
	case colTitle:
		cmp = func(a, b *pageRow) int { return strings.Compare(a.titleKey, b.titleKey) }
		empty = func(r *pageRow) bool { return r.title == "" }
	case colDims:
		cmp = func(a, b *pageRow) int { return strings.Compare(a.dimText, b.dimText) }
		empty = func(r *pageRow) bool { return r.dimText == "" }
	case colAudit:
		cmp = func(a, b *pageRow) int {
			if c := len(a.issues) - len(b.issues); c != 0 {
				return c
			}
			return a.errors - b.errors
		}
	case colStatus:
		cmp = func(a, b *pageRow) int {
			if c := a.statusRank() - b.statusRank(); c != 0 {
				return c
			}
			return strings.Compare(a.statusDetail, b.statusDetail)
		}
	case colReview:
		// Progress: the share of proposals decided, then the number.
		cmp = func(a, b *pageRow) int {
			if c := a.decided*b.proposals - b.decided*a.proposals; c != 0 {
				return c
			}
			return a.proposals - b.proposals
		}
		empty = func(r *pageRow) bool { return r.proposals == 0 }
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := rows[i], rows[j]
		ea, eb := empty(a), empty(b)
		switch {
		case ea && !eb:
			return 1
		case eb && !ea:
			return -1
		}
		c := 0
		if !ea {
			c = cmp(a, b)
			if spec.desc {
				c = -c
			}
		}
		if c == 0 {
			c = strings.Compare(a.path, b.path)
		}
		return c
	})
	return order
}

// statusRank orders statuses along the pipeline: not submitted, queued,
// processing, done, failed; pages whose source is gone last.
func (r *pageRow) statusRank() int {
	switch {
	case r.missing:
		return 6
	case model.NotSubmitted(r.status):
		return 0
	}
	switch r.status {
	case model.StatusQueued:
		return 1
	case model.StatusProcessing:
		return 2
	case model.StatusDone:
		return 3
	case model.StatusFailed:
		return 4
	}
	return 5
}

// longestTail is the longest (in characters) of the rows' path ends as the
// path column shows them at the least: the first folder, "…", the last
// folder and file name ("dist/…/leeds/rolex-servicing.html"), a shorter
// path whole. Measuring
// one string, not 10,000, keeps a load cheap; the font is not monospaced,
// so it is an estimate.
func longestTail(rows []*pageRow) string {
	best, n := "", 0
	for _, r := range rows {
		tail := r.path
		if i := strings.LastIndexByte(tail, '/'); i > 0 {
			if j := strings.LastIndexByte(tail[:i], '/'); j > 0 {
				// middleEllipsis keeps the first folder too
				if k := strings.IndexByte(tail, '/'); k < j {
					tail = tail[:k+1] + "…" + tail[j:]
				}
			}
		}
		if c := utf8.RuneCountInString(tail); c > n {
			best, n = tail, c
		}
	}
	return best
}
