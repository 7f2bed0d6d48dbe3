package model

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The merge vectors in testdata/merge/ are a language-neutral contract: the
// Worker's tests run the same files. They are written from the cases below,
// whose expected results are stated by hand (never computed by the merge
// under test). After editing a case run
//
//	go test ./model -run TestVectorFiles -update
//
// and commit the regenerated files; TestVectorFiles fails while they differ.

var update = flag.Bool("update", false, "rewrite testdata/merge/*.json from the cases in vectors_test.go")

const vectorDir = "../testdata/merge"

type vectorCase struct {
	Name     string `json:"name"`
	A        any    `json:"a"`
	B        any    `json:"b"`
	Expected any    `json:"expected"`
}

// T is 2024-09-02 at hh:mm UTC in the canonical layout.
func T(hhmm string) string { return "2024-09-02T" + hhmm + ":00.000Z" }

// TD is day d of September 2024 at hh:mm UTC.
func TD(d int, hhmm string) string { return fmt.Sprintf("2024-09-%02dT%s:00.000Z", d, hhmm) }

const (
	vBatch1 = "batch_20240902_100000"
	vBatch2 = "batch_20240902_140000"
	vPageC  = "page_000000000003"
	vPageD  = "page_000000000004"
	vHash1  = "1111111111111111111111111111111111111111111111111111111111111111"
	vHash2  = "2222222222222222222222222222222222222222222222222222222222222222"
)

func vectorCases() map[Kind][]vectorCase {
	return map[Kind][]vectorCase{
		KindUser:     userVectors(),
		KindEmail:    emailVectors(),
		KindSession:  sessionVectors(),
		KindCache:    cacheVectors(),
		KindProjects: projectsVectors(),
		KindAPIKeys:  apikeysVectors(),
		KindProject:  projectVectors(),
		KindAPIKey:   apikeyVectors(),
		KindPage:     pageVectors(),
		KindReview:   reviewVectors(),
		KindBatch:    batchVectors(),
		KindQueue:    queueVectors(),
		KindStatus:   statusVectors(),
		KindLogs:     logsVectors(),
	}
}

func userVectors() []vectorCase {
	u := func(email, created, updated string) UserData {
		return UserData{UserID: "user_12345", Email: email, Created: created, Updated: updated}
	}
	newer, older := u("new@example.com", T("10:00"), T("12:00")), u("old@example.com", T("10:00"), T("11:00"))
	never, edited := u("late@example.com", T("13:00"), ""), u("edited@example.com", T("10:00"), T("11:00"))
	c1, c2 := u("first@example.com", T("10:00"), ""), u("second@example.com", T("10:05"), "")
	t1, t2 := u("a@example.com", T("10:00"), T("11:00")), u("b@example.com", T("10:00"), T("11:00"))
	// The same instant written two ways: equal instants compare by text, and
	// "...00Z" sorts after "...00.000Z" ('Z' > '.').
	s1, s2 := u("ms@example.com", T("10:00"), "2024-09-02T11:00:00.000Z"), u("plain@example.com", T("10:00"), "2024-09-02T11:00:00Z")
	return []vectorCase{
		{"later updated wins", newer, older, newer},
		{"a record with updated beats one without, whatever created", never, edited, edited},
		{"no updated on either: later created wins", c1, c2, c2},
		{"full stamp tie: larger canonical bytes win", t1, t2, t2},
		{"equal instants written differently: larger text wins", s1, s2, s2},
	}
}

func emailVectors() []vectorCase {
	a, b := EmailData{UserID: "user_1", Created: T("10:00")}, EmailData{UserID: "user_2", Created: T("10:01")}
	c := EmailData{UserID: "user_3", Created: T("10:00")}
	return []vectorCase{
		{"later created wins", a, b, b},
		{"created tie: larger canonical bytes win", a, c, c},
	}
}

func sessionVectors() []vectorCase {
	s := func(ip, created string) SessionData {
		return SessionData{UserID: "user_1", Email: "a@example.com", Created: created, Expires: TD(3, "10:00"), IP: ip, UserAgent: "Nimbus/1.0"}
	}
	return []vectorCase{
		{"later created wins", s("10.0.0.1", T("10:05")), s("10.0.0.2", T("10:00")), s("10.0.0.1", T("10:05"))},
		{"created tie: larger canonical bytes win", s("10.0.0.1", T("10:00")), s("10.0.0.2", T("10:00")), s("10.0.0.2", T("10:00"))},
	}
}

func cacheVectors() []vectorCase {
	c := func(data, created string) CacheData {
		return CacheData{Data: json.RawMessage(data), Created: created, Expires: TD(3, "10:00"), Type: "ai_response"}
	}
	return []vectorCase{
		{"later created wins", c(`{"text":"old"}`, T("10:00")), c(`{"text":"new"}`, T("10:01")), c(`{"text":"new"}`, T("10:01"))},
		{"created tie: larger canonical bytes win", c(`{"text":"a"}`, T("10:00")), c(`{"text":"b"}`, T("10:00")), c(`{"text":"b"}`, T("10:00"))},
	}
}

func projectsVectors() []vectorCase {
	return []vectorCase{
		{"set union, sorted, no duplicates",
			ProjectsList{"proj_00000000000b", "proj_000000000001"}, ProjectsList{"proj_000000000001", "proj_00000000000a"},
			ProjectsList{"proj_000000000001", "proj_00000000000a", "proj_00000000000b"}},
		{"union with an empty list", ProjectsList{}, ProjectsList{"proj_000000000002"}, ProjectsList{"proj_000000000002"}},
	}
}

func apikeysVectors() []vectorCase {
	h1, h2, h3 := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("c", 64)
	return []vectorCase{
		{"set union, sorted", ApiKeysList{h3, h1}, ApiKeysList{h2}, ApiKeysList{h1, h2, h3}},
		{"same list", ApiKeysList{h1, h2}, ApiKeysList{h1, h2}, ApiKeysList{h1, h2}},
	}
}

func projectVectors() []vectorCase {
	p := func(name, tone, created, settingsUpdated string, pages, batches int, activity string) ProjectData {
		return ProjectData{
			ProjectID: testProject, UserID: "user_12345", Name: name, Created: created,
			Settings:        ProjectSettings{Tone: tone, MaxPagesPerBatch: 1000, DefaultConcurrency: 5, AIModel: "gpt-4", Domain: "example.com"},
			Usage:           ProjectUsage{TotalPages: pages, TotalBatches: batches, LastActivity: activity},
			SettingsUpdated: settingsUpdated,
		}
	}
	return []vectorCase{
		{"later settings_updated wins name and settings",
			p("new.example.com", "casual", T("09:00"), T("12:00"), 10, 1, T("12:00")),
			p("old.example.com", "premium", T("09:00"), T("11:00"), 10, 1, T("12:00")),
			p("new.example.com", "casual", T("09:00"), T("12:00"), 10, 1, T("12:00"))},
		{"a settings change beats a record that never had one",
			p("example.com", "professional", T("09:00"), "", 10, 1, T("12:00")),
			p("example.com", "premium", T("09:00"), T("09:30"), 10, 1, T("12:00")),
			p("example.com", "premium", T("09:00"), T("09:30"), 10, 1, T("12:00"))},
		{"created is the earliest even from the losing record",
			p("example.com", "casual", T("09:05"), T("12:00"), 0, 0, ""),
			p("example.com", "premium", T("09:00"), T("11:00"), 0, 0, ""),
			p("example.com", "casual", T("09:00"), T("12:00"), 0, 0, "")},
		{"usage field by field: max counts, latest activity",
			p("example.com", "casual", T("09:00"), T("10:00"), 120, 2, T("11:00")),
			p("example.com", "casual", T("09:00"), T("10:00"), 100, 3, T("11:30")),
			p("example.com", "casual", T("09:00"), T("10:00"), 120, 3, T("11:30"))},
		{"settings_updated tie: larger bytes of the settings part win, usage still merged",
			p("example.com", "casual", T("09:00"), T("10:00"), 5, 1, T("11:00")),
			p("example.com", "premium", T("09:00"), T("10:00"), 1, 1, T("10:30")),
			p("example.com", "premium", T("09:00"), T("10:00"), 5, 1, T("11:00"))},
	}
}

func apikeyVectors() []vectorCase {
	k := func(name, created, lastUsed string, active bool, today, total int64) KeyData {
		return KeyData{UserID: "user_12345", Created: created, LastUsed: lastUsed, Active: active, Name: name, Usage: KeyUsage{RequestsToday: today, RequestsTotal: total}}
	}
	return []vectorCase{
		{"active false is sticky against a later use",
			k("Production Key", T("09:00"), T("12:00"), true, 40, 140), k("Production Key", T("09:00"), T("11:00"), false, 30, 130),
			k("Production Key", T("09:00"), T("12:00"), false, 40, 140)},
		{"a new day's requests_today replaces yesterday's larger count",
			k("Production Key", T("09:00"), TD(2, "23:50"), true, 500, 900), k("Production Key", T("09:00"), TD(3, "00:10"), true, 3, 903),
			k("Production Key", T("09:00"), TD(3, "00:10"), true, 3, 903)},
		{"same day: requests_today is the max (even from the earlier use), requests_total the max",
			k("Production Key", T("09:00"), T("12:00"), true, 9, 100), k("Production Key", T("09:00"), T("15:00"), true, 7, 90),
			k("Production Key", T("09:00"), T("15:00"), true, 9, 100)},
		{"never used vs used: the used counters win",
			k("Production Key", T("09:00"), "", true, 0, 0), k("Production Key", T("09:00"), T("10:00"), true, 2, 2),
			k("Production Key", T("09:00"), T("10:00"), true, 2, 2)},
		{"created is the earliest",
			k("Production Key", T("09:01"), T("10:00"), true, 1, 1), k("Production Key", T("09:00"), T("10:00"), true, 1, 1),
			k("Production Key", T("09:00"), T("10:00"), true, 1, 1)},
		{"name disagreement: deterministic choice, the larger",
			k("Development Key", T("09:00"), T("10:00"), true, 1, 1), k("Production Key", T("09:00"), T("10:00"), true, 1, 1),
			k("Production Key", T("09:00"), T("10:00"), true, 1, 1)},
	}
}

func vPage(uploaded, contentHash, title, batch string) PageData {
	return PageData{
		PageID: pageA, ProjectID: testProject, BatchID: batch, SourcePath: "dist/local/a.html", Uploaded: uploaded,
		Extraction: Extraction{
			Engine: "html", MainSelector: "main",
			Head:             map[string]string{"title": title, "metaDescription": "d", "canonical": "https://example.com/a", "favicon": "/f.ico"},
			Dimensions:       map[string]string{"location": "birmingham"},
			AboveFoldBlocks:  []Block{{ID: "block-0", Type: "h1", Content: title}},
			RestOfPageBlocks: []Block{},
			SelectorMap:      map[string]string{"block-0": "main > h1"},
		},
		ContentHash: contentHash,
	}
}

func withOpt(p PageData, completed, sourceHash, text string) PageData {
	p.Optimization = &Optimization{
		Completed: completed, Model: "gpt-4", Confidence: 0.9, Changes: 1, SourceHash: sourceHash,
		OptimizedBlocks: []Block{{ID: "block-0", Type: "h1", Content: "x", OptimizedContent: text}},
	}
	return p
}

func pageVectors() []vectorCase {
	old := vPage(T("10:00"), vHash1, "Old title", vBatch1)
	neu := vPage(T("11:00"), vHash2, "New title", vBatch2)
	withAudit := func(p PageData, words int) PageData { p.Audit = &Audit{WordCount: words, H1Count: 1}; return p }
	legacy := vPage(T("10:00"), "", "Legacy", vBatch1)
	return []vectorCase{
		{"later uploaded wins the extraction group", old, neu, neu},
		{"Worker's optimization of the current content joins the desktop's record",
			old, withOpt(old, T("10:30"), vHash1, "Better old title"), withOpt(old, T("10:30"), vHash1, "Better old title")},
		{"stale optimization (source_hash of the superseded content) is dropped",
			withOpt(old, T("10:30"), vHash1, "Better old title"), neu, neu},
		{"race: Worker finished on old content while the desktop re-uploaded: dropped, page needs re-optimizing",
			withOpt(old, T("11:30"), vHash1, "Late result"), withOpt(neu, T("11:20"), vHash2, "Current result"),
			withOpt(neu, T("11:20"), vHash2, "Current result")},
		{"two optimizations of the current content: later completed wins",
			withOpt(neu, T("11:10"), vHash2, "First"), withOpt(neu, T("11:40"), vHash2, "Second"), withOpt(neu, T("11:40"), vHash2, "Second")},
		{"uploaded tie: larger content_hash wins, with its optimization",
			// Titles chosen so the bytes would pick the other record.
			withOpt(vPage(T("10:00"), vHash1, "Zulu", vBatch1), T("10:10"), vHash1, "o1"), vPage(T("10:00"), vHash2, "Alpha", vBatch1),
			vPage(T("10:00"), vHash2, "Alpha", vBatch1)},
		{"empty source_hash matches an empty content_hash (legacy records)",
			legacy, withOpt(legacy, T("10:30"), "", "Legacy opt"), withOpt(legacy, T("10:30"), "", "Legacy opt")},
		{"empty source_hash does not match a content_hash",
			withOpt(vPage(T("10:00"), vHash1, "One", vBatch1), T("10:30"), "", "Unknown source"), vPage(T("10:00"), vHash1, "One", vBatch1),
			vPage(T("10:00"), vHash1, "One", vBatch1)},
		{"audit travels with the extraction group",
			withAudit(old, 10), withAudit(neu, 20), withAudit(neu, 20)},
	}
}

func reviewVectors() []vectorCase {
	r := func(updated string, blocks map[string]ReviewDecision) ReviewData {
		return ReviewData{PageID: pageA, ProjectID: testProject, Blocks: blocks, Updated: updated}
	}
	acc := ReviewDecision{State: ReviewAccepted, Text: "Hello", Decided: T("10:00")}
	rej := ReviewDecision{State: ReviewRejected, Decided: T("10:05")}
	edit := ReviewDecision{State: ReviewEdited, Text: "Hi there", Decided: T("10:10")}
	rejTie := ReviewDecision{State: ReviewRejected, Decided: T("10:00")}
	return []vectorCase{
		{"block decisions union; updated the latest",
			r(T("10:00"), map[string]ReviewDecision{"block-0": acc}), r(T("10:05"), map[string]ReviewDecision{"block-1": rej}),
			r(T("10:05"), map[string]ReviewDecision{"block-0": acc, "block-1": rej})},
		{"same block: later decided wins",
			r(T("10:10"), map[string]ReviewDecision{"block-0": edit}), r(T("10:20"), map[string]ReviewDecision{"block-0": acc}),
			r(T("10:20"), map[string]ReviewDecision{"block-0": edit})},
		{"same block, decided tie: larger bytes win",
			r(T("10:00"), map[string]ReviewDecision{"block-0": acc}), r(T("10:00"), map[string]ReviewDecision{"block-0": rejTie}),
			r(T("10:00"), map[string]ReviewDecision{"block-0": rejTie})},
		{"empty review merges to the other", r(T("09:00"), map[string]ReviewDecision{}), r(T("10:00"), map[string]ReviewDecision{"block-0": acc}),
			r(T("10:00"), map[string]ReviewDecision{"block-0": acc})},
	}
}

func batchVectors() []vectorCase {
	up := func(status string) BatchPage { return BatchPage{Status: status, Uploaded: T("10:00")} }
	proc := func(started string) BatchPage {
		return BatchPage{Status: StatusProcessing, Uploaded: T("10:00"), Started: started}
	}
	done := func(started, completed string) BatchPage {
		return BatchPage{Status: StatusDone, Uploaded: T("10:00"), Started: started, Completed: completed}
	}
	failed := func(started, completed, msg string) BatchPage {
		return BatchPage{Status: StatusFailed, Uploaded: T("10:00"), Started: started, Completed: completed, Error: msg}
	}
	b := func(status string, count int, created string, pages map[string]BatchPage, sum BatchSummary) BatchData {
		return BatchData{BatchID: vBatch1, ProjectID: testProject, Created: created, PageCount: count, Status: status, Pages: pages, Summary: sum}
	}
	type pm = map[string]BatchPage
	ms := func(s string) string { return "2024-09-02T10:" + s + "Z" } // 10:mm:ss.mmm
	return []vectorCase{
		{"per page: Worker's processing beats desktop's queued",
			b(BatchQueued, 2, T("10:00"), pm{pageA: up(StatusQueued), pageB: up(StatusQueued)}, BatchSummary{Pending: 2}),
			b(BatchProcessing, 2, T("10:00"), pm{pageA: proc(T("10:01")), pageB: up(StatusQueued)}, BatchSummary{Pending: 2}),
			b(BatchProcessing, 2, T("10:00"), pm{pageA: proc(T("10:01")), pageB: up(StatusQueued)}, BatchSummary{Pending: 2})},
		{"done beats processing; summary recomputed, not taken from either input",
			b(BatchProcessing, 2, T("10:00"), pm{pageA: proc(T("10:01")), pageB: proc(T("10:01"))}, BatchSummary{Pending: 2}),
			b(BatchProcessing, 2, T("10:00"), pm{pageA: done(T("10:01"), ms("01:02.500")), pageB: proc(T("10:01"))}, BatchSummary{Completed: 7, Pending: 9}),
			b(BatchProcessing, 2, T("10:00"), pm{pageA: done(T("10:01"), ms("01:02.500")), pageB: proc(T("10:01"))}, BatchSummary{Completed: 1, Pending: 1, AverageTimeMs: 2500})},
		{"done vs failed (equal rank): the later completed wins (a retry that succeeded)",
			b(BatchFailed, 1, T("10:00"), pm{pageA: failed(T("10:01"), T("10:02"), "AI_TIMEOUT")}, BatchSummary{Failed: 1}),
			b(BatchProcessing, 1, T("10:00"), pm{pageA: done(T("10:05"), T("10:06"))}, BatchSummary{Completed: 1}),
			b(BatchCompleted, 1, T("10:00"), pm{pageA: done(T("10:05"), T("10:06"))}, BatchSummary{Completed: 1, AverageTimeMs: 60000})},
		{"race: two Workers finish the last two pages; pages imply completed",
			b(BatchProcessing, 2, T("10:00"), pm{pageA: done(T("10:01"), ms("01:01.000")), pageB: proc(T("10:01"))}, BatchSummary{Completed: 1, Pending: 1, AverageTimeMs: 1000}),
			b(BatchProcessing, 2, T("10:00"), pm{pageA: proc(T("10:01")), pageB: done(T("10:01"), ms("01:02.001"))}, BatchSummary{Completed: 1, Pending: 1, AverageTimeMs: 2001}),
			b(BatchCompleted, 2, T("10:00"), pm{pageA: done(T("10:01"), ms("01:01.000")), pageB: done(T("10:01"), ms("01:02.001"))}, BatchSummary{Completed: 2, AverageTimeMs: 1500})},
		{"every page failed: pages imply failed",
			b(BatchProcessing, 2, T("10:00"), pm{pageA: failed(T("10:01"), T("10:02"), "AI_TIMEOUT"), pageB: proc(T("10:01"))}, BatchSummary{}),
			b(BatchProcessing, 2, T("10:00"), pm{pageA: proc(T("10:01")), pageB: failed(T("10:01"), T("10:03"), "INVALID_CONTENT")}, BatchSummary{}),
			b(BatchFailed, 2, T("10:00"), pm{pageA: failed(T("10:01"), T("10:02"), "AI_TIMEOUT"), pageB: failed(T("10:01"), T("10:03"), "INVALID_CONTENT")}, BatchSummary{Failed: 2})},
		{"batch status is the max rank of the inputs: completed beats processing",
			b(BatchCompleted, 1, T("10:00"), pm{pageA: done(T("10:01"), T("10:02"))}, BatchSummary{}),
			b(BatchProcessing, 1, T("10:00"), pm{pageA: proc(T("10:01"))}, BatchSummary{}),
			b(BatchCompleted, 1, T("10:00"), pm{pageA: done(T("10:01"), T("10:02"))}, BatchSummary{Completed: 1, AverageTimeMs: 60000})},
		{"nothing started: status from the inputs only (queued beats uploading)",
			b(BatchUploading, 2, T("10:00"), pm{pageA: up(StatusUploaded)}, BatchSummary{}),
			b(BatchQueued, 2, T("10:00"), pm{pageA: up(StatusQueued), pageB: up(StatusQueued)}, BatchSummary{}),
			b(BatchQueued, 2, T("10:00"), pm{pageA: up(StatusQueued), pageB: up(StatusQueued)}, BatchSummary{Pending: 2})},
		{"page_count is the max of both and of the number of pages; created the earliest",
			b(BatchQueued, 1, T("10:00"), pm{pageA: up(StatusQueued), vPageC: up(StatusQueued)}, BatchSummary{}),
			b(BatchQueued, 0, T("09:59"), pm{pageB: up(StatusQueued)}, BatchSummary{}),
			b(BatchQueued, 3, T("09:59"), pm{pageA: up(StatusQueued), pageB: up(StatusQueued), vPageC: up(StatusQueued)}, BatchSummary{Pending: 3})},
		{"same rank and stamps: larger bytes win (error text)",
			b(BatchFailed, 1, T("10:00"), pm{pageA: failed(T("10:01"), T("10:02"), "AI_TIMEOUT")}, BatchSummary{}),
			b(BatchFailed, 1, T("10:00"), pm{pageA: failed(T("10:01"), T("10:02"), "INVALID_CONTENT")}, BatchSummary{}),
			b(BatchFailed, 1, T("10:00"), pm{pageA: failed(T("10:01"), T("10:02"), "INVALID_CONTENT")}, BatchSummary{Failed: 1})},
		{"average_time_ms: floor of the mean in ms; a negative duration (clock skew) counts as 0; done pages without started do not count",
			b(BatchProcessing, 4, T("10:00"), pm{pageA: done(T("10:01"), ms("01:01.000")), pageB: done(T("10:01"), ms("01:02.001"))}, BatchSummary{}),
			b(BatchProcessing, 4, T("10:00"), pm{vPageC: done(T("10:05"), T("10:04")), vPageD: {Status: StatusDone, Uploaded: T("10:00"), Completed: T("10:09")}}, BatchSummary{}),
			b(BatchCompleted, 4, T("10:00"), pm{pageA: done(T("10:01"), ms("01:01.000")), pageB: done(T("10:01"), ms("01:02.001")), vPageC: done(T("10:05"), T("10:04")), vPageD: {Status: StatusDone, Uploaded: T("10:00"), Completed: T("10:09")}},
				BatchSummary{Completed: 4, AverageTimeMs: 1000})},
	}
}

func queueVectors() []vectorCase {
	it := func(page, batch string, prio int, queued string, attempts int) QueueItem {
		return QueueItem{PageID: page, BatchID: batch, Priority: prio, QueuedAt: queued, Attempts: attempts}
	}
	q := func(last string, items ...QueueItem) QueueData {
		if items == nil {
			items = []QueueItem{}
		}
		return QueueData{Items: items, LastProcessed: last}
	}
	return []vectorCase{
		{"race: desktop appends while the Worker consumes and counts an attempt (union; pruning is separate)",
			q("", it(pageA, vBatch1, 5, T("10:00"), 0), it(pageB, vBatch1, 5, T("10:00"), 0), it(vPageC, vBatch1, 5, T("10:02"), 0)),
			q(T("10:01"), it(pageA, vBatch1, 5, T("10:00"), 1)),
			q(T("10:01"), it(pageB, vBatch1, 5, T("10:00"), 0), it(pageA, vBatch1, 5, T("10:00"), 1), it(vPageC, vBatch1, 5, T("10:02"), 0))},
		{"same (batch_id, page_id): attempts max, priority max, queued_at earliest",
			q(T("10:05"), it(pageA, vBatch1, 3, T("10:01"), 2)), q(T("10:04"), it(pageA, vBatch1, 8, T("10:00"), 1)),
			q(T("10:05"), it(pageA, vBatch1, 8, T("10:00"), 2))},
		{"same page in two batches: two items",
			q("", it(pageA, vBatch1, 5, T("10:00"), 0)), q("", it(pageA, vBatch2, 5, T("14:00"), 0)),
			q("", it(pageA, vBatch1, 5, T("10:00"), 0), it(pageA, vBatch2, 5, T("14:00"), 0))},
		{"sorted by priority desc, queued_at asc, batch_id, page_id",
			q("", it(vPageD, vBatch2, 1, T("10:00"), 0), it(pageB, vBatch1, 5, T("10:00"), 0)),
			q("", it(pageA, vBatch1, 5, T("10:00"), 0), it(vPageC, vBatch1, 10, T("10:30"), 0), it(pageA, vBatch2, 5, T("09:00"), 0)),
			q("", it(vPageC, vBatch1, 10, T("10:30"), 0), it(pageA, vBatch2, 5, T("09:00"), 0), it(pageB, vBatch1, 5, T("10:00"), 0), it(pageA, vBatch1, 5, T("10:00"), 0), it(vPageD, vBatch2, 1, T("10:00"), 0))},
		{"last_processed: the latest; an empty queue merges to the other",
			q(""), q(T("10:01"), it(pageA, vBatch1, 5, T("10:00"), 3)), q(T("10:01"), it(pageA, vBatch1, 5, T("10:00"), 3))},
	}
}

func statusVectors() []vectorCase {
	st := func(status, batch, updated string) StatusData {
		s := StatusData{Status: status, BatchID: batch, Updated: updated}
		switch status {
		case StatusProcessing:
			s.Processing = &ProcessingInfo{Started: updated, CurrentStep: "ai_optimization", Progress: 50}
		case StatusDone:
			s.Result = &StatusResult{Completed: updated, Success: true, Changes: 3, Confidence: 0.95}
		case StatusFailed:
			s.Error = &StatusError{Message: "AI call timed out", Code: "AI_TIMEOUT", Timestamp: updated}
		}
		return s
	}
	progress := func(s StatusData, p int) StatusData { s.Processing.Progress = p; return s }
	return []vectorCase{
		{"race: Worker's processing beats desktop's later-stamped queued (same batch, rank first)",
			st(StatusQueued, vBatch1, T("10:05")), st(StatusProcessing, vBatch1, T("10:04")), st(StatusProcessing, vBatch1, T("10:04"))},
		{"race: done vs failed of the same batch: later updated wins",
			st(StatusFailed, vBatch1, T("10:06")), st(StatusDone, vBatch1, T("10:07")), st(StatusDone, vBatch1, T("10:07"))},
		{"race: newer batch's queued beats the older batch's done",
			st(StatusDone, vBatch1, T("14:01")), st(StatusQueued, vBatch2, T("14:00")), st(StatusQueued, vBatch2, T("14:00"))},
		{"same batch and rank: later updated wins (progress)",
			progress(st(StatusProcessing, vBatch1, T("10:04")), 80), progress(st(StatusProcessing, vBatch1, T("10:03")), 90),
			progress(st(StatusProcessing, vBatch1, T("10:04")), 80)},
		{"full tie: larger canonical bytes win",
			progress(st(StatusProcessing, vBatch1, T("10:04")), 10), progress(st(StatusProcessing, vBatch1, T("10:04")), 20),
			progress(st(StatusProcessing, vBatch1, T("10:04")), 20)},
		{"Worker's done beats desktop's uploaded",
			st(StatusUploaded, vBatch1, T("10:00")), st(StatusDone, vBatch1, T("10:09")), st(StatusDone, vBatch1, T("10:09"))},
		{"a stale processing with a later stamp does not undo done",
			st(StatusDone, vBatch1, T("10:05")), st(StatusProcessing, vBatch1, T("10:08")), st(StatusDone, vBatch1, T("10:05"))},
	}
}

// logAt is an info entry at second s after 2024-09-02T10:00:00Z.
func logAt(s int, step, msg string) LogEntry {
	return LogEntry{Timestamp: FormatTime(time.Date(2024, 9, 2, 10, 0, s, 0, time.UTC)), Level: LevelInfo, Step: step, Message: msg}
}

func logRange(from, to, stride int) []LogEntry {
	out := []LogEntry{}
	for s := from; s < to; s += stride {
		out = append(out, logAt(s, "process", fmt.Sprint("step ", s)))
	}
	return out
}

func logsVectors() []vectorCase {
	l := func(page string, entries ...LogEntry) LogData {
		if entries == nil {
			entries = []LogEntry{}
		}
		return LogData{PageID: page, Entries: entries}
	}
	withData := func(e LogEntry, data string) LogEntry { e.Data = json.RawMessage(data); return e }
	d := int64(1200)
	withDur := func(e LogEntry) LogEntry { e.DurationMs = &d; return e }
	// Same instant written two ways: they are different keys, ordered by text.
	plain := LogEntry{Timestamp: "2024-09-02T10:00:05Z", Level: LevelWarn, Step: "queue", Message: "late"}
	return []vectorCase{
		{"race: desktop and Worker both append; union sorted by timestamp",
			l(pageA, logAt(0, "upload", "uploaded"), logAt(2, "queue", "queued")),
			l(pageA, logAt(0, "upload", "uploaded"), logAt(1, "process", "started"), logAt(3, "process", "done")),
			l(pageA, logAt(0, "upload", "uploaded"), logAt(1, "process", "started"), logAt(2, "queue", "queued"), logAt(3, "process", "done"))},
		{"same (timestamp, step, message): the larger bytes of the entry win",
			l(pageA, withData(logAt(0, "process", "done"), `{"changes":1}`)), l(pageA, withDur(logAt(0, "process", "done"))),
			l(pageA, withDur(logAt(0, "process", "done")))},
		{"same timestamp: sorted by step then message",
			l(pageA, logAt(0, "upload", "b"), logAt(0, "process", "z")), l(pageA, logAt(0, "upload", "a")),
			l(pageA, logAt(0, "process", "z"), logAt(0, "upload", "a"), logAt(0, "upload", "b"))},
		{"timestamps compare as instants; equal instants by text",
			l(pageA, plain, logAt(4, "queue", "late")), l(pageA, logAt(5, "queue", "late"), logAt(6, "queue", "late")),
			l(pageA, logAt(4, "queue", "late"), logAt(5, "queue", "late"), plain, logAt(6, "queue", "late"))},
		{"page_id from either when one is empty",
			l("", logAt(0, "upload", "x")), l(pageA), l(pageA, logAt(0, "upload", "x"))},
		{"overflow: overlapping appends past 1000, the newest 1000 kept",
			l(pageA, logRange(0, 600, 1)...), l(pageA, logRange(500, 1100, 1)...), l(pageA, logRange(100, 1100, 1)...)},
		{"overflow: interleaved appends past 1000, the newest 1000 kept",
			l(pageA, logRange(0, 1100, 2)...), l(pageA, logRange(1, 1100, 2)...), l(pageA, logRange(100, 1100, 1)...)},
	}
}

// encodeVectorFile renders one kind's cases: small cases indented, large
// ones (the overflow logs) on one line to keep the file readable.
func encodeVectorFile(kind Kind, cases []vectorCase) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\n  \"kind\": %q,\n  \"generated_by\": \"model/vectors_test.go (go test ./model -run TestVectorFiles -update)\",\n  \"cases\": [\n", kind)
	for i, c := range cases {
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("case %q: %w", c.Name, err)
		}
		if len(raw) < 8000 {
			var ind bytes.Buffer
			if err := json.Indent(&ind, raw, "    ", "  "); err != nil {
				return nil, err
			}
			raw = ind.Bytes()
		}
		buf.WriteString("    ")
		buf.Write(raw)
		if i < len(cases)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("  ]\n}\n")
	return buf.Bytes(), nil
}

// TestVectorFiles keeps testdata/merge/*.json equal to the cases above
// (or rewrites them with -update).
func TestVectorFiles(t *testing.T) {
	for kind, cases := range vectorCases() {
		want, err := encodeVectorFile(kind, cases)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		path := filepath.Join(vectorDir, string(kind)+".json")
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./model -run TestVectorFiles -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date with vectors_test.go (run go test ./model -run TestVectorFiles -update)", path)
		}
	}
}

type vectorFile struct {
	Kind  Kind `json:"kind"`
	Cases []struct {
		Name     string          `json:"name"`
		A        json.RawMessage `json:"a"`
		B        json.RawMessage `json:"b"`
		Expected json.RawMessage `json:"expected"`
	} `json:"cases"`
}

// decodeRecord decodes and validates one vector record of a kind.
func decodeRecord(kind Kind, raw json.RawMessage) (any, error) {
	rec, err := newRecord(kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, rec); err != nil {
		return nil, err
	}
	if err := rec.(interface{ Validate() error }).Validate(); err != nil {
		return nil, err
	}
	return rec, nil
}

// TestMergeVectors runs every vector file, each case in both orders, and
// checks the expected result is a fixed point (merging it with either input
// or itself changes nothing).
func TestMergeVectors(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[Kind]bool{}
	total := 0
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if string(f.Kind)+".json" != filepath.Base(path) {
			t.Errorf("%s declares kind %q", path, f.Kind)
		}
		kinds[f.Kind] = true
		for _, c := range f.Cases {
			total++
			t.Run(string(f.Kind)+"/"+c.Name, func(t *testing.T) {
				var recs [3]any
				for i, r := range []json.RawMessage{c.A, c.B, c.Expected} {
					rec, err := decodeRecord(f.Kind, r)
					if err != nil {
						t.Fatalf("input %d is not a valid %s: %v", i, f.Kind, err)
					}
					recs[i] = rec
				}
				a, b, exp := recs[0], recs[1], recs[2]
				want := Canonical(exp)
				for _, order := range []struct {
					name string
					x, y any
				}{{"m(a,b)", a, b}, {"m(b,a)", b, a}, {"m(expected,a)", exp, a}, {"m(b,expected)", b, exp}, {"m(expected,expected)", exp, exp}} {
					m, err := mergeRecords(order.x, order.y)
					if err != nil {
						t.Fatal(err)
					}
					if got := Canonical(m); !bytes.Equal(got, want) {
						t.Errorf("%s =\n%s\nwant\n%s", order.name, got, want)
					}
				}
			})
		}
	}
	var missing []string
	for _, k := range []Kind{KindUser, KindEmail, KindSession, KindCache, KindProjects, KindAPIKeys, KindProject, KindAPIKey,
		KindPage, KindReview, KindBatch, KindQueue, KindStatus, KindLogs} {
		if !kinds[k] {
			missing = append(missing, string(k))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no vector file for %v", missing)
	}
	if total < 45 {
		t.Errorf("%d vector cases, want at least 45", total)
	}
}

// TestMergeValue runs one vector through the byte-level API with a real
// key, and checks it rejects invalid or mismatched inputs.
func TestMergeValue(t *testing.T) {
	key := StatusKey(testProject, pageA)
	queued := `{"status":"queued","batch_id":"` + vBatch1 + `","updated":"` + T("10:05") + `"}`
	processing := `{"status":"processing","batch_id":"` + vBatch1 + `","updated":"` + T("10:04") + `","processing":{"started":"` + T("10:04") + `","current_step":"ai","progress":5}}`
	got, err := MergeValue(key, []byte(queued), []byte(processing))
	if err != nil {
		t.Fatal(err)
	}
	want := Canonical(mustDecode[StatusData](t, processing))
	if !bytes.Equal(got, want) {
		t.Fatalf("MergeValue = %s, want %s", got, want)
	}
	if _, err := MergeValue(key, []byte(queued), []byte(`{"status":"nope"}`)); err == nil || !strings.Contains(err.Error(), "second value") {
		t.Errorf("invalid second value: err = %v", err)
	}
	if _, err := MergeValue(key, []byte(`{`), []byte(queued)); err == nil || !strings.Contains(err.Error(), "first value") {
		t.Errorf("malformed first value: err = %v", err)
	}
	// A page merged under another page's key is refused (IDs must agree).
	pk := PageKey(testProject, pageB)
	pv := Canonical(vPage(T("10:00"), vHash1, "x", vBatch1))
	if _, err := MergeValue(pk, pv, pv); err == nil {
		t.Error("merged a page under another page's key")
	}
	if _, err := mergeRecords(&StatusData{}, &PageData{}); err == nil {
		t.Error("merged records of two kinds")
	}
}

func mustDecode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
