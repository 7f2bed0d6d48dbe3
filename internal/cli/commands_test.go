package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// ok runs a command that must succeed and returns its stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := nimbus(t, args...)
	if code != 0 {
		t.Fatalf("nimbus %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func TestProjectCreateThenKVListShowsSeedShape(t *testing.T) {
	store := tempStore(t)
	out := ok(t, "--store", store, "project", "create", "--name", "example.com")
	if !strings.Contains(out, "created project proj_") {
		t.Errorf("create output %q", out)
	}
	keys := ok(t, "--store", store, "kv", "list", "NIMBUS_PROJECTS")
	lines := strings.Fields(keys)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "project:proj_") {
		t.Fatalf("kv list keys %q", keys)
	}
	entries := decode[[]kvEntry](t, ok(t, "--store", store, "--json", "kv", "list", "NIMBUS_PROJECTS"))
	if len(entries) != 1 || entries[0].Key != lines[0] {
		t.Fatalf("kv list --json %+v", entries)
	}
	var p model.ProjectData
	dec := json.NewDecoder(strings.NewReader(string(entries[0].Value)))
	dec.DisallowUnknownFields() // the stored JSON is exactly the seed's ProjectData (+ settings_updated)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("stored project %s: %v", entries[0].Value, err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s := p.Settings
	if s.Tone != "professional" || s.MaxPagesPerBatch != 1000 || s.DefaultConcurrency != 5 || s.AIModel != "gpt-4o-mini" || s.Domain != "example.com" {
		t.Errorf("settings %+v are not the seed defaults", s)
	}
	if "project:"+p.ProjectID != entries[0].Key {
		t.Errorf("key %s holds project %s", entries[0].Key, p.ProjectID)
	}

	// the account was bootstrapped with the default email
	users := ok(t, "--store", store, "kv", "list", "users")
	if !strings.Contains(users, "user:"+p.UserID) || !strings.Contains(users, "projects:"+p.UserID) {
		t.Errorf("NIMBUS_USERS keys %q", users)
	}
	if got := ok(t, "--store", store, "kv", "list", "NIMBUS_EMAILS"); strings.TrimSpace(got) != "email:"+workspace.DefaultEmail {
		t.Errorf("NIMBUS_EMAILS keys %q", got)
	}

	// kv get pretty-prints the same value
	pretty := ok(t, "--store", store, "kv", "get", "NIMBUS_PROJECTS", entries[0].Key)
	if !strings.Contains(pretty, "\n  \"settings\": {\n") {
		t.Errorf("kv get is not indented JSON: %q", pretty)
	}
	if got := decode[model.ProjectData](t, pretty); got.ProjectID != p.ProjectID {
		t.Errorf("kv get returned %+v", got)
	}
}

func TestProjectListShowUse(t *testing.T) {
	store := tempStore(t)
	t.Setenv("NIMBUS_STORE", "") // nimbus() clears it too; --store is the only source here
	if out := ok(t, "--store", store, "project", "list"); !strings.Contains(out, "no projects yet") {
		t.Errorf("empty list output %q", out)
	}
	a := decode[model.ProjectData](t, ok(t, "--store", store, "--json", "project", "create", "--name", "a.example", "--tone", "premium"))
	b := decode[model.ProjectData](t, ok(t, "--store", store, "project", "create", "--json", "--name=b.example", "--domain", "www.b.example"))
	if a.Settings.Tone != "premium" || b.Settings.Domain != "www.b.example" {
		t.Errorf("flags not applied: %+v %+v", a.Settings, b.Settings)
	}
	list := decode[[]projectJSON](t, ok(t, "--store", store, "project", "list", "--json"))
	// Oldest first; two projects created in the same millisecond (the
	// stamps' precision) are in ID order, so look them up by ID.
	byID := map[string]projectJSON{}
	for _, p := range list {
		byID[p.ProjectID] = p
	}
	if len(list) != 2 || byID[a.ProjectID].Current || !byID[b.ProjectID].Current {
		t.Fatalf("list %+v: want a and b, b current", list)
	}
	if a.Created < b.Created && list[0].ProjectID != a.ProjectID {
		t.Fatalf("list %+v: want the older project first", list)
	}
	if cur := decode[model.ProjectData](t, ok(t, "--store", store, "--json", "project", "show")); cur.ProjectID != b.ProjectID {
		t.Errorf("show without ID = %s, want current %s", cur.ProjectID, b.ProjectID)
	}
	ok(t, "--store", store, "project", "use", a.ProjectID)
	text := ok(t, "--store", store, "project", "list")
	if !strings.Contains(text, "*  "+a.ProjectID) {
		t.Errorf("list does not mark %s current:\n%s", a.ProjectID, text)
	}
	if show := ok(t, "--store", store, "project", "show", b.ProjectID); !strings.Contains(show, "www.b.example") {
		t.Errorf("show %s: %q", b.ProjectID, show)
	}

	_, errOut, code := nimbus(t, "--store", store, "project", "use", "proj_000000000000")
	if code != 1 || !strings.Contains(errOut, "proj_000000000000 is not in this store") {
		t.Errorf("use unknown: exit %d stderr %q", code, errOut)
	}
	_, errOut, code = nimbus(t, "--store", store, "project", "create", "--name", "a.example")
	if code != 1 || !strings.Contains(errOut, "exists already") {
		t.Errorf("duplicate create: exit %d stderr %q", code, errOut)
	}
	_, errOut, code = nimbus(t, "--store", store, "project", "create", "--name", "c", "--tone", "snarky")
	if code != 1 || !strings.Contains(errOut, "settings.tone") {
		t.Errorf("bad tone: exit %d stderr %q", code, errOut)
	}
}

func TestNoCurrentProject(t *testing.T) {
	_, errOut, code := nimbus(t, "--store", tempStore(t), "project", "show")
	if code != 1 || !strings.Contains(errOut, "no current project") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestKeyCreateShowsKeyOnceStoresOnlyHash(t *testing.T) {
	store := tempStore(t)
	out, errOut, code := nimbus(t, "--store", store, "key", "create", "--name", "Production Key")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "not shown again") {
		t.Errorf("no warning on stderr: %q", errOut)
	}
	key := strings.Fields(out)[0]
	if !strings.HasPrefix(key, "sk_live_") || len(key) != 40 {
		t.Fatalf("printed key %q", key)
	}
	hash := model.HashAPIKey(key)
	if !strings.Contains(out, hash) {
		t.Errorf("output lacks the hash %s: %q", hash, out)
	}
	keys := ok(t, "--store", store, "kv", "list", "NIMBUS_KEYS")
	if strings.TrimSpace(keys) != "apikey:"+hash {
		t.Errorf("NIMBUS_KEYS keys %q, want only apikey:%s", keys, hash)
	}
	// The key appears nowhere in the store, and never again in any output.
	for _, ns := range model.Namespaces {
		if dump := ok(t, "--store", store, "--json", "kv", "list", string(ns)); strings.Contains(dump, key) {
			t.Errorf("%s holds the key", ns)
		}
	}
	listed := ok(t, "--store", store, "key", "list")
	if strings.Contains(listed, key) || !strings.Contains(listed, hash) || !strings.Contains(listed, "Production Key") || !strings.Contains(listed, "active") {
		t.Errorf("key list %q", listed)
	}

	j := decode[map[string]string](t, ok(t, "--store", store, "--json", "key", "create"))
	if !strings.HasPrefix(j["key"], "sk_live_") || j["hash"] != model.HashAPIKey(j["key"]) || j["warning"] == "" {
		t.Errorf("key create --json %v", j)
	}

	// deactivate by full hash and by bare hex; records stay
	deact := decode[workspace.APIKey](t, ok(t, "--store", store, "--json", "key", "deactivate", hash))
	if deact.Data.Active || deact.Hash != hash {
		t.Errorf("deactivate --json %+v", deact)
	}
	ok(t, "--store", store, "key", "deactivate", strings.TrimPrefix(j["hash"], "sha256:"))
	all := decode[[]workspace.APIKey](t, ok(t, "--store", store, "--json", "key", "list"))
	if len(all) != 2 || all[0].Data.Active || all[1].Data.Active {
		t.Errorf("after deactivation: %+v", all)
	}
	_, errOut, code = nimbus(t, "--store", store, "key", "deactivate", key)
	if code != 2 || !strings.Contains(errOut, "not the key") {
		t.Errorf("deactivate with the key itself: exit %d %q", code, errOut)
	}
	_, errOut, code = nimbus(t, "--store", store, "key", "deactivate", "sha256:"+strings.Repeat("ab", 32))
	if code != 1 || !strings.Contains(errOut, "no such API key") {
		t.Errorf("deactivate unknown: exit %d %q", code, errOut)
	}
}

func TestKeyListEmpty(t *testing.T) {
	store := tempStore(t)
	if out := ok(t, "--store", store, "--json", "key", "list"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty key list --json = %q", out)
	}
	if out := ok(t, "--store", store, "key", "list"); !strings.Contains(out, "no API keys yet") {
		t.Errorf("empty key list = %q", out)
	}
}

func TestKVErrors(t *testing.T) {
	store := tempStore(t)
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"kv", "list"}, 2, "need NAMESPACE"},
		{[]string{"kv", "list", "NIMBUS_NOPE"}, 2, `unknown namespace "NIMBUS_NOPE"`},
		{[]string{"kv", "get", "pages"}, 2, "need NAMESPACE and KEY"},
		{[]string{"kv", "get", "pages", "page:proj_000000000000:page_000000000000"}, 1, `NIMBUS_PAGES has no key "page:proj_000000000000:page_000000000000"`},
		{[]string{"kv"}, 2, "kv needs a subcommand: get, list"},
		{[]string{"project", "create"}, 2, "--name is required"},
		{[]string{"project", "create", "--name", "x", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"project", "use"}, 2, "exactly one PROJECT_ID"},
	}
	for _, c := range cases {
		_, errOut, code := nimbus(t, append([]string{"--store", store}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.stderr) {
			t.Errorf("%v: exit %d stderr %q; want %d with %q", c.args, code, errOut, c.code, c.stderr)
		}
	}
	if out := ok(t, "--store", store, "kv", "list", "pages"); out != "" {
		t.Errorf("empty namespace lists %q", out)
	}
}

func TestParseNamespace(t *testing.T) {
	for in, want := range map[string]model.Namespace{"NIMBUS_PAGES": model.NSPages, "pages": model.NSPages, "nimbus_logs": model.NSLogs, "Keys": model.NSKeys} {
		if got, err := parseNamespace(in); err != nil || got != want {
			t.Errorf("parseNamespace(%q) = %q, %v", in, got, err)
		}
	}
}

// The path pattern and every other setting can be set headless, checked by
// the same code as the GUI's Settings: a bad value is refused with the
// setting named, and changes nothing.
func TestProjectPathPatternAndSet(t *testing.T) {
	store := tempStore(t)
	p := decode[model.ProjectData](t, ok(t, "--store", store, "--json", "project", "create", "--name", "timekeepers.example",
		"--path-pattern", "local/{location}/{brand}-{service}.html"))
	if p.Settings.PathPattern != "local/{location}/{brand}-{service}.html" {
		t.Fatalf("created with path pattern %q", p.Settings.PathPattern)
	}
	_, errOut, code := nimbus(t, "--store", store, "project", "create", "--name", "other.example", "--path-pattern", "local/no-placeholder.html")
	if code != 1 || !strings.Contains(errOut, "path_pattern") {
		t.Fatalf("bad pattern on create: exit %d, %q", code, errOut)
	}
	if out := ok(t, "--store", store, "project", "list"); strings.Contains(out, "other.example") {
		t.Fatalf("a project was created despite its bad pattern:\n%s", out)
	}
	out := ok(t, "--store", store, "project", "set", "tone=casual", "max_pages_per_batch=250", "dimension_sources=path,meta")
	if !strings.Contains(out, "tone = casual") {
		t.Fatalf("project set: %q", out)
	}
	got := decode[model.ProjectData](t, ok(t, "--store", store, "--json", "project", "show"))
	if got.Settings.Tone != "casual" || got.Settings.MaxPagesPerBatch != 250 || strings.Join(got.Settings.DimensionSources, ",") != "path,meta" {
		t.Fatalf("settings after set: %+v", got.Settings)
	}
	for _, c := range []struct{ arg, want string }{
		{"path_pattern=local/plain.html", "path_pattern"},
		{"max_pages_per_batch=lots", "max_pages_per_batch"},
		{"tone=shouty", "settings.tone"},
		{"main_selector=main[", "main_selector"},
		{"colour=blue", `no setting "colour"`},
	} {
		_, errOut, code := nimbus(t, "--store", store, "project", "set", c.arg)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("project set %s: exit %d, %q (want the error to name %s)", c.arg, code, errOut, c.want)
		}
	}
	if _, _, code := nimbus(t, "--store", store, "project", "set", "tone"); code != 2 {
		t.Errorf("project set without =: exit %d, want 2", code)
	}
	after := decode[model.ProjectData](t, ok(t, "--store", store, "--json", "project", "show"))
	if after.Settings.PathPattern != p.Settings.PathPattern || after.Settings.Tone != "casual" {
		t.Errorf("a refused set changed the settings: %+v", after.Settings)
	}
}
