package kvfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The fake's wire shapes are checked against Miniflare's local explorer
// OpenAPI (Cloudflare's own local subset of the REST API) with a small
// validator for the schema features that file uses.

// openAPIPath is a copy of shared/reference/miniflare-local-explorer-openapi.json
// (Miniflare 4.20260426's local explorer), kept here so the check runs in
// every checkout rather than skipping where shared/ is not beside the repo.
const openAPIPath = "testdata/miniflare-local-explorer-openapi.json"

type schemaDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type schema struct {
	Ref                  string                     `json:"$ref"`
	Type                 string                     `json:"type"`
	Properties           map[string]json.RawMessage `json:"properties"`
	Required             []string                   `json:"required"`
	Items                json.RawMessage            `json:"items"`
	AllOf                []json.RawMessage          `json:"allOf"`
	OneOf                []json.RawMessage          `json:"oneOf"`
	AnyOf                []json.RawMessage          `json:"anyOf"`
	Nullable             bool                       `json:"nullable"`
	Enum                 []any                      `json:"enum"`
	AdditionalProperties json.RawMessage            `json:"additionalProperties"`
}

func (d *schemaDoc) validate(raw json.RawMessage, v any, path string) error {
	var s schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: bad schema: %v", path, err)
	}
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		return d.validate(d.Components.Schemas[name], v, path)
	}
	if v == nil {
		if s.Nullable || s.Type == "" {
			return nil
		}
		return fmt.Errorf("%s: null, want %s", path, s.Type)
	}
	for _, sub := range s.AllOf {
		if err := d.validate(sub, v, path); err != nil {
			return err
		}
	}
	if alts := append(s.OneOf, s.AnyOf...); len(alts) > 0 {
		var errs []string
		for _, sub := range alts {
			err := d.validate(sub, v, path)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err.Error())
		}
		if errs != nil {
			return fmt.Errorf("%s: matches no alternative: %s", path, strings.Join(errs, " | "))
		}
	}
	if len(s.Enum) > 0 {
		ok := false
		for _, e := range s.Enum {
			ok = ok || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !ok {
			return fmt.Errorf("%s: %v not in %v", path, v, s.Enum)
		}
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want object", path, v)
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required field %q missing", path, r)
			}
		}
		for k, val := range m {
			if ps, ok := s.Properties[k]; ok {
				if err := d.validate(ps, val, path+"."+k); err != nil {
					return err
				}
			} else if len(s.AdditionalProperties) > 0 && string(s.AdditionalProperties) != "true" && string(s.AdditionalProperties) != "false" {
				if err := d.validate(s.AdditionalProperties, val, path+"."+k); err != nil {
					return err
				}
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want array", path, v)
		}
		for i, it := range a {
			if len(s.Items) > 0 {
				if err := d.validate(s.Items, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T, want string", path, v)
		}
	case "number", "integer":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want number", path, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want boolean", path, v)
		}
	}
	return nil
}

func (d *schemaDoc) responseSchema(t *testing.T, path, method, status string) json.RawMessage {
	t.Helper()
	var op struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(d.Paths[path][method], &op); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r, ok := op.Responses[status]
	if !ok {
		t.Fatalf("%s %s has no %s response in the OpenAPI", method, path, status)
	}
	return r.Content["application/json"].Schema
}

func TestWireShapesMatchMiniflareOpenAPI(t *testing.T) {
	b, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatalf("Miniflare OpenAPI: %v", err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	f := New(Config{})
	defer f.Close()
	ns := f.CreateNamespace("NIMBUS_PAGES")
	base := f.Server.URL + "/client/v4/accounts/" + f.AccountID() + "/storage/kv/namespaces"
	do := func(method, url, body string) (int, any) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, url, raw)
		}
		return res.StatusCode, v
	}
	check := func(name, path, method string, status int, v any) {
		t.Helper()
		st := "200"
		if status >= 400 {
			st = "4XX"
		}
		if err := doc.validate(doc.responseSchema(t, path, method, st), v, name); err != nil {
			t.Errorf("%s does not match the OpenAPI: %v", name, err)
		}
	}
	code, v := do("PUT", base+"/"+ns+"/bulk", `[{"key":"a","value":"1","metadata":{"h":"x"}},{"key":"b","value":"{\"j\":2}"}]`)
	if code != 200 {
		t.Fatalf("bulk put: %d %v", code, v)
	}
	code, v = do("GET", base, "")
	check("namespaces list", "/storage/kv/namespaces", "get", code, v)
	code, v = do("GET", base+"/"+ns+"/keys?limit=10", "")
	check("keys list", "/storage/kv/namespaces/{namespace_id}/keys", "get", code, v)
	code, v = do("GET", base+"/"+ns+"/keys?limit=5", "")
	check("keys list with a bad limit", "/storage/kv/namespaces/{namespace_id}/keys", "get", code, v)
	if code != 400 {
		t.Errorf("limit 5: HTTP %d, want 400", code)
	}
	for _, body := range []string{`{"keys":["a","b","missing"]}`, `{"keys":["a","missing"],"withMetadata":true}`, `{"keys":["b"],"type":"json"}`} {
		code, v = do("POST", base+"/"+ns+"/bulk/get", body)
		check("bulk get "+body, "/storage/kv/namespaces/{namespace_id}/bulk/get", "post", code, v)
	}
	code, v = do("GET", base+"/"+ns+"/values/missing", "")
	check("value get 404", "/storage/kv/namespaces/{namespace_id}/values/{key_name}", "get", code, v)
	if m, _ := v.(map[string]any); code != 404 || !bytes.Contains(mustJSON(m["errors"]), []byte("10009")) {
		t.Errorf("missing value: HTTP %d %v, want 404 code 10009", code, v)
	}
	code, v = do("GET", base+"/nope/keys", "")
	check("unknown namespace", "/storage/kv/namespaces/{namespace_id}/keys", "get", code, v)
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestFakeLimitsAndStaleness(t *testing.T) {
	now := &testClock{}
	f := New(Config{Now: now.Now, Staleness: 60 * time.Second})
	defer f.Close()
	ns := f.CreateNamespace("X")
	f.Write(ns, "k", []byte("v1"), nil)
	if _, _, ok := f.Read(ns, "k"); ok {
		t.Fatal("a fresh write is visible before the staleness delay")
	}
	now.t += 61 * time.Second
	if v, _, ok := f.Read(ns, "k"); !ok || string(v) != "v1" {
		t.Fatal("write not visible after the delay")
	}
	f.Write(ns, "k", []byte("v2"), nil)
	if v, _, _ := f.Read(ns, "k"); string(v) != "v1" {
		t.Fatalf("stale read %q, want the old value v1", v)
	}
	base := f.Server.URL + "/client/v4/accounts/" + f.AccountID() + "/storage/kv/namespaces/" + ns
	post := func(method, url, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := post("PUT", base+"/bulk", `[{"key":"`+strings.Repeat("k", 513)+`","value":"x"}]`); c != 400 {
		t.Errorf("513-byte key: HTTP %d", c)
	}
	if c := post("PUT", base+"/bulk", `[{"key":"m","value":"x","metadata":{"a":"`+strings.Repeat("m", 1100)+`"}}]`); c != 400 {
		t.Errorf("metadata over 1 KiB: HTTP %d", c)
	}
	keys := make([]string, 101)
	for i := range keys {
		keys[i] = fmt.Sprintf("%q", fmt.Sprint(i))
	}
	if c := post("POST", base+"/bulk/get", `{"keys":[`+strings.Join(keys, ",")+`]}`); c != 400 {
		t.Errorf("bulk get of 101 keys: HTTP %d", c)
	}
}

type testClock struct{ t time.Duration }

func (c *testClock) Now() time.Time { return time.Unix(1_800_000_000, 0).Add(c.t) }
