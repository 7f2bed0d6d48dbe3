package localstore

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// releaseMapped drops the process's mapping of the store file's pages
// (madvise MADV_DONTNEED on the file's mappings, as /proc/self/maps lists
// them). bbolt maps the file read-only and shared and writes through the
// file, so the pages stay in the page cache and the next read maps them
// again with the same bytes: nothing is lost, only the resident set
// shrinks. It matters because Linux maps up to 16 cached neighbours of
// every page a read touches (fault-around): a listing of the 70 MB page
// index of a 100,000-page store, or an import that rewrites the B+tree
// leaves it just wrote, left a gigabyte of the file in the resident set.
//
// It must run inside a transaction. bbolt remaps the file only under its
// mmap lock, which every read transaction holds (shared) for its life, and
// otherwise only in the one writer's own commit (node spill, freelist
// write) or at open, never inside a write transaction's functions: either
// way the mapping found is the one in use until the transaction ends, and
// a write transaction's changes are in its own memory until the commit
// writes them through the file.
func (t *Tx) releaseMapped(path string) {
	if path == "" {
		return // not a store's transaction (the open's): nothing to match
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		// start-end perms offset dev inode path
		if !bytes.HasSuffix(line, []byte(" "+path)) && !bytes.HasSuffix(line, []byte("\t"+path)) {
			continue
		}
		dash := bytes.IndexByte(line, '-')
		sp := bytes.IndexByte(line, ' ')
		if dash < 0 || sp < dash {
			continue
		}
		start, err1 := strconv.ParseUint(string(line[:dash]), 16, 64)
		end, err2 := strconv.ParseUint(string(line[dash+1:sp]), 16, 64)
		perms := line[sp+1:]
		// bbolt's mapping is read-only and shared ("r--s")
		if err1 != nil || err2 != nil || end <= start || len(perms) < 4 || perms[1] != '-' || perms[3] != 's' {
			continue
		}
		_ = madvise(uintptr(start), uintptr(end-start))
	}
}

func madvise(addr, n uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, n, unix.MADV_DONTNEED)
	if errno != 0 {
		return errno
	}
	return nil
}
