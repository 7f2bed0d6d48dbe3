// Command kvcheck is used by the end-to-end tests: it reads a JSON array of
// {"key", "value"} pairs (KV values as the Worker wrote them) on stdin and
// checks each with the desktop's own rules: model.DecodeValue must accept it
// (key kind, validation), and re-encoding it with model.Canonical must give
// the same bytes, so a pull stores the Worker's bytes unchanged and never
// pushes them back as a local change. Exit status 1 lists every failure.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/nimbus-desktop/nimbus/model"
)

type pair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func main() {
	var pairs []pair
	if err := json.NewDecoder(os.Stdin).Decode(&pairs); err != nil {
		fmt.Fprintln(os.Stderr, "kvcheck: stdin is not a JSON array of {key, value}:", err)
		os.Exit(2)
	}
	bad := 0
	for _, p := range pairs {
		rec, err := model.DecodeValue(p.Key, []byte(p.Value))
		if err != nil {
			bad++
			fmt.Fprintf(os.Stderr, "kvcheck: %s: %v\n", p.Key, err)
			continue
		}
		if c := model.Canonical(rec); !bytes.Equal(c, []byte(p.Value)) {
			bad++
			fmt.Fprintf(os.Stderr, "kvcheck: %s: not canonical\n  stored: %.300s\n  go:     %.300s\n", p.Key, p.Value, c)
		}
	}
	fmt.Printf("kvcheck: %d values, %d failures\n", len(pairs), bad)
	if bad > 0 {
		os.Exit(1)
	}
}
