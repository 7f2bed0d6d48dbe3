package localstore

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// Valid records of every kind, as the seed shapes them.

const (
	testUser    = "user_alice01"
	testProject = "proj_0123456789ab"
	testBatch   = "batch_20261126_120000"
	testStamp   = "2026-11-26T12:00:00.000Z"
	testStamp2  = "2026-11-26T12:05:00.000Z"
	testKeyHash = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
)

func testPageID(path string) string { return model.PageID(testProject, path) }

// testPage returns a realistic page: head metadata, dimensions, a selector
// map and nBlocks content blocks split above/below the fold.
func testPage(sourcePath string, nBlocks int, variant string) model.PageData {
	blocks := make([]model.Block, nBlocks)
	sel := make(map[string]string, nBlocks)
	for i := range blocks {
		typ := "p"
		switch {
		case i == 0:
			typ = "h1"
		case i%5 == 0:
			typ = "h2"
		}
		id := fmt.Sprintf("block-%d", i)
		blocks[i] = model.Block{
			ID:   id,
			Type: typ,
			Content: fmt.Sprintf("Expert Rolex watch repair in Birmingham %s: block %d covers servicing, "+
				"movement overhaul, crystal replacement and water resistance testing by certified watchmakers.", variant, i),
		}
		sel[id] = fmt.Sprintf("main > section:nth-of-type(%d) > %s", i/5+1, typ)
	}
	fold := min(4, nBlocks)
	e := model.Extraction{
		Engine:       "nimbus-go/1",
		MainSelector: "main",
		Head: map[string]string{
			"title":           "Rolex Repair Birmingham | Watch Service " + variant,
			"metaDescription": "Certified Rolex repair and servicing in Birmingham. Free quote, 2-year warranty.",
			"canonical":       "https://example.com/" + sourcePath,
			"lang":            "en-GB",
			"og:title":        "Rolex Repair Birmingham",
		},
		Dimensions:       map[string]string{"location": "birmingham", "brand": "rolex", "service": "repair"},
		AboveFoldBlocks:  blocks[:fold],
		RestOfPageBlocks: blocks[fold:],
		SelectorMap:      sel,
	}
	return model.PageData{
		PageID:      model.PageID(testProject, sourcePath),
		ProjectID:   testProject,
		SourcePath:  sourcePath,
		Uploaded:    testStamp,
		Extraction:  e,
		ContentHash: model.ContentHash(e),
	}
}

func testProjectData(name string) model.ProjectData {
	return model.ProjectData{
		ProjectID: testProject,
		UserID:    testUser,
		Name:      name,
		Created:   testStamp,
		Settings: model.ProjectSettings{
			Tone: "professional", MaxPagesPerBatch: 1000, DefaultConcurrency: 5,
			AIModel: "claude-sonnet", Domain: "example.com",
		},
	}
}

type record struct {
	name  string
	ns    model.Namespace
	key   string
	value []byte
}

// everyKind returns one valid record of each of the fourteen key kinds.
func everyKind(t testing.TB) []record {
	t.Helper()
	pagePath := "dist/local/birmingham/rolex-repair.html"
	pageID := testPageID(pagePath)
	enc := func(v any) []byte { return model.Canonical(v) }
	cache, err := json.Marshal(map[string]string{"answer": "42"})
	if err != nil {
		t.Fatal(err)
	}
	return []record{
		{"user", model.NSUsers, model.UserKey(testUser), enc(model.UserData{UserID: testUser, Email: "alice@example.com", Created: testStamp})},
		{"projects", model.NSUsers, model.ProjectsKey(testUser), enc(model.ProjectsList{testProject})},
		{"apikeys", model.NSUsers, model.APIKeysKey(testUser), enc(model.ApiKeysList{testKeyHash})},
		{"project", model.NSProjects, model.ProjectKey(testProject), enc(testProjectData("example.com"))},
		{"apikey", model.NSKeys, model.APIKeyKey(testKeyHash), enc(model.KeyData{UserID: testUser, Created: testStamp, Active: true, Name: "ci"})},
		{"email", model.NSEmails, model.EmailKey("alice@example.com"), enc(model.EmailData{UserID: testUser, Created: testStamp})},
		{"cache", model.NSCache, model.CacheKey("abc123"), enc(model.CacheData{Data: cache, Created: testStamp, Expires: testStamp2, Type: "ai"})},
		{"session", model.NSSessions, model.SessionKey("sess_1"), enc(model.SessionData{UserID: testUser, Email: "alice@example.com", Created: testStamp, Expires: testStamp2})},
		{"page", model.NSPages, model.PageKey(testProject, pageID), enc(testPage(pagePath, 20, "a"))},
		{"review", model.NSPages, model.ReviewKey(testProject, pageID), enc(model.ReviewData{PageID: pageID, ProjectID: testProject,
			Blocks: map[string]model.ReviewDecision{"block-0": {State: model.ReviewAccepted, Text: "New heading", Decided: testStamp}}, Updated: testStamp})},
		{"batch", model.NSBatches, model.BatchKey(testProject, testBatch), enc(model.BatchData{BatchID: testBatch, ProjectID: testProject, Created: testStamp,
			PageCount: 1, Status: model.BatchQueued, Pages: map[string]model.BatchPage{pageID: {Status: model.StatusQueued, Uploaded: testStamp}},
			Summary: model.BatchSummary{Pending: 1}})},
		{"queue", model.NSQueue, model.QueueKey(testProject), enc(model.QueueData{Items: []model.QueueItem{{PageID: pageID, BatchID: testBatch, Priority: 5, QueuedAt: testStamp}}})},
		{"status", model.NSStatus, model.StatusKey(testProject, pageID), enc(model.StatusData{Status: model.StatusQueued, BatchID: testBatch, Updated: testStamp})},
		{"logs", model.NSLogs, model.LogsKey(testProject, pageID), enc(model.LogData{PageID: pageID, Entries: []model.LogEntry{{Timestamp: testStamp, Level: model.LevelInfo, Step: "queue", Message: "queued"}}})},
	}
}

// openTest opens a store in a fresh temp dir and closes it at cleanup.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "nimbus.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// statusValue is a valid status record for page pageID with the given stamp,
// so tests can write distinct values to one key.
func statusValue(status, updated string) []byte {
	return model.Canonical(model.StatusData{Status: status, BatchID: testBatch, Updated: updated})
}
