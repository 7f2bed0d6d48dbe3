package extract

import (
	"reflect"
	"testing"
)

// DuplicateCodes gives each page the codes AuditDuplicates gives it, in
// the same order.
func TestDuplicateCodesAreAuditDuplicatesCodes(t *testing.T) {
	pages := []AuditPage{
		{Key: "a", Title: "Rolex Repair", Description: "Fast", H1: "Rolex", Canonical: "https://x/A"},
		{Key: "b", Title: "rolex repair", Description: "fast", H1: "Omega", Canonical: "https://x/a"},
		{Key: "c", Title: "Omega", Description: "", H1: "omega", Canonical: "https://x/A"},
		{Key: "d", Title: "Tudor"},
	}
	want := map[string][]string{}
	for k, issues := range AuditDuplicates(pages) {
		for _, is := range issues {
			want[k] = append(want[k], is.Code)
		}
	}
	if got := DuplicateCodes(pages); !reflect.DeepEqual(got, want) {
		t.Errorf("DuplicateCodes:\n got %v\nwant %v", got, want)
	}
	if len(want["a"]) != 3 || len(want["d"]) != 0 {
		t.Errorf("the case does not exercise the rules: %v", want)
	}
}
