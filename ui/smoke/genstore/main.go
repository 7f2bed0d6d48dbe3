// Command genstore writes a fixture store for the GUI smoke run: a project
// of N pages extracted from the fixture site, some optimized and in a batch.
//
//	go run ./ui/smoke/genstore -store build/smoke/10k.db -pages 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/nimbus-desktop/nimbus/ui/internal/fixture"
)

func main() {
	store := flag.String("store", "", "store file to create (required)")
	site := flag.String("site", "testdata/site/dist", "fixture site folder")
	pages := flag.Int("pages", 10000, "page records to write")
	optimized := flag.Int("optimized", 60, "pages with an AI optimization")
	flag.Parse()
	if *store == "" {
		log.Fatal("genstore: -store is required")
	}
	start := time.Now()
	st, ws, err := fixture.Open(*store)
	if err != nil {
		log.Fatalf("genstore: %v", err)
	}
	id, err := fixture.Write(context.Background(), st, ws, *site, "repairsbypost.com", fixture.Options{Pages: *pages, Optimized: *optimized, Batch: true})
	if cerr := ws.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		log.Fatalf("genstore: %v", err)
	}
	fmt.Printf("genstore: %d pages in project %s written to %s in %s\n", *pages, id, *store, time.Since(start).Round(time.Millisecond))
}
