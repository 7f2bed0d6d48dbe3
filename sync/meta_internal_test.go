package sync

import "testing"

// The "u" stamps match the Worker's updatedOf (worker/src/store.ts).
func TestMetaForMatchesWorkerStamps(t *testing.T) {
	cases := []struct{ key, value, u, s string }{
		{"status:proj_0123456789ab:page_0123456789ab", `{"status":"done","batch_id":"batch_20261127_120000","updated":"2026-11-27T12:00:05.000Z"}`, "2026-11-27T12:00:05.000Z", "done"},
		{"page:proj_0123456789ab:page_0123456789ab", `{"uploaded":"2026-11-27T12:00:00.000Z","optimization":{"completed":"2026-11-27T12:03:00.000Z"}}`, "2026-11-27T12:03:00.000Z", ""},
		{"batch:proj_0123456789ab:batch_20261127_120000", `{"created":"2026-11-27T12:00:00.000Z","pages":{"a":{"uploaded":"2026-11-27T11:00:00.000Z","started":"2026-11-27T12:01:00.000Z"},"b":{"uploaded":"2026-11-27T11:00:00.000Z","completed":"2026-11-27T12:02:00.000Z"}}}`, "2026-11-27T12:02:00.000Z", ""},
		{"queue:proj_0123456789ab", `{"items":[{"queued_at":"2026-11-27T12:00:01.000Z"}],"last_processed":""}`, "2026-11-27T12:00:01.000Z", ""},
		{"logs:proj_0123456789ab:page_0123456789ab", `{"entries":[{"timestamp":"2026-11-27T12:00:01.000Z"},{"timestamp":"2026-11-27T12:00:09.000Z"}]}`, "2026-11-27T12:00:09.000Z", ""},
		{"projects:user_0123456789ab", `["proj_0123456789ab"]`, "", ""},
		{"email:a@b.c", `{"user_id":"user_0123456789ab","created":"2026-11-27T10:00:00.000Z"}`, "2026-11-27T10:00:00.000Z", ""},
	}
	for _, c := range cases {
		m := metaFor(c.key, []byte(c.value), "h")
		if m.U != c.u || m.S != c.s || m.H != "h" {
			t.Errorf("%s: got %+v, want u=%q s=%q", c.key, m, c.u, c.s)
		}
	}
}
