package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

func openTemp(t *testing.T, opts Options) *Workspace {
	t.Helper()
	t.Setenv("NIMBUS_EMAIL", "")
	w, err := OpenWith(filepath.Join(t.TempDir(), "nimbus.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	// The index is live from the start, so that every test's writes go
	// through the indexer and checkIndex checks them when it ends.
	if err := w.ensureIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			checkIndex(t, w)
		}
		w.Close()
	})
	return w
}

func get[T any](t *testing.T, w *Workspace, ns model.Namespace, key string) T {
	t.Helper()
	v, err := localstore.GetJSON[T](w.store, ns, key)
	if err != nil {
		t.Fatalf("get %s %s: %v", ns, key, err)
	}
	return v
}

func TestEnsureAccountBootstrapsOnceAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	w := openTemp(t, Options{UserAgent: "nimbus-desktop/9.9.9"})
	if _, err := w.Account(); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("fresh store Account() err = %v, want ErrNoAccount", err)
	}
	acc, err := w.EnsureAccount(ctx, " Ed@Example.COM ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(acc.UserID, "user_") || acc.Email != "ed@example.com" || !strings.HasPrefix(acc.SessionID, "sess_") {
		t.Fatalf("account %+v", acc)
	}
	u := get[model.UserData](t, w, model.NSUsers, model.UserKey(acc.UserID))
	if u.UserID != acc.UserID || u.Email != "ed@example.com" || u.Created == "" {
		t.Errorf("user record %+v", u)
	}
	e := get[model.EmailData](t, w, model.NSEmails, model.EmailKey("ed@example.com"))
	if e.UserID != acc.UserID {
		t.Errorf("email index %+v points elsewhere than %s", e, acc.UserID)
	}
	if raw, err := w.store.Get(model.NSUsers, model.ProjectsKey(acc.UserID)); err != nil || string(raw) != "[]" {
		t.Errorf("projects list = %q, %v; want []", raw, err)
	}
	s := get[model.SessionData](t, w, model.NSSessions, model.SessionKey(acc.SessionID))
	created, _ := model.ParseTime(s.Created)
	expires, _ := model.ParseTime(s.Expires)
	if s.IP != "127.0.0.1" || s.UserAgent != "nimbus-desktop/9.9.9" || s.UserID != acc.UserID || expires.Sub(created) != SessionLifetime {
		t.Errorf("session %+v", s)
	}

	// A second call, even with another email, returns the same account and
	// writes nothing: one account per store.
	again, err := w.EnsureAccount(ctx, "other@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if again != acc {
		t.Errorf("second EnsureAccount = %+v, want %+v", again, acc)
	}
	if n, _ := w.store.Count(model.NSEmails, ""); n != 1 {
		t.Errorf("%d email records, want 1", n)
	}
	if n, _ := w.store.Count(model.NSSessions, ""); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	got, err := w.Account()
	if err != nil || got != acc {
		t.Errorf("Account() = %+v, %v", got, err)
	}
}

func TestDefaultEmailFromEnvironment(t *testing.T) {
	t.Setenv("NIMBUS_EMAIL", "env@example.com")
	w, err := Open(filepath.Join(t.TempDir(), "n.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	acc, err := w.EnsureAccount(context.Background(), "")
	if err != nil || acc.Email != "env@example.com" {
		t.Fatalf("account %+v, %v", acc, err)
	}

	w2 := openTemp(t, Options{})
	acc, err = w2.EnsureAccount(context.Background(), "")
	if err != nil || acc.Email != DefaultEmail {
		t.Fatalf("account %+v, %v; want %s", acc, err, DefaultEmail)
	}
}

func TestExpiredSessionIsRenewedNotDeleted(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	past := time.Now().Add(-SessionLifetime - time.Hour)
	var first Account
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		var err error
		first, err = w.ensureAccount(tx, "", past)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := w.EnsureAccount(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if acc.SessionID == first.SessionID {
		t.Fatal("expired session was reused")
	}
	if n, _ := w.store.Count(model.NSSessions, ""); n != 2 {
		t.Errorf("%d sessions, want 2 (the expired one is kept)", n)
	}
}

func TestAdoptsPulledUserForSameEmail(t *testing.T) {
	w := openTemp(t, Options{Email: "ed@example.com"})
	ctx := context.Background()
	// As if a pull had brought this editor's records from another desktop.
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		if err := tx.PutJSON(model.NSEmails, model.EmailKey("ed@example.com"), model.EmailData{UserID: "user_aaaaaaaaaaaa", Created: model.Now()}); err != nil {
			return err
		}
		return tx.PutJSON(model.NSUsers, model.UserKey("user_aaaaaaaaaaaa"), model.UserData{UserID: "user_aaaaaaaaaaaa", Email: "ed@example.com", Created: model.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := w.EnsureAccount(ctx, "")
	if err != nil || acc.UserID != "user_aaaaaaaaaaaa" {
		t.Fatalf("account %+v, %v; want the pulled user", acc, err)
	}
}

func TestCreateProjectSeedShapeAndCurrent(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	if _, err := w.CurrentProject(); !errors.Is(err, ErrNoProject) {
		t.Fatalf("fresh store CurrentProject err = %v", err)
	}
	p, err := w.CreateProject(ctx, "example.com", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ProjectID) != len("proj_")+12 {
		t.Errorf("project id %q", p.ProjectID)
	}
	raw, err := w.store.Get(model.NSProjects, model.ProjectKey(p.ProjectID))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	settings, _ := m["settings"].(map[string]any)
	usage, _ := m["usage"].(map[string]any)
	want := map[string]any{"tone": "professional", "max_pages_per_batch": 1000.0, "default_concurrency": 5.0, "ai_model": "gpt-4o-mini", "domain": "example.com"}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("settings.%s = %v, want %v (stored %s)", k, settings[k], v, raw)
		}
	}
	if usage["total_pages"] != 0.0 || usage["total_batches"] != 0.0 || usage["last_activity"] == "" {
		t.Errorf("usage = %v", usage)
	}
	for _, k := range []string{"project_id", "user_id", "name", "created", "settings_updated"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("%s missing in %s", k, raw)
		}
	}
	acc, _ := w.Account()
	if list := get[[]string](t, w, model.NSUsers, model.ProjectsKey(acc.UserID)); len(list) != 1 || list[0] != p.ProjectID {
		t.Errorf("projects list %v", list)
	}
	cur, err := w.CurrentProject()
	if err != nil || cur.ProjectID != p.ProjectID {
		t.Errorf("current = %+v, %v", cur, err)
	}

	q, err := w.CreateProject(ctx, "second", ProjectOptions{Domain: "second.example", Tone: "casual"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Settings.Domain != "second.example" || q.Settings.Tone != "casual" {
		t.Errorf("options not applied: %+v", q.Settings)
	}
	list := get[[]string](t, w, model.NSUsers, model.ProjectsKey(acc.UserID))
	if len(list) != 2 || list[0] > list[1] {
		t.Errorf("projects list %v: want both, sorted", list)
	}
	ps, err := w.Projects()
	// Ordered by created, then ID: both were created in the same millisecond
	// here, so either may come first.
	if err != nil || len(ps) != 2 || ps[0].Created > ps[1].Created ||
		(ps[0].Created == ps[1].Created && ps[0].ProjectID > ps[1].ProjectID) ||
		(ps[0].ProjectID != p.ProjectID && ps[1].ProjectID != p.ProjectID) {
		t.Errorf("Projects() = %v, %v", ps, err)
	}
	if id, _ := w.CurrentProjectID(); id != q.ProjectID {
		t.Errorf("current after second create = %s", id)
	}
	if err := w.UseProject(ctx, p.ProjectID); err != nil {
		t.Fatal(err)
	}
	if id, _ := w.CurrentProjectID(); id != p.ProjectID {
		t.Errorf("current after use = %s", id)
	}
	if err := w.UseProject(ctx, "proj_000000000000"); !errors.Is(err, ErrNoProject) {
		t.Errorf("use unknown project err = %v", err)
	}
}

func TestCreateProjectRejects(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	if _, err := w.CreateProject(ctx, "  ", ProjectOptions{}); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := w.CreateProject(ctx, "a", ProjectOptions{Tone: "sarcastic"}); err == nil || !strings.Contains(err.Error(), "settings.tone") {
		t.Errorf("bad tone err = %v, want one naming settings.tone", err)
	}
	if _, err := w.CreateProject(ctx, "a", ProjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreateProject(ctx, "A", ProjectOptions{}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("duplicate name err = %v", err)
	}
	// The failed creations wrote nothing (one transaction each).
	if n, _ := w.store.Count(model.NSProjects, ""); n != 1 {
		t.Errorf("%d projects stored, want 1", n)
	}
}

func TestUpdateSettings(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "site", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := w.UpdateSettings(ctx, p.ProjectID, func(s *model.ProjectSettings) { s.Tone = "premium"; s.MainSelector = "#content" })
	if err != nil {
		t.Fatal(err)
	}
	if u.SettingsUpdated <= p.SettingsUpdated {
		t.Errorf("settings_updated %s not after %s", u.SettingsUpdated, p.SettingsUpdated)
	}
	got, _ := w.Project(p.ProjectID)
	if got.Settings.Tone != "premium" || got.Settings.MainSelector != "#content" {
		t.Errorf("stored settings %+v", got.Settings)
	}
	if _, err := w.UpdateSettings(ctx, p.ProjectID, func(s *model.ProjectSettings) { s.MaxPagesPerBatch = 0 }); err == nil {
		t.Error("invalid settings accepted")
	}
	if got, _ := w.Project(p.ProjectID); got.Settings.MaxPagesPerBatch != DefaultMaxPagesPerBatch {
		t.Errorf("invalid change was written: %+v", got.Settings)
	}
}

func TestAPIKeysStoreOnlyTheHash(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	key, hash, err := w.CreateAPIKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "sk_live_") || len(key) != len("sk_live_")+32 || hash != model.HashAPIKey(key) {
		t.Fatalf("key %q hash %q", key, hash)
	}
	// The key itself appears in no bucket.
	for _, ns := range model.Namespaces {
		err := w.store.List(ns, "", func(k string, v []byte) error {
			if strings.Contains(k, key) || strings.Contains(string(v), key) {
				t.Errorf("%s %s holds the API key", ns, k)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	kd := get[model.KeyData](t, w, model.NSKeys, model.APIKeyKey(hash))
	if !kd.Active || kd.Name != DefaultKeyName || kd.UserID == "" {
		t.Errorf("key data %+v", kd)
	}
	acc, _ := w.Account()
	if l := get[[]string](t, w, model.NSUsers, model.APIKeysKey(acc.UserID)); len(l) != 1 || l[0] != hash {
		t.Errorf("apikeys list %v", l)
	}
	_, hash2, err := w.CreateAPIKey(ctx, "CI")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := w.APIKeys()
	if err != nil || len(keys) != 2 {
		t.Fatalf("APIKeys() = %v, %v", keys, err)
	}

	d, err := w.DeactivateAPIKey(ctx, hash2)
	if err != nil || d.Active {
		t.Fatalf("deactivate: %+v, %v", d, err)
	}
	if kd := get[model.KeyData](t, w, model.NSKeys, model.APIKeyKey(hash2)); kd.Active || kd.Name != "CI" {
		t.Errorf("after deactivate: %+v", kd)
	}
	if _, err := w.DeactivateAPIKey(ctx, hash2); err != nil {
		t.Errorf("deactivating twice: %v", err)
	}
	if _, err := w.DeactivateAPIKey(ctx, "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, ErrNoKey) {
		t.Errorf("unknown key err = %v", err)
	}
	if n, _ := w.store.Count(model.NSKeys, ""); n != 2 {
		t.Errorf("%d key records, want 2 (nothing deleted)", n)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.db")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	_, err = Open(path)
	if !errors.Is(err, localstore.ErrLocked) || !strings.Contains(err.Error(), "open in another Nimbus window") {
		t.Fatalf("second open err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second open took %v", d)
	}
}

func TestLaterStampAdvancesPastPrevious(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := laterStamp("2026-01-02T03:04:05.000Z", now); got != "2026-01-02T03:04:05.001Z" {
		t.Errorf("same ms: %s", got)
	}
	if got := laterStamp("2027-01-01T00:00:00.000Z", now); got != "2027-01-01T00:00:00.001Z" {
		t.Errorf("future prev: %s", got)
	}
	if got := laterStamp("", now); got != "2026-01-02T03:04:05.000Z" {
		t.Errorf("no prev: %s", got)
	}
}

func TestRefreshUsageCountsTheMirror(t *testing.T) {
	w := openTemp(t, Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "site", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.CreateProject(ctx, "other", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := model.Now()
	ext := model.Extraction{Engine: "html", MainSelector: "main", Head: map[string]string{"title": "T"},
		Dimensions: map[string]string{}, AboveFoldBlocks: []model.Block{}, RestOfPageBlocks: []model.Block{}, SelectorMap: map[string]string{}}
	put := func(projectID, src string) {
		id := model.PageID(projectID, src)
		pg := model.PageData{PageID: id, ProjectID: projectID, BatchID: "batch_20260101_000000", SourcePath: src, Uploaded: now, Extraction: ext, ContentHash: model.ContentHash(ext)}
		if err := w.store.Update(ctx, func(tx *localstore.Tx) error {
			return tx.PutJSON(model.NSPages, model.PageKey(projectID, id), pg)
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(p.ProjectID, "dist/a.html")
	put(p.ProjectID, "dist/b.html")
	put(other.ProjectID, "dist/a.html")

	later := time.Now().Add(time.Hour)
	got, err := w.RefreshUsage(ctx, p.ProjectID, later)
	if err != nil {
		t.Fatal(err)
	}
	if got.Usage.TotalPages != 2 || got.Usage.TotalBatches != 0 || got.Usage.LastActivity != model.FormatTime(later) {
		t.Errorf("usage %+v", got.Usage)
	}
	if stored, _ := w.Project(p.ProjectID); stored.Usage != got.Usage {
		t.Errorf("stored usage %+v, returned %+v", stored.Usage, got.Usage)
	}
	// An older activity does not move last_activity back, and an unchanged
	// usage writes nothing (no sync state change).
	before, _, _ := w.store.SyncState(model.NSProjects, model.ProjectKey(p.ProjectID))
	again, err := w.RefreshUsage(ctx, p.ProjectID, time.Now().Add(-time.Hour))
	if err != nil || again.Usage != got.Usage {
		t.Fatalf("second refresh %+v, %v", again.Usage, err)
	}
	if after, _, _ := w.store.SyncState(model.NSProjects, model.ProjectKey(p.ProjectID)); after != before {
		t.Errorf("unchanged refresh touched sync state: %+v -> %+v", before, after)
	}
}

func TestDefaultDomainOnlyFromHostNames(t *testing.T) {
	for name, want := range map[string]string{
		"example.com":      "example.com",
		"Shop.Example.org": "shop.example.org",
		"bad name!":        "",
		"site":             "",
		"-bad.com":         "",
	} {
		if got := DefaultSettings(name, ProjectOptions{}).Domain; got != want {
			t.Errorf("DefaultSettings(%q).Domain = %q, want %q", name, got, want)
		}
	}
	if got := DefaultSettings("site", ProjectOptions{Domain: "site.example"}).Domain; got != "site.example" {
		t.Errorf("an explicit domain was replaced: %q", got)
	}
}

func TestLaterStampWithinTheSameMillisecond(t *testing.T) {
	prev := "2026-11-27T02:03:25.546Z"
	now, _ := model.ParseTime("2026-11-27T02:03:25.546400Z")
	if got := laterStamp(prev, now); got != "2026-11-27T02:03:25.547Z" {
		t.Fatalf("laterStamp(%s, +0.4 ms) = %s, want one millisecond later", prev, got)
	}
	now, _ = model.ParseTime("2026-11-27T02:03:26Z")
	if got := laterStamp(prev, now); got != "2026-11-27T02:03:26.000Z" {
		t.Fatalf("laterStamp with a later clock = %s", got)
	}
}
