package model

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// Fixed IDs used across the tests. pageA/pageB follow the md5 rule for
// (testProject, "dist/local/a.html") and (testProject, "dist/local/b.html").
const (
	testProject = "proj_a1b2c3d4e5f6"
	pageA       = "page_a4416aa75642"
	pageB       = "page_32325b7572dc"
	testBatch   = "batch_20240902_134500"
	testHash    = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	hex64a      = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// validValues holds one valid value for every key kind.
var validValues = map[string]string{
	"user:user_12345":     `{"user_id":"user_12345","email":"a@example.com","created":"2024-09-02T13:45:00.000Z"}`,
	"projects:user_12345": `["proj_a1b2c3d4e5f6","proj_000000000000"]`,
	"apikeys:user_12345":  `["` + testHash + `"]`,
	"project:" + testProject: `{"project_id":"` + testProject + `","user_id":"user_12345","name":"example.com","created":"2024-09-02T13:45:00.000Z",
		"settings":{"tone":"professional","max_pages_per_batch":1000,"default_concurrency":5,"ai_model":"gpt-4","domain":"example.com"},
		"usage":{"total_pages":0,"total_batches":0,"last_activity":""}}`,
	"apikey:" + testHash:  `{"user_id":"user_12345","created":"2024-09-02T13:45:00.000Z","last_used":"","active":true,"name":"Production Key","usage":{"requests_today":0,"requests_total":0}}`,
	"email:a@example.com": `{"user_id":"user_12345","created":"2024-09-02T13:45:00.000Z"}`,
	"cache:abc":           `{"data":{"x":1},"created":"2024-09-02T13:45:00.000Z","expires":"2024-09-03T13:45:00.000Z","type":"ai_response"}`,
	"session:sess_1":      `{"user_id":"user_12345","email":"a@example.com","created":"2024-09-02T13:45:00.000Z","expires":"2024-09-03T13:45:00.000Z","ip":"127.0.0.1","user_agent":"x"}`,
	"page:" + testProject + ":" + pageA: `{"page_id":"` + pageA + `","project_id":"` + testProject + `","batch_id":"` + testBatch + `","source_path":"dist/local/a.html","uploaded":"2024-09-02T13:45:00.000Z",
		"extraction":{"engine":"html","main_selector":"main","head":{"title":"T"},"dimensions":{},"above_fold_blocks":[{"id":"block-0","type":"h1","content":"Hi"}],"rest_of_page_blocks":[],"selector_map":{"block-0":"main > h1"}},
		"optimization":{"completed":"2024-09-02T13:50:00.000Z","model":"gpt-4","confidence":0.9,"changes":1,"optimized_blocks":[{"id":"block-0","type":"h1","content":"Hi","optimized_content":"Hello"}],"source_hash":"` + hex64a + `"},
		"content_hash":"` + hex64a + `"}`,
	"review:" + testProject + ":" + pageA: `{"page_id":"` + pageA + `","project_id":"` + testProject + `","blocks":{"block-0":{"state":"accepted","text":"Hello","decided":"2024-09-02T14:00:00.000Z"}},"updated":"2024-09-02T14:00:00.000Z"}`,
	"batch:" + testProject + ":" + testBatch: `{"batch_id":"` + testBatch + `","project_id":"` + testProject + `","created":"2024-09-02T13:45:00.000Z","page_count":1,"status":"queued",
		"pages":{"` + pageA + `":{"status":"queued","uploaded":"2024-09-02T13:45:00.000Z"}},"summary":{"completed":0,"failed":0,"pending":1,"average_time_ms":0}}`,
	"queue:" + testProject:                `{"items":[{"page_id":"` + pageA + `","batch_id":"` + testBatch + `","priority":5,"queued_at":"2024-09-02T13:45:00.000Z","attempts":0}],"last_processed":""}`,
	"status:" + testProject + ":" + pageA: `{"status":"processing","batch_id":"` + testBatch + `","updated":"2024-09-02T13:46:00.000Z","processing":{"started":"2024-09-02T13:46:00.000Z","current_step":"ai_optimization","progress":50}}`,
	"logs:" + testProject + ":" + pageA:   `{"page_id":"` + pageA + `","entries":[{"timestamp":"2024-09-02T13:45:00.000Z","level":"info","step":"upload","message":"uploaded","duration_ms":12}]}`,
}

func TestDecodeValueValid(t *testing.T) {
	want := map[Kind]string{
		KindUser: "*model.UserData", KindProjects: "*model.ProjectsList", KindAPIKeys: "*model.ApiKeysList",
		KindProject: "*model.ProjectData", KindAPIKey: "*model.KeyData", KindEmail: "*model.EmailData",
		KindCache: "*model.CacheData", KindSession: "*model.SessionData", KindPage: "*model.PageData",
		KindReview: "*model.ReviewData", KindBatch: "*model.BatchData", KindQueue: "*model.QueueData",
		KindStatus: "*model.StatusData", KindLogs: "*model.LogData",
	}
	seen := map[Kind]bool{}
	for key, val := range validValues {
		rec, err := DecodeValue(key, []byte(val))
		if err != nil {
			t.Errorf("DecodeValue(%s): %v", key, err)
			continue
		}
		k, _ := ParseKey(key)
		seen[k.Kind] = true
		if got := typeName(rec); got != want[k.Kind] {
			t.Errorf("DecodeValue(%s) gave %s, want %s", key, got, want[k.Kind])
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("no valid sample for kind %s", k)
		}
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *UserData:
		return "*model.UserData"
	case *ProjectsList:
		return "*model.ProjectsList"
	case *ApiKeysList:
		return "*model.ApiKeysList"
	case *ProjectData:
		return "*model.ProjectData"
	case *KeyData:
		return "*model.KeyData"
	case *EmailData:
		return "*model.EmailData"
	case *CacheData:
		return "*model.CacheData"
	case *SessionData:
		return "*model.SessionData"
	case *PageData:
		return "*model.PageData"
	case *ReviewData:
		return "*model.ReviewData"
	case *BatchData:
		return "*model.BatchData"
	case *QueueData:
		return "*model.QueueData"
	case *StatusData:
		return "*model.StatusData"
	case *LogData:
		return "*model.LogData"
	}
	return "?"
}

// mutate replaces the first occurrence of old in the valid value of key.
func mutate(t *testing.T, key, old, new string) string {
	t.Helper()
	v, ok := validValues[key]
	if !ok || !strings.Contains(v, old) {
		t.Fatalf("sample %s has no %q", key, old)
	}
	return strings.Replace(v, old, new, 1)
}

func TestDecodeValueInvalid(t *testing.T) {
	pk := "page:" + testProject + ":" + pageA
	bk := "batch:" + testProject + ":" + testBatch
	sk := "status:" + testProject + ":" + pageA
	qk := "queue:" + testProject
	lk := "logs:" + testProject + ":" + pageA
	prk := "project:" + testProject
	rk := "review:" + testProject + ":" + pageA
	cases := []struct {
		name, key, value, want string
	}{
		{"malformed json", sk, `{"status":`, "not valid status JSON"},
		{"trailing garbage", sk, validValues[sk] + "x", "not valid status JSON"},
		{"wrong json type", sk, `[1,2]`, "not valid status JSON"},
		{"unknown kind", "nope:x", `{}`, `unknown kind "nope"`},
		{"key too long", "cache:" + strings.Repeat("x", 600), `{}`, "longer than 512"},
		{"status enum", sk, mutate(t, sk, `"status":"processing"`, `"status":"donee"`), `status: "donee" is not one of uploaded|queued|processing|done|failed`},
		{"status progress", sk, mutate(t, sk, `"progress":50`, `"progress":101`), "processing.progress: 101 is not within 0-100"},
		{"status bad batch", sk, mutate(t, sk, testBatch, "batch_2024"), `batch_id: "batch_2024" is not batch_YYYYMMDD_HHMMSS`},
		{"status impossible date", sk, mutate(t, sk, testBatch, "batch_20241399_250000"), "not a real UTC date"},
		{"status timestamp", sk, mutate(t, sk, `"updated":"2024-09-02T13:46:00.000Z"`, `"updated":"yesterday"`), `updated: "yesterday" is not an ISO 8601 timestamp`},
		{"status key page id", "status:" + testProject + ":nope", validValues[sk], "key"},
		{"batch page status", bk, mutate(t, bk, `{"status":"queued","uploaded"`, `{"status":"donee","uploaded"`), `pages["` + pageA + `"].status: "donee" is not one of`},
		{"batch status", bk, mutate(t, bk, `"page_count":1,"status":"queued"`, `"page_count":1,"status":"done"`), `status: "done" is not one of uploading|queued|processing|completed|failed`},
		{"batch key mismatch", "batch:" + testProject + ":batch_20240902_134501", validValues[bk], `batch_id: "batch_20240902_134500" does not match the key's batch id`},
		{"batch page key", bk, mutate(t, bk, `"pages":{"`+pageA, `"pages":{"page_x`), `pages["page_x`},
		{"queue priority", qk, mutate(t, qk, `"priority":5`, `"priority":11`), "items[0].priority: 11 is not within 1-10"},
		{"queue priority zero", qk, mutate(t, qk, `"priority":5`, `"priority":0`), "items[0].priority: 0 is not within 1-10"},
		{"queue attempts", qk, mutate(t, qk, `"attempts":0`, `"attempts":-1`), "items[0].attempts: -1 is negative"},
		{"queue key", "queue:proj_x", validValues[qk], "key"},
		{"log level", lk, mutate(t, lk, `"level":"info"`, `"level":"debug"`), `entries[0].level: "debug" is not one of info|warn|error`},
		{"log page mismatch", "logs:" + testProject + ":" + pageB, validValues[lk], "page_id"},
		{"page id mismatch key", "page:" + testProject + ":" + pageB, validValues[pk], `page_id: "` + pageA + `" does not match the key's page id`},
		{"page project mismatch", "page:proj_000000000000:" + pageA, validValues[pk], "project_id"},
		{"page empty id", pk, mutate(t, pk, `"page_id":"`+pageA+`"`, `"page_id":""`), "page_id: required"},
		{"page md5 rule", pk, mutate(t, pk, "dist/local/a.html", "dist/local/b.html"), "is not md5(project_id+source_path)"},
		{"page path not normalised", pk, mutate(t, pk, "dist/local/a.html", `dist\\local\\a.html`), "not normalised"},
		{"page content hash", pk, mutate(t, pk, `"content_hash":"`+hex64a, `"content_hash":"zz`), "content_hash"},
		{"page opt confidence", pk, mutate(t, pk, `"confidence":0.9`, `"confidence":1.5`), "optimization.confidence"},
		{"page block id", pk, mutate(t, pk, `{"id":"block-0","type":"h1","content":"Hi"}`, `{"id":"","type":"h1","content":"Hi"}`), "extraction.above_fold_blocks[0].id: required"},
		{"project tone", prk, mutate(t, prk, `"tone":"professional"`, `"tone":"snarky"`), `settings.tone: "snarky" is not one of premium|professional|casual`},
		{"project id format", "project:proj_123", mutate(t, prk, testProject, "proj_123"), "project_id"},
		{"project max pages", prk, mutate(t, prk, `"max_pages_per_batch":1000`, `"max_pages_per_batch":0`), "settings.max_pages_per_batch"},
		{"review state", rk, mutate(t, rk, `"state":"accepted"`, `"state":"maybe"`), `blocks["block-0"].state: "maybe" is not one of`},
		{"review decided", rk, mutate(t, rk, `"decided":"2024-09-02T14:00:00.000Z"`, `"decided":""`), `blocks["block-0"].decided: required`},
		{"apikey hash key", "apikey:md5:abc", validValues["apikey:"+testHash], "sha256:<64 hex>"},
		{"apikey negative", "apikey:" + testHash, mutate(t, "apikey:"+testHash, `"requests_today":0`, `"requests_today":-3`), "usage.requests_today"},
		{"apikeys entry", "apikeys:user_12345", `["sha256:abc"]`, "[0]"},
		{"apikeys null", "apikeys:user_12345", `null`, "null, want a JSON array"},
		{"projects entry", "projects:user_12345", `["proj_abc123"]`, `[0]: "proj_abc123" is not proj_ + 12 hex`},
		{"user mismatch", "user:user_999", validValues["user:user_12345"], "user_id"},
		{"user email", "user:user_12345", mutate(t, "user:user_12345", "a@example.com", "nope"), `email: "nope" is not an email address`},
		{"email key", "email:nope", validValues["email:a@example.com"], "key"},
		{"session expires", "session:sess_1", mutate(t, "session:sess_1", `"expires":"2024-09-03T13:45:00.000Z"`, `"expires":""`), "expires: required"},
		{"cache no data", "cache:abc", mutate(t, "cache:abc", `"data":{"x":1},`, ``), "data: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateValue(tc.key, []byte(tc.value))
			if err == nil {
				t.Fatalf("accepted %s = %s", tc.key, tc.value)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidationErrorIsErrInvalid(t *testing.T) {
	err := ValidateValue("status:"+testProject+":"+pageA, []byte(`{"status":"x"}`))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
	}
	// Several problems are reported together, each with its field.
	for _, f := range []string{"status:", "batch_id:", "updated:"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if err := ValidateValue("status:"+testProject+":"+pageA, []byte(`{`)); errors.Is(err, ErrInvalid) {
		t.Errorf("a JSON syntax error should not be ErrInvalid: %v", err)
	}
}

func FuzzDecodeValue(f *testing.F) {
	for k, v := range validValues {
		f.Add(k, []byte(v))
	}
	f.Add("page:a:b", []byte(`null`))
	f.Add("logs:a:b", []byte(`{"entries":[null]}`))
	f.Add("projects:x", []byte(`[null,1]`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		rec, err := DecodeValue(key, value)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a value that decodes again.
		if _, err := DecodeValue(key, Canonical(rec)); err != nil {
			t.Fatalf("canonical form of an accepted value is rejected: %v", err)
		}
	})
}

// TestFixedFormatsMatchTheirRegexps: the hand-written ID matchers accept
// exactly what the regular expressions in their comments accept.
func TestFixedFormatsMatchTheirRegexps(t *testing.T) {
	cases := []struct {
		m  matcher
		re string
	}{
		{reProjectID, `^proj_[0-9a-f]{12}$`},
		{rePageID, `^page_[0-9a-f]{12}$`},
		{reBatchID, `^batch_[0-9]{8}_[0-9]{6}$`},
		{reKeyHash, `^sha256:[0-9a-f]{64}$`},
		{reHex64, `^[0-9a-f]{64}$`},
	}
	h64 := strings.Repeat("0123456789abcdef", 4)
	inputs := []string{"", "proj_", "proj_0123456789ab", "proj_0123456789aB", "proj_0123456789abc", "proj_0123456789a",
		"page_0123456789ab", "page_0123456789ab\n", "xpage_0123456789ab", "page_0123456789ag",
		"batch_20261127_021500", "batch_20261127021500", "batch_2026112_0215000", "batch_20261127_02150a", "batch_20261127_0215001",
		"sha256:" + h64, "sha256:" + h64[1:], "sha256:" + h64 + "0", "sha256:" + strings.ToUpper(h64), h64, h64[:63] + "g", "proj_٠١٢٣٤٥٦٧٨٩ab"}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "proj_pagebtch0123456789abcdefgABF:s\n"
	for range 20000 {
		n := rng.IntN(30)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, c := range cases {
		re := regexp.MustCompile(c.re)
		for _, in := range append(inputs, "proj_"+h64[:12], "page_"+h64[50:], "batch_12345678_123456") {
			if got, want := c.m.MatchString(in), re.MatchString(in); got != want {
				t.Errorf("%s on %q: %v, regexp says %v", c.re, in, got, want)
			}
		}
	}
}
