package workspace

// Review: the editor's block-by-block decisions on the Worker's proposals
// (DESIGN.md section 7). Decisions live at review:{project_id}:{page_id} in
// NIMBUS_PAGES, are written at once (PutLocal, so the sync engine pushes
// them when online) and are never deleted: undoing a decision writes a newer
// "original" decision.

import (
	"unicode"
)

// Diff operations of WordDiff.
const (
	DiffEqual  = 0
	DiffDelete = -1
	DiffInsert = 1
)

// DiffOp is one run of a word-level diff.
type DiffOp struct {
	Op   int    `json:"op"`
	Text string `json:"text"`
}

// WordDiff returns the word-level diff from a to b: runs of equal, deleted
// and inserted text whose Equal+Delete runs spell a and Equal+Insert runs
// spell b. Whitespace runs are tokens too, so spacing survives.
func WordDiff(a, b string) []DiffOp {
	ta, tb := tokenize(a), tokenize(b)
	// LCS table; blocks are short (a few hundred words at most).
	n, m := len(ta), len(tb)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if ta[i] == tb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else if lcs[i+1][j] >= lcs[i][j+1] {
				lcs[i][j] = lcs[i+1][j]
			} else {
				lcs[i][j] = lcs[i][j+1]
			}
		}
	}
	var ops []DiffOp
	emit := func(op int, s string) {
		if k := len(ops); k > 0 && ops[k-1].Op == op {
			ops[k-1].Text += s
			return
		}
		ops = append(ops, DiffOp{Op: op, Text: s})
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case ta[i] == tb[j]:
			emit(DiffEqual, ta[i])
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			emit(DiffDelete, ta[i])
			i++
		default:
			emit(DiffInsert, tb[j])
			j++
		}
	}
	for ; i < n; i++ {
		emit(DiffDelete, ta[i])
	}
	for ; j < m; j++ {
		emit(DiffInsert, tb[j])
	}
	return ops
}

// tokenize splits s into words and whitespace runs.
func tokenize(s string) []string {
	var out []string
	start := 0
	var prevSpace bool
	for i, r := range s {
		sp := unicode.IsSpace(r)
		if i > 0 && sp != prevSpace {
			out = append(out, s[start:i])
			start = i
		}
		prevSpace = sp
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
