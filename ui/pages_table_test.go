package ui

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// headerButtons are the Pages table's header cells on screen, by title.
func headerButtons(s *Shell) map[string]*widget.Button {
	out := map[string]*widget.Button{}
	titles := map[string]bool{}
	for _, c := range pageColumns {
		titles[c.title] = true
	}
	walkObjects(s.pages.table, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && titles[b.Text] {
			out[b.Text] = b
		}
	})
	return out
}

// Every column's header is on screen and inside the table's visible width,
// from 1024x700 to full screen, with the detail panel shut and open; the
// search field shows its whole hint; the path column keeps file names.
func TestPagesColumnsFitTheWindow(t *testing.T) {
	s, _, _ := fixtureShell(t)
	hintWidth := fyne.MeasureText(searchHint, theme.TextSize(), fyne.TextStyle{}).Width
	for _, size := range []fyne.Size{{Width: 1024, Height: 700}, {Width: 1240, Height: 800}, {Width: 1600, Height: 1000}, {Width: 1920, Height: 1080}} {
		for _, detail := range []bool{false, true} {
			name := fmt.Sprintf("%.0fx%.0f detail=%v", size.Width, size.Height, detail)
			if detail {
				s.pages.showDetail(s.pages.rows[1].id)
			} else {
				s.pages.hideDetail()
			}
			s.win.Resize(size)
			tableSize := s.pages.table.Size()
			heads := headerButtons(s)
			for _, c := range pageColumns {
				b := heads[c.title]
				if b == nil {
					t.Errorf("%s: no %q header on screen (widths %v in %.0f)", name, c.title, s.pages.colWidths, tableSize.Width)
					continue
				}
				// header cells are placed in the table's header row, which
				// scrolls with the cells: at offset 0 it is the table's left
				left, right := b.Position().X, b.Position().X+b.Size().Width
				if left < 0 || right > tableSize.Width {
					t.Errorf("%s: header %q spans x %.0f-%.0f of a table %.0f wide", name, c.title, left, right, tableSize.Width)
				}
				if b.Size().Width < b.MinSize().Width {
					t.Errorf("%s: header %q is %.0f wide, its text and arrow need %.0f", name, c.title, b.Size().Width, b.MinSize().Width)
				}
			}
			var total float32
			for _, w := range s.pages.colWidths {
				total += w + theme.Padding()
			}
			if total-theme.Padding() > tableSize.Width {
				t.Errorf("%s: columns %v need %.0f, the table is %.0f wide", name, s.pages.colWidths, total-theme.Padding(), tableSize.Width)
			}
			if !detail {
				if w := s.pages.search.Size().Width; w < hintWidth+2*theme.InnerPadding() {
					t.Errorf("%s: the search field is %.0f wide, its hint needs %.0f", name, w, hintWidth+2*theme.InnerPadding())
				}
				if right := absPos(s.pages.submitBtn).X + s.pages.submitBtn.Size().Width; right > float32(size.Width) {
					t.Errorf("%s: Submit ends at x %.0f, outside the window", name, right)
				}
				last := s.pages.filterRow.Objects[len(s.pages.filterRow.Objects)-1]
				if right := absPos(last).X + last.Size().Width; right > float32(size.Width) {
					t.Errorf("%s: the filter row ends at x %.0f, outside the window", name, right)
				}
			}
		}
	}
	// At 1024x700 a long path keeps its file name and the folder above it
	// (leeds/ and london/ hold files of the same names).
	s.pages.hideDetail()
	s.win.Resize(fyne.NewSize(1024, 700))
	paths, withFolder := 0, 0
	walkObjects(s.pages.table, func(o fyne.CanvasObject) {
		l, ok := o.(*fitLabel)
		if !ok || !l.middle || !strings.Contains(l.full, "/") {
			return
		}
		paths++
		base := l.full[strings.LastIndexByte(l.full, '/'):]
		if !strings.HasSuffix(l.shown(), base) {
			t.Errorf("path %q shown as %q: the file name is lost", l.full, l.shown())
		}
		// the folder above too, where "dist/…/folder/file" fits
		if i := strings.LastIndexByte(l.full[:len(l.full)-len(base)], '/'); i > 0 {
			tail := l.full[i:]
			short := l.full[:strings.IndexByte(l.full, '/')+1] + "…" + tail
			fits := fyne.MeasureText(short, theme.TextSize(), l.TextStyle).Width <= l.Size().Width-2*theme.InnerPadding()-1
			if fits && !strings.HasSuffix(l.shown(), tail) {
				t.Errorf("path %q shown as %q: %q would fit", l.full, l.shown(), short)
			}
			if fits {
				withFolder++
			}
		}
		if w := fyne.MeasureText(l.shown(), theme.TextSize(), l.TextStyle).Width; w > l.Size().Width-2*theme.InnerPadding() {
			t.Errorf("path %q shown as %q: %.0f wide in a %.0f cell", l.full, l.shown(), w, l.Size().Width)
		}
	})
	if paths < 10 || withFolder < paths/2 {
		t.Errorf("%d path cells on screen at 1024x700, %d with room for their folder", paths, withFolder)
	}
	test.AssertImageMatches(t, "pages_1024.png", s.win.Canvas().Capture())
}

func TestColumnWidthsShareTheWidth(t *testing.T) {
	base := []float32{300, 200, 100}
	mins := []float32{100, 80, 90}
	for _, c := range []struct {
		avail float32
		want  []float32
	}{
		{600, []float32{300, 200, 100}},
		{1200, []float32{600, 400, 200}},
		{450, []float32{216, 144, 90}}, // the last column at its min, the rest shared
		{200, []float32{100, 80, 90}},  // the mins do not fit: the mins
	} {
		if got := columnWidths(c.avail, base, mins); !slices.Equal(got, c.want) {
			t.Errorf("columnWidths(%.0f) = %v, want %v", c.avail, got, c.want)
		}
	}
}

// shownPaths are the paths in the table's order.
func shownPaths(v *pagesView) []string {
	out := make([]string, len(v.filtered))
	for i, idx := range v.filtered {
		out[i] = v.rows[idx].path
	}
	return out
}

// A tap on a header sorts by that column, a second tap reverses; the
// header shows the direction; empty values stay last; ties go by path.
func TestPagesSortByHeader(t *testing.T) {
	s, _, _ := fixtureShell(t)
	v := s.pages
	if v.sort.col != colPath || v.sort.desc {
		t.Fatalf("initial sort %+v, want path ascending", v.sort)
	}
	if !slices.IsSorted(shownPaths(v)) {
		t.Fatal("the table does not start in path order")
	}
	tap := func(title string) {
		t.Helper()
		b := headerButtons(s)[title]
		if b == nil {
			t.Fatalf("no %s header", title)
		}
		test.Tap(b)
	}
	arrow := func(title string) fyne.Resource {
		return headerButtons(s)[title].Icon
	}
	rows := func() []*pageRow {
		out := make([]*pageRow, len(v.filtered))
		for i, idx := range v.filtered {
			out[i] = v.rows[idx]
		}
		return out
	}
	// inOrder checks that key never decreases (or increases, desc) along
	// the non-empty rows, that empty rows come last and ties go by path.
	inOrder := func(name string, desc bool, empty func(*pageRow) bool, cmp func(a, b *pageRow) int) {
		t.Helper()
		rs := rows()
		if len(rs) != len(v.rows) {
			t.Fatalf("%s: %d rows shown of %d", name, len(rs), len(v.rows))
		}
		seenEmpty := false
		for i, r := range rs {
			if empty(r) {
				seenEmpty = true
				continue
			}
			if seenEmpty {
				t.Fatalf("%s: %s (not empty) after an empty row", name, r.path)
			}
			if i == 0 || empty(rs[i-1]) {
				continue
			}
			c := cmp(rs[i-1], r)
			if desc {
				c = -c
			}
			if c > 0 || (c == 0 && rs[i-1].path > r.path) {
				t.Fatalf("%s: row %d %s before %s", name, i, rs[i-1].path, r.path)
			}
		}
	}
	never := func(*pageRow) bool { return false }
	byTitle := func(a, b *pageRow) int { return strings.Compare(a.titleKey, b.titleKey) }

	tap("Title")
	if arrow("Title") != theme.MenuDropUpIcon() || arrow("Path") != nil {
		t.Errorf("after a tap on Title: Title arrow %v, Path arrow %v", arrow("Title"), arrow("Path"))
	}
	inOrder("title ascending", false, func(r *pageRow) bool { return r.title == "" }, byTitle)
	tap("Title")
	if arrow("Title") != theme.MenuDropDownIcon() {
		t.Errorf("a second tap on Title: arrow %v, want down", arrow("Title"))
	}
	inOrder("title descending", true, func(r *pageRow) bool { return r.title == "" }, byTitle)

	tap("Path")
	inOrder("path ascending", false, never, func(a, b *pageRow) int { return strings.Compare(a.path, b.path) })
	tap("Path")
	if got := shownPaths(v); !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Error("path descending is not reversed path order")
	}

	// Audit: the most issues first on the first tap.
	tap("Audit")
	if !v.sort.desc || arrow("Audit") != theme.MenuDropDownIcon() {
		t.Errorf("first tap on Audit: %+v", v.sort)
	}
	byIssues := func(a, b *pageRow) int {
		if c := len(a.issues) - len(b.issues); c != 0 {
			return c
		}
		return a.errors - b.errors
	}
	inOrder("audit descending", true, never, byIssues)
	if first, last := rows()[0], rows()[len(v.rows)-1]; len(first.issues) <= len(last.issues) {
		t.Errorf("most issues first: %d, then at the end %d", len(first.issues), len(last.issues))
	}
	tap("Audit")
	inOrder("audit ascending", false, never, byIssues)

	tap("Status")
	byStatus := func(a, b *pageRow) int {
		if c := a.statusRank() - b.statusRank(); c != 0 {
			return c
		}
		return strings.Compare(a.statusDetail, b.statusDetail)
	}
	inOrder("status", false, never, byStatus)
	ranks := map[int]bool{}
	for _, r := range rows() {
		ranks[r.statusRank()] = true
	}
	if len(ranks) < 3 {
		t.Errorf("the fixture has only %d statuses; the sort is not exercised", len(ranks))
	}
	if got := rows()[0].statusText(); got != statusNotSent {
		t.Errorf("status ascending starts with %q, want %q (the pipeline's order)", got, statusNotSent)
	}

	tap("Review")
	noProposals := func(r *pageRow) bool { return r.proposals == 0 }
	byProgress := func(a, b *pageRow) int {
		if c := a.decided*b.proposals - b.decided*a.proposals; c != 0 {
			return c
		}
		return a.proposals - b.proposals
	}
	inOrder("review ascending", false, noProposals, byProgress)
	tap("Review")
	inOrder("review descending", true, noProposals, byProgress)
	if rows()[0].proposals == 0 {
		t.Error("review descending starts with a page without proposals")
	}

	tap("Dimensions")
	inOrder("dimensions", false, func(r *pageRow) bool { return r.dimText == "" }, func(a, b *pageRow) int { return strings.Compare(a.dimText, b.dimText) })

	// The sort holds through filters and the filter through sorts.
	v.statusSel.SetSelected(statusNotSent)
	tap("Title")
	for _, r := range rows() {
		if !model.NotSubmitted(r.status) {
			t.Fatalf("filter lost by a sort: %s is %s", r.path, r.status)
		}
	}
	if len(rows()) == 0 || len(rows()) == len(v.rows) {
		t.Fatalf("the status filter shows %d of %d", len(rows()), len(v.rows))
	}
	inOrderFiltered := slices.IsSortedFunc(rows(), func(a, b *pageRow) int {
		if c := byTitle(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	if !inOrderFiltered {
		t.Error("filtered rows are not in title order")
	}
	// A live status change refreshes the row where it is shown.
	r := rows()[3]
	if got := v.visibleRow(r.id); got != 3 {
		t.Errorf("visibleRow = %d, want 3", got)
	}
}

// Several dimension filters at once: brand AND location, together with the
// status filter; each select offers its own dimension's values; Clear
// resets them all.
func TestPagesMultiDimensionFilter(t *testing.T) {
	s, _, _ := fixtureShell(t)
	v := s.pages
	var keys []string
	for _, d := range v.dimFilters {
		keys = append(keys, d.key)
	}
	if !slices.Equal(keys, []string{"brand", "location", "region", "service"}) {
		t.Fatalf("dimension selects %v", keys)
	}
	if opts := v.dimSelect("location").Options; opts[0] != "Any location" || !slices.Contains(opts, "leeds") || slices.Contains(opts, "rolex") {
		t.Errorf("location options %v", opts)
	}
	count := func(pred func(*pageRow) bool) int {
		n := 0
		for _, r := range v.rows {
			if pred(r) {
				n++
			}
		}
		return n
	}
	if v.clearBtn.Disabled() == false {
		t.Error("Clear is enabled with no filter set")
	}
	v.dimSelect("brand").SetSelected("rolex")
	rolex := len(v.filtered)
	v.dimSelect("location").SetSelected("leeds")
	want := count(func(r *pageRow) bool { return r.dims.Get("brand") == "rolex" && r.dims.Get("location") == "leeds" })
	if want == 0 || want >= rolex {
		t.Fatalf("fixture: %d rolex pages in leeds of %d rolex pages", want, rolex)
	}
	if len(v.filtered) != want {
		t.Errorf("brand=rolex AND location=leeds shows %d rows, want %d", len(v.filtered), want)
	}
	for _, i := range v.filtered {
		if r := v.rows[i]; r.dims.Get("brand") != "rolex" || r.dims.Get("location") != "leeds" {
			t.Errorf("%s shown for brand=rolex AND location=leeds", r.path)
		}
	}
	if want := fmt.Sprintf("%d of %d pages", want, len(v.rows)); v.countLabel.Text != want {
		t.Errorf("count %q, want %q", v.countLabel.Text, want)
	}
	if v.clearBtn.Disabled() {
		t.Error("Clear is disabled with filters set")
	}
	v.dimSelect("service").SetSelected("servicing")
	want3 := count(func(r *pageRow) bool {
		return r.dims.Get("brand") == "rolex" && r.dims.Get("location") == "leeds" && r.dims.Get("service") == "servicing"
	})
	if len(v.filtered) != want3 || want3 == 0 {
		t.Errorf("three dimensions: %d rows, want %d", len(v.filtered), want3)
	}
	// Back to any location: brand and service still apply.
	v.dimSelect("location").SetSelected(dimAny("location"))
	if want := count(func(r *pageRow) bool { return r.dims.Get("brand") == "rolex" && r.dims.Get("service") == "servicing" }); len(v.filtered) != want {
		t.Errorf("brand and service: %d rows, want %d", len(v.filtered), want)
	}
	test.Type(v.search, "leeds")
	test.Tap(v.clearBtn)
	if len(v.filtered) != len(v.rows) || v.search.Text != "" || v.dimSelect("brand").Selected != "" || !v.clearBtn.Disabled() {
		t.Errorf("after Clear: %d of %d rows, search %q, brand %q", len(v.filtered), len(v.rows), v.search.Text, v.dimSelect("brand").Selected)
	}
}

// The CSV export writes the view: the filtered rows in the table's order,
// with their dimensions, audit codes, status and review progress.
func TestPagesExportCSV(t *testing.T) {
	s, _, _ := fixtureShell(t)
	v := s.pages
	v.dimSelect("location").SetSelected("birmingham")
	test.Tap(headerButtons(s)["Audit"]) // most issues first
	if len(v.filtered) < 5 || len(v.filtered) == len(v.rows) {
		t.Fatalf("fixture: %d of %d rows in birmingham", len(v.filtered), len(v.rows))
	}

	// The button asks where to save.
	test.Tap(v.exportBtn)
	top := s.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("Export CSV… showed no dialog")
	}
	foundName := false
	for _, o := range test.LaidOutObjects(top) {
		if e, ok := o.(*widget.Entry); ok && strings.HasPrefix(e.Text, "repairsbypost.com-pages-") && strings.HasSuffix(e.Text, ".csv") {
			foundName = true
		}
	}
	if !foundName {
		t.Error("the save dialog does not offer a file name for the project")
	}
	s.win.Canvas().Overlays().Remove(top)

	path := filepath.Join(t.TempDir(), "pages.csv")
	w, err := storage.Writer(storage.NewFileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	want := v.viewRows()
	v.exportTo(w, want)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	if !strings.HasSuffix(string(raw), "\r\n") {
		t.Error("lines do not end in CRLF")
	}
	head := recs[0]
	col := func(name string) int {
		i := slices.Index(head, name)
		if i < 0 {
			t.Fatalf("no %q column in %v", name, head)
		}
		return i
	}
	if len(recs)-1 != len(v.filtered) {
		t.Fatalf("%d records for %d rows shown", len(recs)-1, len(v.filtered))
	}
	for n, idx := range v.filtered {
		r, rec := v.rows[idx], recs[n+1]
		var codes []string
		for _, is := range r.issues {
			codes = append(codes, is.Code)
		}
		for name, val := range map[string]string{
			"Path": r.path, "Title": r.title, "location": "birmingham", "brand": r.dims.Get("brand"),
			"Issues": fmt.Sprint(len(r.issues)), "Audit issues": strings.Join(codes, "; "),
			"Status": r.page().StatusText(), "Decided": fmt.Sprint(r.decided), "Proposals": fmt.Sprint(r.proposals), "Page ID": r.id,
		} {
			if got := rec[col(name)]; got != val {
				t.Errorf("record %d (%s) %s = %q, want %q", n+1, r.path, name, got, val)
			}
		}
	}
	// The "Exported" message names the file.
	if top := s.win.Canvas().Overlays().Top(); top == nil || !overlayHasText(top, path) {
		t.Error("no message saying where the file went")
	}
	if v.exportBtn.Disabled() || v.exportBtn.Text != exportLabel {
		t.Errorf("export button after the export: %q disabled=%v", v.exportBtn.Text, v.exportBtn.Disabled())
	}
	// Nothing to export: the button is off.
	test.Type(v.search, "no such page anywhere")
	if !v.exportBtn.Disabled() {
		t.Error("Export CSV… is enabled with no rows shown")
	}
}

func TestCSVFileName(t *testing.T) {
	at := time.Date(2026, 12, 1, 16, 4, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"repairsbypost.com": "repairsbypost.com-pages-20261201-1604.csv",
		"My site / UK":      "My-site-UK-pages-20261201-1604.csv",
		"..":                "nimbus-pages-20261201-1604.csv",
	} {
		if got := csvFileName(in, at); got != want {
			t.Errorf("csvFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// syntheticRows are n table rows with the variety of a real project.
func syntheticRows(n int) []*pageRow {
	rnd := rand.New(rand.NewPCG(1, 2))
	brands := []string{"rolex", "omega", "tag-heuer", "breitling", "audemars-piguet", "cartier"}
	locs := []string{"leeds", "london", "birmingham", "bristol", "cardiff", "glasgow"}
	statuses := []string{"", model.StatusUploaded, model.StatusQueued, model.StatusProcessing, model.StatusDone, model.StatusFailed}
	rows := make([]*pageRow, n)
	for i := range rows {
		b, l := brands[rnd.IntN(len(brands))], locs[rnd.IntN(len(locs))]
		p := workspace.PageRow{PageID: fmt.Sprintf("page_%012x", i), SourcePath: fmt.Sprintf("dist/local/%s-%d/%s-servicing.html", l, i, b),
			Title: fmt.Sprintf("%s servicing in %s %d | Timekeepers", b, l, rnd.IntN(1000)), Dimensions: workspace.Dims{{Name: "brand", Value: b}, {Name: "location", Value: l}},
			Status: model.StatusData{Status: statuses[rnd.IntN(len(statuses))]}, Proposals: rnd.IntN(8)}
		p.Decided = rnd.IntN(p.Proposals + 1)
		for range rnd.IntN(4) {
			p.Issues = append(p.Issues, model.AuditIssue{Code: "title_too_long", Severity: "warn"})
		}
		rows[i] = rowOf(p)
	}
	slices.SortFunc(rows, func(a, b *pageRow) int { return strings.Compare(a.path, b.path) })
	return rows
}

// Sorting 10,000 rows: the figure the window's sort runs off the UI
// goroutine for (go test -bench SortRows -run ^$ ./ui).
func BenchmarkSortRows10k(b *testing.B) {
	rows := syntheticRows(10000)
	for _, col := range []int{colPath, colTitle, colDims, colAudit, colStatus, colReview} {
		b.Run(pageColumns[col].title, func(b *testing.B) {
			for b.Loop() {
				sortOrder(rows, sortSpec{col: col, desc: true})
			}
		})
	}
}

// The sort of 10,000 rows is measured, and in the window it runs off the
// UI goroutine: the click returns before the rows are in their new order.
func TestSortTenThousandRowsOffTheUIGoroutine(t *testing.T) {
	s, _, _ := fixtureShell(t)
	v := s.pages
	v.setRows(syntheticRows(10000), v.project)
	start := time.Now()
	sortOrder(v.rows, sortSpec{col: colTitle})
	t.Logf("sorting 10,000 rows by title: %s (with -race)", time.Since(start).Round(time.Microsecond))

	s.opts.Synchronous = false
	defer func() { s.opts.Synchronous = true }()
	release, done := make(chan struct{}), make(chan struct{})
	v.sortFn = func(rows []*pageRow, spec sortSpec) []int {
		<-release
		return sortOrder(rows, spec)
	}
	v.sorted = func() { close(done) }
	defer func() { v.sortFn, v.sorted = sortOrder, nil }()
	timer := time.AfterFunc(5*time.Second, func() { close(release) })
	before := slices.Clone(v.filtered)
	tapped := time.Now()
	v.sortBy(colTitle)
	if !timer.Stop() {
		t.Fatalf("the tap returned after %s: the sort ran on the UI goroutine", time.Since(tapped))
	}
	if !slices.Equal(before, v.filtered) {
		t.Fatal("the rows changed before the sort was done")
	}
	close(release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sort never came back")
	}
	if slices.Equal(before, v.filtered) {
		t.Error("the sorted order was not applied")
	}
	t.Logf("off the UI goroutine: %s", v.sortTook)
}

// Filtering 10,000 rows runs on the UI goroutine at every keystroke in
// the search field (go test -bench FilterRows -run ^$ ./ui).
func BenchmarkFilterRows10k(b *testing.B) {
	rows := syntheticRows(10000)
	for name, f := range map[string]pageFilter{
		"search":     {query: "leeds-1/"},
		"dimensions": {dims: [][2]string{{"brand", "rolex"}, {"location", "leeds"}}},
		"all":        {query: "servicing", dims: [][2]string{{"brand", "rolex"}}, status: statusNotSent, audit: auditAnyIssue},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				for _, r := range rows {
					if f.match(r) {
						n++
					}
				}
			}
		})
	}
}

// The dimension filters' columns follow the rows: a row changed in place
// (a live update) is matched by its new value once the generation moves.
func TestDimColumnsFollowTheRows(t *testing.T) {
	rows := []*pageRow{{dims: workspace.Dims{{Name: "brand", Value: "rolex"}}}, {dims: workspace.Dims{{Name: "brand", Value: "omega"}}}, {}}
	var c dimColumns
	match := func(gen int, val string) []int {
		var out []int
		checks := c.checks(rows, gen, [][2]string{{"brand", val}})
		for i := range rows {
			if checks[0].col[i] == checks[0].id {
				out = append(out, i)
			}
		}
		return out
	}
	if got := match(1, "rolex"); !slices.Equal(got, []int{0}) {
		t.Fatalf("brand=rolex: rows %v", got)
	}
	if got := match(1, "tudor"); len(got) != 0 {
		t.Fatalf("brand=tudor (no row has it): rows %v", got)
	}
	rows[2] = &pageRow{dims: workspace.Dims{{Name: "brand", Value: "rolex"}}}
	if got := match(2, "rolex"); !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("brand=rolex after a change: rows %v", got)
	}
}

// While only the first screen's rows are in, Export CSV and Submit are
// off: they count the rows (the first 200 were exported as the site).
func TestExportAndSubmitWaitForTheFullTable(t *testing.T) {
	s, _, _ := fixtureShell(t)
	v := s.pages
	v.loading = true
	v.applyFilter()
	if !v.exportBtn.Disabled() || !v.submitBtn.Disabled() {
		t.Errorf("while loading: export disabled %v, submit disabled %v; want both", v.exportBtn.Disabled(), v.submitBtn.Disabled())
	}
	v.loading = false
	v.applyFilter()
	if v.exportBtn.Disabled() || v.submitBtn.Disabled() {
		t.Errorf("loaded: export disabled %v, submit disabled %v; want neither", v.exportBtn.Disabled(), v.submitBtn.Disabled())
	}
}
