package ui

import (
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
)

// The Pages filters: one select per dimension the project's pages have
// (brand, location, service ...), the status and the audit finding, all
// applied together, and the search over path and title.

// dimAny is the first option of a dimension's select: no filter on it.
func dimAny(key string) string { return "Any " + key }

// dimFilter is one dimension's select.
type dimFilter struct {
	key string
	sel *widget.Select
}

// value is the selected value, "" for any.
func (d *dimFilter) value() string {
	if s := d.sel.Selected; s != dimAny(d.key) {
		return s
	}
	return ""
}

// pageFilter is a snapshot of the filters, applied to every row.
type pageFilter struct {
	query  string
	dims   [][2]string // key, value
	status string
	audit  string
}

func (v *pagesView) currentFilter() pageFilter {
	f := pageFilter{query: strings.ToLower(strings.TrimSpace(v.search.Text)), status: v.statusSel.Selected, audit: v.auditSel.Selected}
	for _, d := range v.dimFilters {
		if val := d.value(); val != "" {
			f.dims = append(f.dims, [2]string{d.key, val})
		}
	}
	return f
}

// active reports whether any filter narrows the rows.
func (f *pageFilter) active() bool {
	return f.query != "" || len(f.dims) > 0 || (f.status != "" && f.status != filterAll) || (f.audit != "" && f.audit != filterAll)
}

func (f *pageFilter) match(r *pageRow) bool {
	if q := f.query; q != "" && !strings.Contains(r.pathKey, q) && !strings.Contains(r.titleKey, q) {
		return false
	}
	for _, d := range f.dims {
		if r.dims.Get(d[0]) != d[1] {
			return false
		}
	}
	switch st := f.status; st {
	case "", filterAll:
	case statusNotSent:
		if !model.NotSubmitted(r.status) || r.missing {
			return false
		}
	case statusMissing:
		if !r.missing {
			return false
		}
	default:
		if r.status != st {
			return false
		}
	}
	switch a := f.audit; a {
	case "", filterAll:
	case auditAnyIssue:
		if len(r.issues) == 0 {
			return false
		}
	default:
		found := false
		for _, is := range r.issues {
			found = found || is.Code == a
		}
		if !found {
			return false
		}
	}
	return true
}

// dimColumns holds the rows' dimension values as IDs, one array per
// dimension name, rebuilt when the rows change.
type dimColumns struct {
	gen  int
	ids  map[string]map[string]int32 // name -> value -> ID (from 1)
	cols map[string][]int32          // name -> per row its value's ID (0: none)
}

// dimCheck is one dimension filter on the columns.
type dimCheck struct {
	col []int32
	id  int32 // -1: a value no row has
}

// checks turns dimension filters into column checks, rebuilding the
// columns for rows of generation gen when they are older.
func (c *dimColumns) checks(rows []*pageRow, gen int, dims [][2]string) []dimCheck {
	if len(dims) == 0 {
		return nil
	}
	if c.cols == nil || c.gen != gen {
		c.gen = gen
		c.ids = map[string]map[string]int32{}
		c.cols = map[string][]int32{}
		for i, r := range rows {
			for _, d := range r.dims {
				k, val := d.Name, d.Value
				ids := c.ids[k]
				if ids == nil {
					ids = map[string]int32{}
					c.ids[k] = ids
				}
				id, ok := ids[val]
				if !ok {
					id = int32(len(ids) + 1)
					ids[val] = id
				}
				col := c.cols[k]
				if col == nil {
					col = make([]int32, len(rows))
					c.cols[k] = col
				}
				col[i] = id
			}
		}
	}
	out := make([]dimCheck, 0, len(dims))
	for _, d := range dims {
		col := c.cols[d[0]]
		id, ok := c.ids[d[0]][d[1]]
		if col == nil || !ok {
			col, id = make([]int32, len(rows)), -1 // matches no row
		}
		out = append(out, dimCheck{col: col, id: id})
	}
	return out
}

// refreshFilterOptions offers what the rows have: a select per dimension
// with its values, the audit codes. A selection whose value is still
// there is kept.
func (v *pagesView) refreshFilterOptions() {
	values := map[string]map[string]bool{}
	codes := map[string]bool{}
	missing := false
	for _, r := range v.rows {
		for _, d := range r.dims {
			k, val := d.Name, d.Value
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][val] = true
		}
		for _, is := range r.issues {
			codes[is.Code] = true
		}
		missing = missing || r.missing
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	old := map[string]*dimFilter{}
	for _, d := range v.dimFilters {
		old[d.key] = d
	}
	same := len(keys) == len(v.dimFilters)
	filters := make([]*dimFilter, len(keys))
	for i, k := range keys {
		d := old[k]
		if d == nil {
			d = &dimFilter{key: k}
			d.sel = widget.NewSelect(nil, func(string) { v.applyFilter() })
			d.sel.PlaceHolder = dimAny(k)
		}
		same = same && v.dimFilters[i] == d
		opts := append([]string{dimAny(k)}, sortedKeys(values[k])...)
		keep := d.sel.Selected
		d.sel.Options = opts // no callback: the caller applies the filter
		if keep != "" && !values[k][keep] {
			d.sel.Selected = ""
		}
		d.sel.Refresh()
		filters[i] = d
	}
	v.dimFilters = filters
	if !same {
		objs := make([]fyne.CanvasObject, 0, len(filters)+3)
		for _, d := range filters {
			objs = append(objs, d.sel)
		}
		objs = append(objs, v.statusSel, v.auditSel, v.clearBtn)
		v.filterRow.Objects = objs
		v.filterRow.Refresh()
	}

	statuses := []string{filterAll, statusNotSent} // "not submitted" covers "uploaded" (only imported)
	for _, st := range model.PageStatuses {
		if !model.NotSubmitted(st) {
			statuses = append(statuses, st)
		}
	}
	if missing {
		statuses = append(statuses, statusMissing)
	}
	v.statusSel.Options = statuses
	if s := v.statusSel.Selected; s == statusMissing && !missing {
		v.statusSel.Selected = ""
	}
	v.statusSel.Refresh()
	auditOpts := append([]string{filterAll, auditAnyIssue}, sortedKeys(codes)...)
	v.auditSel.Options = auditOpts
	if a := v.auditSel.Selected; a != "" && a != filterAll && a != auditAnyIssue && !codes[a] {
		v.auditSel.Selected = ""
	}
	v.auditSel.Refresh()
}

// clearFilters resets every filter and the search.
func (v *pagesView) clearFilters() {
	v.applying = true // one pass at the end, not one per reset
	for _, d := range v.dimFilters {
		d.sel.ClearSelected()
	}
	v.statusSel.ClearSelected()
	v.auditSel.ClearSelected()
	v.search.SetText("")
	v.applying = false
	v.applyFilter()
}

// filterRowLayout puts the filter selects in one row: each as wide as its
// longest option when they all fit, else all narrowed in proportion (a
// select cuts its text with an ellipsis); the last object (Clear) keeps its
// own width. One row whatever the number of dimensions, so the height
// never depends on the width.
type filterRowLayout struct{}

// filterSelectMin is the narrowest a filter select gets.
const filterSelectMin = 90

// filterSelectMax caps a select whose options are long.
const filterSelectMax = 260

func selectWant(s *widget.Select) float32 {
	w := fyne.MeasureText(s.PlaceHolder, theme.TextSize(), fyne.TextStyle{}).Width
	for _, o := range s.Options {
		w = max(w, fyne.MeasureText(o, theme.TextSize(), fyne.TextStyle{}).Width)
	}
	// the select's own chrome: paddings and the drop-down icon
	w += 4*theme.InnerPadding() + theme.IconInlineSize()
	return min(max(w, filterSelectMin), filterSelectMax)
}

func (filterRowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	if len(objs) == 0 {
		return
	}
	pad := theme.Padding()
	last := objs[len(objs)-1]
	sels := objs[:len(objs)-1]
	lastW := last.MinSize().Width
	avail := size.Width - lastW - float32(len(objs)-1)*pad
	want := make([]float32, len(sels))
	var sum float32
	for i, o := range sels {
		if s, ok := o.(*widget.Select); ok {
			want[i] = selectWant(s)
		} else {
			want[i] = o.MinSize().Width
		}
		sum += want[i]
	}
	scale := float32(1)
	if sum > avail && sum > 0 {
		scale = avail / sum
	}
	x := float32(0)
	for i, o := range sels {
		w := max(float32(int(want[i]*scale)), filterSelectMin)
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w + pad
	}
	last.Move(fyne.NewPos(x, 0))
	last.Resize(fyne.NewSize(lastW, size.Height))
}

func (filterRowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var h float32
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	w := float32(0)
	if n := len(objs); n > 0 {
		w = float32(n-1)*filterSelectMin + objs[n-1].MinSize().Width + float32(n-1)*theme.Padding()
	}
	return fyne.NewSize(w, h)
}

// dimSelect is the select of dimension key, nil when no page has it.
func (v *pagesView) dimSelect(key string) *widget.Select {
	for _, d := range v.dimFilters {
		if d.key == key {
			return d.sel
		}
	}
	return nil
}
