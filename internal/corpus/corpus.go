// Package corpus finds the real third-party HTML sites the tests run over:
// Debian's PostgreSQL and Python manuals. `make test` unpacks them, whatever
// versions the distribution offers, under build/corpus without installing
// them (.ci/corpus.sh) and passes that folder in NIMBUS_CORPUS_ROOT; manuals
// installed system-wide under /usr/share/doc are found too. Tests that need a
// manual skip with a line naming what is missing and how to get it.
package corpus

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A Manual is one of the corpora: a glob under usr/share/doc for its HTML
// folder (the version in the name varies by distribution release).
type Manual struct {
	Name string // "postgresql", "python"
	Glob string // relative to a root, e.g. usr/share/doc/postgresql-doc-*/html
}

var (
	PostgreSQL = Manual{"postgresql", "usr/share/doc/postgresql-doc-*/html"}
	Python     = Manual{"python", "usr/share/doc/python3.*/html"}
	All        = []Manual{PostgreSQL, Python}
)

// roots are searched in order: the unpacked corpus first, then the system.
func roots() []string {
	var r []string
	if v := os.Getenv("NIMBUS_CORPUS_ROOT"); v != "" {
		r = append(r, v)
	}
	return append(r, "/")
}

// Find returns the HTML folder of m (the newest version when several match),
// or "" when it is nowhere.
func Find(m Manual) string {
	for _, root := range roots() {
		matches, _ := filepath.Glob(filepath.Join(root, m.Glob))
		var dirs []string
		for _, d := range matches {
			if st, err := os.Stat(filepath.Join(d, "index.html")); err == nil && !st.IsDir() {
				dirs = append(dirs, d)
			}
		}
		if len(dirs) > 0 {
			sort.Slice(dirs, func(i, j int) bool { return versionLess(dirs[i], dirs[j]) })
			return dirs[len(dirs)-1]
		}
	}
	return ""
}

// Require returns m's folder or skips t with a line saying why.
func Require(t testing.TB, m Manual) string {
	t.Helper()
	d := Find(m)
	if d == "" {
		t.Skipf("corpus %s not found (looked for %s under %s): `make deps-corpus` unpacks it under build/corpus",
			m.Name, m.Glob, strings.Join(roots(), " and "))
	}
	return d
}

// versionLess orders paths by the numbers in them (15 < 16, 3.9 < 3.11).
func versionLess(a, b string) bool {
	na, nb := numbers(a), numbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

func numbers(s string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}
