package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The validation vectors in testdata/validate/ are shared with the Worker
// (worker/test/validate.test.ts): the values the Worker writes must pass
// the same rules on both sides. A case with no problems must validate; a
// case with problems must fail with each of them in the error.
func TestValidateVectors(t *testing.T) {
	files, err := filepath.Glob("../testdata/validate/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vector files in ../testdata/validate (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Cases []struct {
				Name     string          `json:"name"`
				Key      string          `json:"key"`
				Value    json.RawMessage `json:"value"`
				Problems []string        `json:"problems"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(doc.Cases) == 0 {
			t.Fatalf("%s: no cases", f)
		}
		for _, c := range doc.Cases {
			t.Run(filepath.Base(f)+"/"+c.Name, func(t *testing.T) {
				err := ValidateValue(c.Key, c.Value)
				if len(c.Problems) == 0 {
					if err != nil {
						t.Fatalf("want valid, got %v", err)
					}
					return
				}
				if err == nil {
					t.Fatalf("want %q, got no error", c.Problems)
				}
				for _, p := range c.Problems {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q lacks %q", err, p)
					}
				}
			})
		}
	}
}
