package sync

import "testing"

// FuzzDecodeBulkGet: a bulk get body is remote input; decoding it must
// never panic, and every requested key gets an answer.
func FuzzDecodeBulkGet(f *testing.F) {
	f.Add([]byte(`{"success":true,"errors":[],"messages":[],"result":{"values":{"a":{"value":"{}","metadata":{"h":"x"}},"b":null}}}`))
	f.Add([]byte(`{"success":true,"result":{"values":{"a":"bare","b":""}}}`))
	f.Add([]byte(`{"success":false,"errors":[{"code":10001,"message":"x"}]}`))
	f.Add([]byte(`{"success":true,"result":{"values":{"a":{"value":{"j":1}},"b":[1]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := decodeBulkGet("ns", body, []string{"a", "b"})
		if err == nil && len(out) != 2 {
			t.Fatalf("decoded %d of 2 keys without an error", len(out))
		}
	})
}
