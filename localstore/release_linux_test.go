package localstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// mappedKB is the resident size of this process's mappings of path.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, kb := false, 0
	for sc.Scan() {
		l := sc.Text()
		if fields := strings.Fields(l); len(fields) >= 5 && strings.Contains(fields[0], "-") {
			in = strings.HasSuffix(l, " "+path)
			continue
		}
		if in && strings.HasPrefix(l, "Rss:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			kb += n
		}
	}
	return kb
}

// openMapped opens a store under a path as /proc/self/maps names it
// (symbolic links resolved), closed when the test ends.
func openMapped(t *testing.T) (*Store, string) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nimbus.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// ReleaseMapped gives back the resident pages of the file a listing
// mapped, and the values read afterwards are the same bytes.
func TestReleaseMappedKeepsTheData(t *testing.T) {
	s, path := openMapped(t)
	ctx := context.Background()
	value := []byte(`"` + strings.Repeat("x", 8000) + `"`)
	if err := s.Update(ctx, func(tx *Tx) error {
		for i := range 3000 {
			if err := tx.PutIndex(fmt.Sprintf("k%05d", i), value); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read := func() int {
		n := 0
		if err := s.ScanIndex("k", func(_, v []byte) error {
			if string(v) != string(value) {
				t.Fatalf("a value changed after ReleaseMapped")
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	read()
	before := mappedKB(t, path)
	s.ReleaseMapped()
	after := mappedKB(t, path)
	if before < 10000 || after > before/4 {
		t.Errorf("store mapping resident %d kB after a listing, %d kB after ReleaseMapped: want it given back", before, after)
	}
	if n := read(); n != 3000 {
		t.Errorf("%d values read after ReleaseMapped, want 3000", n)
	}
}

// A walk of a namespace (the Data screen's count, a listing) gives back
// the file it mapped as it goes: counting 2,000 page records of about 8 kB
// leaves less than a third of them resident.
func TestLongWalkReleasesTheMapping(t *testing.T) {
	s, path := openMapped(t)
	ctx := context.Background()
	const n = 2000
	for i := 0; i < n; i += 500 {
		if err := s.Update(ctx, func(tx *Tx) error {
			for j := i; j < i+500; j++ {
				if err := tx.PutPage(testPage(fmt.Sprintf("dist/p%05d.html", j), 60, "v")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	s.ReleaseMapped()
	var total int
	if err := s.List(model.NSPages, "", func(_ string, v []byte) error { total += len(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if total < n*6000 {
		t.Fatalf("the pages are %d bytes in all: too small for this test", total)
	}
	s.ReleaseMapped()
	got, err := s.Count(model.NSPages, "")
	if err != nil || got != n {
		t.Fatalf("Count = %d, %v", got, err)
	}
	if kb := mappedKB(t, path); kb*1024 > total/3 {
		t.Errorf("%d kB of the file resident after counting %d kB of records: the walk did not give it back", kb, total/1024)
	}
}
