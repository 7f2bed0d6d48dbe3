package localstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// benchRecord is one pre-encoded page: encoding is the caller's cost, the
// benchmarks measure the store (validation, hashing, sync state, outbox,
// bbolt commit).
type benchRecord struct {
	key   string
	value []byte
}

var (
	benchOnce  sync.Once
	benchData  []benchRecord
	benchBytes int64
)

// benchPages returns 10,000 realistic page records (20 blocks each, head,
// dimensions, selector map), about 6 kB of JSON apiece.
func benchPages() ([]benchRecord, int64) {
	benchOnce.Do(func() {
		benchData = make([]benchRecord, 10000)
		for i := range benchData {
			p := testPage(fmt.Sprintf("dist/local/city-%04d/brand-%02d-repair.html", i/10, i%10), 20, fmt.Sprint(i))
			v := model.Canonical(p)
			benchData[i] = benchRecord{model.PageKey(testProject, p.PageID), v}
			benchBytes += int64(len(v))
		}
	})
	return benchData, benchBytes
}

func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), fmt.Sprintf("bench-%d.db", b.N)))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// writePages stores recs with perTx records per Update transaction.
func writePages(b *testing.B, s *Store, recs []benchRecord, perTx int) {
	for start := 0; start < len(recs); start += perTx {
		chunk := recs[start:min(start+perTx, len(recs))]
		err := s.Update(ctx, func(tx *Tx) error {
			for _, r := range chunk {
				if err := tx.PutLocal(model.NSPages, r.key, r.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchPut(b *testing.B, recs []benchRecord, bytes int64, perTx int) {
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := openBench(b)
		b.StartTimer()
		writePages(b, s, recs, perTx)
		b.StopTimer()
		if n, err := s.OutboxLen(); err != nil || n != len(recs) {
			b.Fatalf("outbox holds %d entries, %v; want %d", n, err, len(recs))
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutPages10k writes 10,000 pages in transactions of 500 (how an
// import writes), each one validated, hashed and queued in the outbox.
func BenchmarkPutPages10k(b *testing.B) {
	recs, bytes := benchPages()
	benchPut(b, recs, bytes, 500)
}

// BenchmarkPutPagesTxPerRecord writes the first 500 of the same pages with
// one transaction (one fsync) each, for comparison with the batched figure.
func BenchmarkPutPagesTxPerRecord(b *testing.B) {
	recs, bytes := benchPages()
	const n = 500
	benchPut(b, recs[:n], bytes*n/int64(len(recs)), 1)
}

// BenchmarkListPages10k decodes every page of a 10,000-page project, as the
// GUI's page list does on open.
func BenchmarkListPages10k(b *testing.B) {
	recs, bytes := benchPages()
	s := openBench(b)
	defer s.Close()
	writePages(b, s, recs, 1000)
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := s.ListPages(testProject, func(model.PageData) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != len(recs) {
			b.Fatalf("listed %d pages", n)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutPagesBatchConcurrent writes 2,000 of the same pages from 32
// goroutines, one Batch call per record (how a worker pool of extractors
// could write): bbolt coalesces concurrent calls into shared transactions.
func BenchmarkPutPagesBatchConcurrent(b *testing.B) {
	recs, bytes := benchPages()
	const n, workers = 2000, 32
	recs = recs[:n]
	b.SetBytes(bytes * n / 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := openBench(b)
		next := make(chan benchRecord)
		errs := make(chan error, workers)
		b.StartTimer()
		for range workers {
			go func() {
				for r := range next {
					if err := s.Batch(ctx, func(tx *Tx) error { return tx.PutLocal(model.NSPages, r.key, r.value) }); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for _, r := range recs {
			next <- r
		}
		close(next)
		for range workers {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if c, err := s.OutboxLen(); err != nil || c != n {
			b.Fatalf("outbox holds %d entries, %v; want %d", c, err, n)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
