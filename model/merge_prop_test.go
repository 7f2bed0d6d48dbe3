package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"
)

// Property tests: every merge is commutative, associative and idempotent on
// its normal forms. Generators draw from small pools so ties (equal stamps,
// equal instants written differently, equal keys) are frequent: the
// tie-breaks are where non-determinism would hide.

const propIterations = 3000

var propBase = time.Date(2024, 9, 2, 13, 0, 0, 0, time.UTC)

// stampAt is minute i after propBase, in the canonical layout.
func stampAt(i int) string { return FormatTime(propBase.Add(time.Duration(i) * time.Minute)) }

// genStamp draws a stamp from a pool of 6 minutes; one in eight is written
// without milliseconds (same instant, other text) to exercise that tie.
func genStamp(r *rand.Rand) string {
	i := r.Intn(6)
	if r.Intn(8) == 0 {
		return propBase.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
	}
	return stampAt(i)
}

func genOptStamp(r *rand.Rand) string {
	if r.Intn(4) == 0 {
		return ""
	}
	return genStamp(r)
}

func oneOf[T any](r *rand.Rand, xs ...T) T { return xs[r.Intn(len(xs))] }

// laws checks the three laws for one merge over generated triples.
func laws[T any](t *testing.T, triple func(r *rand.Rand) [3]T, merge func(a, b T) T, valid func(T) error) {
	t.Helper()
	r := rand.New(rand.NewSource(20241127))
	enc := func(v T) []byte { return Canonical(v) }
	for i := 0; i < propIterations; i++ {
		in := triple(r)
		a, b, c := in[0], in[1], in[2]
		ab, ba := merge(a, b), merge(b, a)
		if !bytes.Equal(enc(ab), enc(ba)) {
			t.Fatalf("not commutative (iteration %d):\na     %s\nb     %s\nm(a,b) %s\nm(b,a) %s", i, enc(a), enc(b), enc(ab), enc(ba))
		}
		left, right := merge(ab, c), merge(a, merge(b, c))
		if !bytes.Equal(enc(left), enc(right)) {
			t.Fatalf("not associative (iteration %d):\na %s\nb %s\nc %s\nm(m(a,b),c) %s\nm(a,m(b,c)) %s", i, enc(a), enc(b), enc(c), enc(left), enc(right))
		}
		if got := merge(ab, ab); !bytes.Equal(enc(got), enc(ab)) {
			t.Fatalf("not idempotent (iteration %d):\nx      %s\nm(x,x) %s", i, enc(ab), enc(got))
		}
		if got := merge(ab, b); !bytes.Equal(enc(got), enc(ab)) {
			t.Fatalf("re-merging an input changes the result (iteration %d):\nm(a,b)      %s\nm(m(a,b),b) %s", i, enc(ab), enc(got))
		}
		if valid != nil {
			for _, x := range in {
				if err := valid(x); err != nil {
					t.Fatalf("generator made an invalid record %s: %v", enc(x), err)
				}
			}
			if err := valid(left); err != nil {
				t.Fatalf("merge of valid records is invalid: %s: %v", enc(left), err)
			}
		}
	}
}

// three draws three independent values.
func three[T any](gen func(r *rand.Rand) T) func(r *rand.Rand) [3]T {
	return func(r *rand.Rand) [3]T { return [3]T{gen(r), gen(r), gen(r)} }
}

func TestMergeLawsUser(t *testing.T) {
	laws(t, three(func(r *rand.Rand) UserData {
		return UserData{UserID: "user_1", Email: oneOf(r, "a@x.com", "b@x.com"), Created: genStamp(r), Updated: genOptStamp(r)}
	}), MergeUserData, func(v UserData) error { return v.Validate() })
}

func TestMergeLawsEmail(t *testing.T) {
	laws(t, three(func(r *rand.Rand) EmailData {
		return EmailData{UserID: oneOf(r, "user_1", "user_2"), Created: genStamp(r)}
	}), MergeEmailData, func(v EmailData) error { return v.Validate() })
}

func TestMergeLawsSession(t *testing.T) {
	laws(t, three(func(r *rand.Rand) SessionData {
		return SessionData{UserID: "user_1", Email: "a@x.com", Created: genStamp(r), Expires: genStamp(r), IP: oneOf(r, "1.1.1.1", "2.2.2.2"), UserAgent: "ua"}
	}), MergeSessionData, func(v SessionData) error { return v.Validate() })
}

func TestMergeLawsCache(t *testing.T) {
	laws(t, three(func(r *rand.Rand) CacheData {
		return CacheData{Data: json.RawMessage(oneOf(r, `{"a":1}`, `"x"`, `[1,2]`)), Created: genStamp(r), Expires: genStamp(r), Type: oneOf(r, "ai_response", "page_data")}
	}), MergeCacheData, func(v CacheData) error { return v.Validate() })
}

func genIDList(r *rand.Rand, pool []string) []string {
	n := r.Intn(5)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, pool[r.Intn(len(pool))])
	}
	if r.Intn(6) == 0 {
		return nil
	}
	return out
}

var (
	propProjects = []string{"proj_000000000001", "proj_000000000002", "proj_00000000000a", "proj_0000000000ff"}
	propHashes   = []string{"sha256:" + sha("k1"), "sha256:" + sha("k2"), "sha256:" + sha("k3")}
	propPages    = []string{"page_000000000001", "page_000000000002", "page_000000000003", "page_000000000004"}
	propBatches  = []string{"batch_20240902_130000", "batch_20240902_140000", "batch_20240903_090000"}
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestMergeLawsProjectsList(t *testing.T) {
	laws(t, three(func(r *rand.Rand) ProjectsList { return genIDList(r, propProjects) }),
		MergeProjectsList, func(v ProjectsList) error { return v.Validate() })
}

func TestMergeLawsApiKeysList(t *testing.T) {
	laws(t, three(func(r *rand.Rand) ApiKeysList { return genIDList(r, propHashes) }),
		MergeApiKeysList, func(v ApiKeysList) error { return v.Validate() })
}

func TestMergeLawsProject(t *testing.T) {
	laws(t, three(func(r *rand.Rand) ProjectData {
		return ProjectData{
			ProjectID: testProject, UserID: "user_1", Name: oneOf(r, "a.com", "b.com"), Created: genStamp(r),
			Settings: ProjectSettings{
				Tone: oneOf(r, Tones...), MaxPagesPerBatch: oneOf(r, 100, 1000), DefaultConcurrency: 5,
				AIModel: oneOf(r, "gpt-4", "gpt-3.5-turbo"), Domain: "a.com",
			},
			Usage:           ProjectUsage{TotalPages: r.Intn(4), TotalBatches: r.Intn(4), LastActivity: genOptStamp(r)},
			SettingsUpdated: genOptStamp(r),
		}
	}), MergeProjectData, func(v ProjectData) error { return v.Validate() })
}

func TestMergeLawsKey(t *testing.T) {
	laws(t, three(func(r *rand.Rand) KeyData {
		// last_used spans two days, so the daily counter rule is exercised.
		lastUsed := ""
		if r.Intn(4) != 0 {
			lastUsed = FormatTime(propBase.Add(time.Duration(r.Intn(4)*7) * time.Hour))
		}
		return KeyData{
			UserID: oneOf(r, "user_1", "user_2"), Created: genStamp(r), LastUsed: lastUsed, Active: r.Intn(3) != 0,
			Name: oneOf(r, "Production Key", "Dev"), Usage: KeyUsage{RequestsToday: int64(r.Intn(5)), RequestsTotal: int64(r.Intn(9))},
		}
	}), MergeKeyData, func(v KeyData) error { return v.Validate() })
}

// pageHash is the content_hash of upload number u in a page history: a
// function of the upload time, so a content never comes back (no revert).
// Upload 0 is a legacy record without a content_hash.
func pageHash(u int) string {
	if u == 0 {
		return ""
	}
	return sha(fmt.Sprint("content", u))
}

func genPage(r *rand.Rand) PageData {
	u := r.Intn(5)
	p := PageData{
		PageID: pageA, ProjectID: testProject, BatchID: oneOf(r, propBatches...), SourcePath: "dist/local/a.html",
		Uploaded: stampAt(u * 10), ContentHash: pageHash(u), SourceMissing: genOptStamp(r),
		Extraction: Extraction{
			Engine: "html", MainSelector: "main",
			Head:            map[string]string{"title": oneOf(r, "A", "B")},
			AboveFoldBlocks: []Block{{ID: "block-0", Type: "h1", Content: fmt.Sprint("v", u)}},
		},
	}
	if r.Intn(3) == 0 {
		p.Audit = &Audit{WordCount: r.Intn(3)}
	}
	if r.Intn(3) != 0 {
		// The Worker optimizes some content seen so far, never a future one.
		src := r.Intn(u + 1)
		p.Optimization = &Optimization{
			Completed: stampAt(src*10 + 1 + r.Intn(12)), Model: oneOf(r, "gpt-4", "gpt-3.5-turbo"),
			Confidence: 0.5, Changes: r.Intn(3), SourceHash: pageHash(src),
			OptimizedBlocks: []Block{{ID: "block-0", Type: "h1", Content: "x", OptimizedContent: fmt.Sprint("o", src)}},
		}
	}
	return p
}

func TestMergeLawsPage(t *testing.T) {
	laws(t, three(genPage), MergePageData, func(v PageData) error { return v.Validate() })
}

// TestMergePageArbitraryHashes checks the laws that hold without the
// no-revert precondition: commutativity and idempotence.
func TestMergePageArbitraryHashes(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	hashes := []string{"", sha("x"), sha("y")}
	gen := func() PageData {
		p := genPage(r)
		p.ContentHash = oneOf(r, hashes...)
		if p.Optimization != nil {
			p.Optimization.SourceHash = oneOf(r, hashes...)
		}
		return p
	}
	for i := 0; i < propIterations; i++ {
		a, b := gen(), gen()
		ab := MergePageData(a, b)
		if !bytes.Equal(Canonical(ab), Canonical(MergePageData(b, a))) {
			t.Fatalf("not commutative: %s / %s", Canonical(a), Canonical(b))
		}
		if !bytes.Equal(Canonical(ab), Canonical(MergePageData(ab, ab))) || !bytes.Equal(Canonical(ab), Canonical(MergePageData(ab, a))) {
			t.Fatalf("not idempotent: %s", Canonical(ab))
		}
		if ab.Optimization != nil && ab.Optimization.SourceHash != ab.ContentHash {
			t.Fatalf("kept a stale optimization: %s", Canonical(ab))
		}
	}
}

// TestMergePageRevert shows what the no-revert precondition is about: the
// file goes from content 1 to content 2 and back to content 1 (a third
// upload). An optimization of content 1 survives one merge order and is
// dropped by another; both outcomes are safe (no stale optimization is ever
// kept, at worst the page is optimized again).
func TestMergePageRevert(t *testing.T) {
	h1, h2 := sha("one"), sha("two")
	base := PageData{PageID: pageA, ProjectID: testProject, SourcePath: "dist/local/a.html", Extraction: Extraction{Engine: "html"}}
	a := base
	a.Uploaded, a.ContentHash = stampAt(0), h1
	a.Optimization = &Optimization{Completed: stampAt(1), Model: "gpt-4", SourceHash: h1}
	b := base
	b.Uploaded, b.ContentHash = stampAt(2), h2
	c := base
	c.Uploaded, c.ContentHash = stampAt(3), h1 // reverted

	left := MergePageData(MergePageData(a, b), c)  // a's optimization dropped against h2 first
	right := MergePageData(a, MergePageData(b, c)) // meets h1 again: kept
	if left.Optimization != nil {
		t.Errorf("m(m(a,b),c) kept %+v; an intermediate merge against h2 must have dropped it", left.Optimization)
	}
	if right.Optimization == nil || right.Optimization.SourceHash != h1 {
		t.Errorf("m(a,m(b,c)) = %+v, want a's optimization for h1", right.Optimization)
	}
	for _, m := range []PageData{left, right} {
		if m.ContentHash != h1 || m.Uploaded != c.Uploaded {
			t.Errorf("extraction group not from the latest upload: %s", Canonical(m))
		}
	}
}

func TestMergeLawsReview(t *testing.T) {
	laws(t, three(func(r *rand.Rand) ReviewData {
		rv := ReviewData{PageID: pageA, ProjectID: testProject, Updated: genStamp(r), Blocks: map[string]ReviewDecision{}}
		for i := r.Intn(4); i > 0; i-- {
			rv.Blocks[fmt.Sprint("block-", r.Intn(4))] = ReviewDecision{
				State: oneOf(r, ReviewStates...), Text: oneOf(r, "", "t1", "t2"), Decided: genStamp(r),
			}
		}
		if len(rv.Blocks) == 0 && r.Intn(2) == 0 {
			rv.Blocks = nil
		}
		return rv
	}), MergeReviewData, func(v ReviewData) error { return v.Validate() })
}

// batchChain is one page's possible history in a batch, in order. Stamps
// rise along it; a failed page may be retried to done, never the reverse.
func batchChain(r *rand.Rand, start int) []BatchPage {
	up, s, c := stampAt(start), stampAt(start+2), stampAt(start+3)
	chain := []BatchPage{
		{Status: StatusUploaded, Uploaded: up},
		{Status: StatusQueued, Uploaded: up},
		{Status: StatusProcessing, Uploaded: up, Started: s},
	}
	switch r.Intn(3) {
	case 0:
		chain = append(chain, BatchPage{Status: StatusDone, Uploaded: up, Started: s, Completed: c})
	case 1:
		chain = append(chain, BatchPage{Status: StatusFailed, Uploaded: up, Started: s, Completed: c, Error: "AI_TIMEOUT"})
	default:
		s2, c2 := stampAt(start+5), FormatTime(propBase.Add(time.Duration(start+5)*time.Minute+1234*time.Millisecond))
		chain = append(chain,
			BatchPage{Status: StatusFailed, Uploaded: up, Started: s, Completed: c, Error: "AI_TIMEOUT"},
			BatchPage{Status: StatusDone, Uploaded: up, Started: s2, Completed: c2})
	}
	return chain
}

// genBatchTriple draws three replicas of one batch: the same page set (fixed
// at creation), each page somewhere along its own history.
func genBatchTriple(r *rand.Rand) [3]BatchData {
	n := r.Intn(len(propPages) + 1)
	chains := make([][]BatchPage, n)
	for i := range chains {
		chains[i] = batchChain(r, r.Intn(3))
	}
	var out [3]BatchData
	for k := range out {
		b := BatchData{
			BatchID: testBatch, ProjectID: testProject, Created: genStamp(r), PageCount: r.Intn(n + 2),
			Status: oneOf(r, BatchStatuses...), Pages: map[string]BatchPage{},
		}
		for i, ch := range chains {
			b.Pages[propPages[i]] = ch[r.Intn(len(ch))]
		}
		b.Summary = BatchSummary{Completed: r.Intn(3), Pending: r.Intn(3)} // stale on purpose: recomputed
		out[k] = b
	}
	return out
}

func TestMergeLawsBatch(t *testing.T) {
	laws(t, genBatchTriple, MergeBatchData, func(v BatchData) error { return v.Validate() })
}

// TestMergeBatchFreeForm checks commutativity and idempotence on batches
// whose page sets differ and whose entries are arbitrary.
func TestMergeBatchFreeForm(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	gen := func() BatchData {
		b := BatchData{BatchID: testBatch, ProjectID: testProject, Created: genStamp(r), Status: oneOf(r, BatchStatuses...), PageCount: r.Intn(4)}
		b.Pages = map[string]BatchPage{}
		for i := r.Intn(4); i > 0; i-- {
			b.Pages[oneOf(r, propPages...)] = BatchPage{Status: oneOf(r, PageStatuses...), Uploaded: genStamp(r), Started: genOptStamp(r), Completed: genOptStamp(r), Error: oneOf(r, "", "x")}
		}
		return b
	}
	for i := 0; i < propIterations; i++ {
		a, b := gen(), gen()
		ab := MergeBatchData(a, b)
		if !bytes.Equal(Canonical(ab), Canonical(MergeBatchData(b, a))) {
			t.Fatalf("not commutative: %s / %s", Canonical(a), Canonical(b))
		}
		if !bytes.Equal(Canonical(ab), Canonical(MergeBatchData(ab, ab))) || !bytes.Equal(Canonical(ab), Canonical(MergeBatchData(a, ab))) {
			t.Fatalf("not idempotent: %s", Canonical(ab))
		}
		if ab.Summary != BatchSummaryOf(ab.Pages) {
			t.Fatalf("summary %+v not derived from pages", ab.Summary)
		}
	}
}

func TestMergeLawsQueue(t *testing.T) {
	laws(t, three(func(r *rand.Rand) QueueData {
		q := QueueData{LastProcessed: genOptStamp(r)}
		for i := r.Intn(5); i > 0; i-- {
			q.Items = append(q.Items, QueueItem{
				PageID: oneOf(r, propPages[:3]...), BatchID: oneOf(r, propBatches[:2]...),
				Priority: 1 + r.Intn(10), QueuedAt: genStamp(r), Attempts: r.Intn(4),
			})
		}
		return q
	}), MergeQueueData, func(v QueueData) error { return v.Validate() })
}

func TestMergeLawsStatus(t *testing.T) {
	laws(t, three(func(r *rand.Rand) StatusData {
		s := StatusData{Status: oneOf(r, PageStatuses...), BatchID: oneOf(r, propBatches...), Updated: genStamp(r)}
		switch s.Status {
		case StatusProcessing:
			s.Processing = &ProcessingInfo{Started: genStamp(r), CurrentStep: "ai_optimization", Progress: r.Intn(101)}
		case StatusDone:
			s.Result = &StatusResult{Completed: genStamp(r), Success: true, Changes: r.Intn(3), Confidence: 0.9}
		case StatusFailed:
			s.Error = &StatusError{Message: oneOf(r, "timeout", "bad"), Code: "AI_TIMEOUT", Timestamp: genStamp(r)}
		}
		return s
	}), MergeStatusData, func(v StatusData) error { return v.Validate() })
}

func genLogEntry(r *rand.Rand, stamps int) LogEntry {
	e := LogEntry{
		Timestamp: FormatTime(propBase.Add(time.Duration(r.Intn(stamps)) * time.Second)),
		Level:     oneOf(r, LogLevels...), Step: oneOf(r, "upload", "process"), Message: oneOf(r, "m1", "m2"),
	}
	if r.Intn(3) == 0 {
		e.Data = json.RawMessage(oneOf(r, `{"a":1}`, `2`))
	}
	if r.Intn(3) == 0 {
		d := int64(r.Intn(3))
		e.DurationMs = &d
	}
	return e
}

func TestMergeLawsLogs(t *testing.T) {
	laws(t, three(func(r *rand.Rand) LogData {
		l := LogData{PageID: oneOf(r, "", pageA)}
		for i := r.Intn(6); i > 0; i-- {
			l.Entries = append(l.Entries, genLogEntry(r, 4))
		}
		return l
	}), MergeLogData, func(v LogData) error { return v.Validate() })
}

// TestMergeLawsLogsOverflow runs the laws where the union overflows
// MaxLogEntries, so truncation is part of every merge.
func TestMergeLawsLogsOverflow(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	gen := func() LogData {
		l := LogData{PageID: pageA}
		for i := 500 + r.Intn(500); i > 0; i-- {
			l.Entries = append(l.Entries, genLogEntry(r, 900))
		}
		return l
	}
	for i := 0; i < 20; i++ {
		a, b, c := MergeLogData(gen(), LogData{}), gen(), gen()
		ab := MergeLogData(a, b)
		if !bytes.Equal(Canonical(ab), Canonical(MergeLogData(b, a))) {
			t.Fatal("not commutative")
		}
		if !bytes.Equal(Canonical(MergeLogData(ab, c)), Canonical(MergeLogData(a, MergeLogData(b, c)))) {
			t.Fatal("not associative")
		}
		if !bytes.Equal(Canonical(ab), Canonical(MergeLogData(ab, ab))) || !bytes.Equal(Canonical(ab), Canonical(MergeLogData(ab, b))) {
			t.Fatal("not idempotent")
		}
		if len(ab.Entries) != MaxLogEntries {
			t.Fatalf("%d entries, want %d", len(ab.Entries), MaxLogEntries)
		}
	}
}
