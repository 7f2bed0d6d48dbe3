package model

import (
	"fmt"
	"testing"
	"time"
)

func TestPruneQueue(t *testing.T) {
	item := func(page, batch string) QueueItem {
		return QueueItem{PageID: page, BatchID: batch, Priority: 5, QueuedAt: T("10:00")}
	}
	q := QueueData{
		Items: []QueueItem{
			item(pageA, vBatch1),               // status done for this batch: pruned
			item(pageB, vBatch1),               // status processing: kept
			item(vPageC, vBatch1),              // status of a later batch, entry queued: kept (the Worker fails it as superseded)
			item(vPageD, vBatch2),              // no status: kept
			item("page_000000000005", vBatch1), // failed for this batch: pruned
			item("page_000000000006", vBatch2), // done for an older batch: kept (resubmitted)
			item("page_000000000007", vBatch1), // status of a later batch, entry failed (superseded): pruned
			item("page_000000000008", vBatch1), // status behind, but the entry says done: pruned
		},
		LastProcessed: T("10:05"),
	}
	statuses := map[string]StatusData{
		pageA:               {Status: StatusDone, BatchID: vBatch1},
		pageB:               {Status: StatusProcessing, BatchID: vBatch1},
		vPageC:              {Status: StatusQueued, BatchID: vBatch2},
		"page_000000000005": {Status: StatusFailed, BatchID: vBatch1},
		"page_000000000006": {Status: StatusDone, BatchID: vBatch1},
		"page_000000000007": {Status: StatusDone, BatchID: vBatch2},
		"page_000000000008": {Status: StatusQueued, BatchID: vBatch1},
	}
	entries := map[string]BatchPage{
		vBatch1 + "/" + vPageC:              {Status: StatusQueued},
		vBatch1 + "/page_000000000007":      {Status: StatusFailed, Error: "SUPERSEDED: resubmitted"},
		vBatch1 + "/page_000000000008":      {Status: StatusDone},
		vBatch2 + "/" + "page_000000000006": {Status: StatusQueued},
	}
	before := string(Canonical(q))
	got := PruneQueue(q, func(id string) (StatusData, bool) { s, ok := statuses[id]; return s, ok },
		func(b, id string) (BatchPage, bool) { e, ok := entries[b+"/"+id]; return e, ok })
	want := []QueueItem{item(pageB, vBatch1), item(vPageC, vBatch1), item(vPageD, vBatch2), item("page_000000000006", vBatch2)}
	if fmt.Sprint(got.Items) != fmt.Sprint(want) {
		t.Errorf("PruneQueue kept %v, want %v", got.Items, want)
	}
	if got.LastProcessed != q.LastProcessed {
		t.Errorf("last_processed changed to %q", got.LastProcessed)
	}
	if string(Canonical(q)) != before {
		t.Error("PruneQueue modified its input")
	}
	if empty := PruneQueue(QueueData{}, nil, nil); empty.Items == nil {
		t.Error("pruned empty queue has nil items (encodes as null)")
	}
}

// TestQueueResurrectionPrunedAgain plays the race DESIGN.md section 4
// describes: the Worker consumes an item and marks the page done; a desktop
// that had not seen it writes its older queue back. The merge resurrects
// the item; pruning against the (monotonic) status removes it again.
func TestQueueResurrectionPrunedAgain(t *testing.T) {
	it := QueueItem{PageID: pageA, BatchID: vBatch1, Priority: 5, QueuedAt: T("10:00")}
	desktop := QueueData{Items: []QueueItem{it}}
	worker := QueueData{Items: []QueueItem{}, LastProcessed: T("10:03")}
	statusDesktop := StatusData{Status: StatusQueued, BatchID: vBatch1, Updated: T("10:00")}
	statusWorker := StatusData{Status: StatusDone, BatchID: vBatch1, Updated: T("10:03")}

	merged := MergeQueueData(desktop, worker)
	if len(merged.Items) != 1 {
		t.Fatalf("union should resurrect the item, got %v", merged.Items)
	}
	st := MergeStatusData(statusDesktop, statusWorker)
	pruned := PruneQueue(merged, func(string) (StatusData, bool) { return st, true }, nil)
	if len(pruned.Items) != 0 {
		t.Errorf("item for a done page survived pruning: %v", pruned.Items)
	}
}

func TestDerivedBatchStatus(t *testing.T) {
	p := func(s string) BatchPage { return BatchPage{Status: s, Uploaded: T("10:00")} }
	cases := []struct {
		pages map[string]BatchPage
		want  string
	}{
		{nil, ""},
		{map[string]BatchPage{pageA: p(StatusQueued), pageB: p(StatusUploaded)}, ""},
		{map[string]BatchPage{pageA: p(StatusProcessing), pageB: p(StatusQueued)}, BatchProcessing},
		{map[string]BatchPage{pageA: p(StatusDone), pageB: p(StatusQueued)}, BatchProcessing},
		{map[string]BatchPage{pageA: p(StatusDone), pageB: p(StatusFailed)}, BatchCompleted},
		{map[string]BatchPage{pageA: p(StatusFailed), pageB: p(StatusFailed)}, BatchFailed},
	}
	for _, c := range cases {
		if got := DerivedBatchStatus(c.pages); got != c.want {
			t.Errorf("DerivedBatchStatus(%v) = %q, want %q", c.pages, got, c.want)
		}
	}
}

func benchPages(n int) map[string]BatchPage {
	pages := make(map[string]BatchPage, n)
	base := time.Date(2024, 9, 2, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		st := FormatTime(base.Add(time.Duration(i) * time.Second))
		pages[fmt.Sprintf("page_%012x", i)] = BatchPage{Status: StatusDone, Uploaded: st, Started: st, Completed: FormatTime(base.Add(time.Duration(i)*time.Second + 2500*time.Millisecond))}
	}
	return pages
}

func BenchmarkMergeBatch1000(b *testing.B) {
	x := BatchData{BatchID: vBatch1, ProjectID: testProject, Created: T("10:00"), Status: BatchProcessing, Pages: benchPages(1000)}
	y := x
	y.Pages = benchPages(1000)
	for id, p := range y.Pages {
		p.Status = StatusProcessing
		y.Pages[id] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		MergeBatchData(x, y)
	}
}

func BenchmarkMergeLogs1000(b *testing.B) {
	x := LogData{PageID: pageA, Entries: logRange(0, 1000, 1)}
	y := LogData{PageID: pageA, Entries: logRange(500, 1500, 1)}
	b.ReportAllocs()
	for b.Loop() {
		MergeLogData(x, y)
	}
}

func BenchmarkMergeQueue1000(b *testing.B) {
	var x, y QueueData
	for i := 0; i < 1000; i++ {
		it := QueueItem{PageID: fmt.Sprintf("page_%012x", i), BatchID: vBatch1, Priority: 1 + i%10, QueuedAt: T("10:00"), Attempts: i % 3}
		x.Items = append(x.Items, it)
		if i%2 == 0 {
			it.Attempts++
			y.Items = append(y.Items, it)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		MergeQueueData(x, y)
	}
}

func BenchmarkMergeValuePage(b *testing.B) {
	a := Canonical(withOpt(vPage(T("10:00"), vHash1, "Old", vBatch1), T("10:30"), vHash1, "opt"))
	c := Canonical(vPage(T("11:00"), vHash2, "New", vBatch2))
	key := PageKey(testProject, pageA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MergeValue(key, a, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeValueStatus(b *testing.B) {
	key := StatusKey(testProject, pageA)
	v := []byte(validValues[key])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeValue(key, v); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzMergeValue: for any two values the decoder accepts under one key, the
// merge must not panic, must be valid under that key, commutative and
// idempotent.
func FuzzMergeValue(f *testing.F) {
	for k, v := range validValues {
		f.Add(k, []byte(v), []byte(v))
	}
	sk := StatusKey(testProject, pageA)
	f.Add(sk, []byte(`{"status":"queued","batch_id":"batch_20240902_100000","updated":"2024-09-02T10:05:00Z"}`),
		[]byte(`{"status":"done","batch_id":"batch_20240902_100000","updated":"2024-09-02T10:04:00.000Z","result":{"completed":"2024-09-02T10:04:00.000Z","success":true,"changes":1,"confidence":0.5}}`))
	f.Add("queue:"+testProject, []byte(`{"items":[],"last_processed":""}`), []byte(validValues["queue:"+testProject]))
	f.Fuzz(func(t *testing.T, key string, a, b []byte) {
		if ValidateValue(key, a) != nil || ValidateValue(key, b) != nil {
			return
		}
		ab, err := MergeValue(key, a, b)
		if err != nil {
			t.Fatalf("merge of two valid values failed: %v", err)
		}
		if err := ValidateValue(key, ab); err != nil {
			t.Fatalf("merged value is invalid: %v\n%s", err, ab)
		}
		ba, err := MergeValue(key, b, a)
		if err != nil || string(ab) != string(ba) {
			t.Fatalf("not commutative:\n%s\n%s (%v)", ab, ba, err)
		}
		again, err := MergeValue(key, ab, ab)
		if err != nil || string(again) != string(ab) {
			t.Fatalf("not idempotent:\n%s\n%s (%v)", ab, again, err)
		}
	})
}

// TestMergeBatchPageAddedAfterCompletion shows the limit documented on
// MergeBatchData: a page added to a batch that one replica already saw as
// completed. The merge order decides whether the implied "completed" was
// recorded before the new page arrived; the pages and summary agree either
// way, and completed is never lost once written (status only rises).
func TestMergeBatchPageAddedAfterCompletion(t *testing.T) {
	p := func(s string) BatchPage { return BatchPage{Status: s, Uploaded: T("10:00")} }
	b := func(status string, pages map[string]BatchPage) BatchData {
		return BatchData{BatchID: vBatch1, ProjectID: testProject, Created: T("10:00"), Status: status, Pages: pages}
	}
	x := b(BatchProcessing, map[string]BatchPage{pageA: p(StatusDone)})
	y := b(BatchProcessing, map[string]BatchPage{pageA: p(StatusDone)})
	z := b(BatchQueued, map[string]BatchPage{pageB: p(StatusQueued)})

	left := MergeBatchData(MergeBatchData(x, y), z)  // completed implied before pageB arrived
	right := MergeBatchData(x, MergeBatchData(y, z)) // pageB seen first: still processing
	if left.Status != BatchCompleted || right.Status != BatchProcessing {
		t.Errorf("statuses %q / %q, want completed / processing", left.Status, right.Status)
	}
	if string(Canonical(left.Pages)) != string(Canonical(right.Pages)) || left.Summary != right.Summary {
		t.Error("pages or summary depend on the merge order")
	}
	if got := MergeBatchData(left, right).Status; got != BatchCompleted {
		t.Errorf("merging both outcomes gives %q, want completed (status only rises)", got)
	}
}
