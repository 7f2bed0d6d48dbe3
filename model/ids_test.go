package model

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The expected page IDs are md5 sums computed outside Go, in the shell:
//
//	printf '%s' 'proj_a1b2c3d4e5f6dist/local/a.html' | md5sum            -> a4416aa756423320488c7ec485d3ecc8
//	printf '%s' 'proj_a1b2c3d4e5f6dist/local/rolex-repair.html' | md5sum -> 33336a53133e2d0840ad249534957359
//	printf '%s' 'proj_a1b2c3d4e5f6dist/local/café.html' | md5sum (NFC é) -> 46964140f7e45fcc1bef7372e3505616
func TestPageIDPinnedToMD5Rule(t *testing.T) {
	cases := []struct{ path, want string }{
		{"dist/local/a.html", "page_a4416aa75642"},
		{"dist/local/rolex-repair.html", "page_33336a53133e"},
		{"dist/local/caf\u00e9.html", "page_46964140f7e4"},
	}
	for _, c := range cases {
		if got := PageID(testProject, c.path); got != c.want {
			t.Errorf("PageID(%s, %s) = %s, want %s", testProject, c.path, got, c.want)
		}
	}
}

func TestPageIDIgnoresSeparatorsAndUnicodeForm(t *testing.T) {
	nfc := "dist/local/caf\u00e9.html"
	same := []string{
		nfc,
		"dist/local/cafe\u0301.html", // NFD: e + combining acute
		`dist\local\café.html`,
		`dist\local\cafe` + "\u0301" + `.html`,
		"./dist/local/café.html",
		"/dist//local/./café.html",
	}
	want := PageID(testProject, nfc)
	for _, p := range same {
		if got := PageID(testProject, p); got != want {
			t.Errorf("PageID(%q) = %s, want %s (same page as %q)", p, got, want, nfc)
		}
	}
	if PageID(testProject, "dist/local/a.html") == PageID("proj_000000000000", "dist/local/a.html") {
		t.Error("page IDs of two projects collide")
	}
}

func TestNormalizeSourcePath(t *testing.T) {
	cases := map[string]string{
		`dist\local\a.html`:     "dist/local/a.html",
		"./dist/a.html":         "dist/a.html",
		"/dist/a.html":          "dist/a.html",
		"dist/x/../a.html":      "dist/a.html",
		"dist//a.html":          "dist/a.html",
		"cafe\u0301/a.html":     "caf\u00e9/a.html",
		"":                      "",
		"dist/a b/Ünïcødé.html": "dist/a b/Ünïcødé.html",
	}
	for in, want := range cases {
		if got := NormalizeSourcePath(in); got != want {
			t.Errorf("NormalizeSourcePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourcePathRelativeToWatchedFolderParent(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "site", "dist")
	file := filepath.Join(root, "local", "rolex-repair.html")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := SourcePath(root, file)
	if err != nil {
		t.Fatal(err)
	}
	if got != "dist/local/rolex-repair.html" {
		t.Errorf("SourcePath = %q, want dist/local/rolex-repair.html", got)
	}
	// A trailing separator on the root changes nothing.
	if got2, _ := SourcePath(root+string(filepath.Separator), file); got2 != got {
		t.Errorf("with trailing separator: %q, want %q", got2, got)
	}
	// Relative arguments resolve against the working directory.
	t.Chdir(filepath.Join(dir, "site"))
	if got3, err := SourcePath("dist", filepath.Join("dist", "local", "rolex-repair.html")); err != nil || got3 != got {
		t.Errorf("relative: %q, %v; want %q", got3, err, got)
	}
	if _, err := SourcePath(root, filepath.Join(dir, "elsewhere", "a.html")); err == nil {
		t.Error("a file outside the watched folder's parent got a source path")
	}
}

func TestBatchID(t *testing.T) {
	at := time.Date(2024, 9, 2, 15, 45, 0, 0, time.FixedZone("CEST", 2*3600))
	if got := BatchID(at); got != "batch_20240902_134500" {
		t.Errorf("BatchID = %s, want batch_20240902_134500 (UTC)", got)
	}
	if !regexp.MustCompile(`^batch_\d{8}_\d{6}$`).MatchString(BatchID(time.Now())) {
		t.Errorf("BatchID(now) = %s, wrong format", BatchID(time.Now()))
	}
	taken := map[string]bool{"batch_20240902_134500": true, "batch_20240902_134501": true}
	if got := NextBatchID(at, func(id string) bool { return taken[id] }); got != "batch_20240902_134502" {
		t.Errorf("NextBatchID = %s, want the next free second batch_20240902_134502", got)
	}
	if got := NextBatchID(at, nil); got != "batch_20240902_134500" {
		t.Errorf("NextBatchID(nil) = %s", got)
	}
	// Across a minute boundary.
	taken = map[string]bool{"batch_20240902_134559": true}
	if got := NextBatchID(at.Add(59*time.Second), func(id string) bool { return taken[id] }); got != "batch_20240902_134600" {
		t.Errorf("NextBatchID over a minute = %s", got)
	}
}

func TestGeneratedIDs(t *testing.T) {
	checks := []struct {
		name string
		gen  func() string
		re   string
	}{
		{"project", NewProjectID, `^proj_[0-9a-f]{12}$`},
		{"user", NewUserID, `^user_[0-9a-f]{12}$`},
		{"session", NewSessionID, `^sess_[0-9a-f]{32}$`},
	}
	for _, c := range checks {
		re := regexp.MustCompile(c.re)
		seen := map[string]bool{}
		for i := 0; i < 100; i++ {
			id := c.gen()
			if !re.MatchString(id) {
				t.Fatalf("%s ID %q does not match %s", c.name, id, c.re)
			}
			if seen[id] {
				t.Fatalf("%s ID %q repeated", c.name, id)
			}
			seen[id] = true
		}
	}
}

func TestAPIKey(t *testing.T) {
	key, hash := NewAPIKey()
	if !regexp.MustCompile(`^sk_live_[0-9a-f]{32}$`).MatchString(key) {
		t.Errorf("key %q is not sk_live_ + 32 hex", key)
	}
	if hash != HashAPIKey(key) || !reKeyHash.MatchString(hash) {
		t.Errorf("hash %q is not sha256:<hex> of the key", hash)
	}
	if strings.Contains(hash, key) {
		t.Error("the stored hash contains the key")
	}
	// Pinned outside Go: printf '%s' sk_live_00000000000000000000000000000000 | sha256sum
	const apiKeyZeroHash = "sha256:56fb575e1d5a51d0214e41b6775ced81e47fdd570731e41ce3831447b0ec28ff"
	if got := HashAPIKey("sk_live_00000000000000000000000000000000"); got != apiKeyZeroHash {
		t.Errorf("HashAPIKey(zero key) = %s, want %s", got, apiKeyZeroHash)
	}
	k2, _ := NewAPIKey()
	if k2 == key {
		t.Error("two keys are equal")
	}
}

func TestParseKeyRoundTrip(t *testing.T) {
	keys := []string{
		UserKey("user_12345"), ProjectsKey("user_12345"), APIKeysKey("user_12345"), ProjectKey(testProject),
		APIKeyKey(testHash), EmailKey("a@example.com"), CacheKey("abc123"), SessionKey("sess_1"), QueueKey(testProject),
		PageKey(testProject, pageA), ReviewKey(testProject, pageA), BatchKey(testProject, testBatch),
		StatusKey(testProject, pageA), LogsKey(testProject, pageA),
	}
	wantNS := []Namespace{NSUsers, NSUsers, NSUsers, NSProjects, NSKeys, NSEmails, NSCache, NSSessions, NSQueue, NSPages, NSPages, NSBatches, NSStatus, NSLogs}
	for i, s := range keys {
		k, err := ParseKey(s)
		if err != nil {
			t.Errorf("ParseKey(%q): %v", s, err)
			continue
		}
		if k.String() != s {
			t.Errorf("ParseKey(%q).String() = %q", s, k.String())
		}
		if k.Namespace() != wantNS[i] {
			t.Errorf("%s in %s, want %s", s, k.Namespace(), wantNS[i])
		}
	}
	k, _ := ParseKey(APIKeyKey(testHash))
	if k.ID != testHash {
		t.Errorf("apikey ID = %q, want the whole hash with its colon", k.ID)
	}
	k, _ = ParseKey(PageKey(testProject, pageA))
	if k.ID != testProject || k.Secondary != pageA {
		t.Errorf("page key parsed as %+v", k)
	}
	if ProjectPrefix(KindPage, testProject) != "page:"+testProject+":" || ProjectPrefix(KindQueue, testProject) != "queue:"+testProject {
		t.Error("ProjectPrefix")
	}
}

func TestParseKeyRejects(t *testing.T) {
	bad := []string{"", "page", "nope:x", "user:", "page:proj_x", "page:proj_x:", "page::page_x", "page:a:b:c", "status:a"}
	for _, s := range bad {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
	long := "cache:" + strings.Repeat("x", MaxKeyBytes-len("cache:"))
	if _, err := ParseKey(long); err != nil {
		t.Errorf("a key of exactly %d bytes: %v", MaxKeyBytes, err)
	}
	_, err := ParseKey(long + "x")
	if !errors.Is(err, ErrKeyTooLong) {
		t.Errorf("a %d-byte key: err = %v, want ErrKeyTooLong", len(long)+1, err)
	}
	if _, err := NamespaceOfKey(long + "x"); err == nil {
		t.Error("NamespaceOfKey accepted a long key")
	}
}

func TestContentHashStable(t *testing.T) {
	e := Extraction{Engine: "html", Head: map[string]string{"b": "2", "a": "1"}, AboveFoldBlocks: []Block{{ID: "block-0", Type: "h1", Content: "x"}}}
	h := ContentHash(e)
	if !reHex64.MatchString(h) {
		t.Fatalf("ContentHash = %q", h)
	}
	e2 := Extraction{Engine: "html", Head: map[string]string{"a": "1", "b": "2"}, AboveFoldBlocks: []Block{{ID: "block-0", Type: "h1", Content: "x"}}}
	if ContentHash(e2) != h {
		t.Error("map insertion order changed the content hash")
	}
	e2.AboveFoldBlocks[0].Content = "y"
	if ContentHash(e2) == h {
		t.Error("a content change kept the hash")
	}
}
