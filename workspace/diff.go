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

// rewriteShare is the share of words two texts must have in common for
// ReadableDiff to show their diff word by word; below it the proposal is a
// rewrite and reads as the original replaced.
const rewriteShare = 0.4

// ReadableDiff is WordDiff(a, b) made for reading (DESIGN.md section 7):
//
//   - a rewrite, where fewer than rewriteShare of the words of a and b are
//     common to both, is one deletion of a followed by one insertion of b
//     (word by word it interleaved the few shared words, "the", "in", with
//     everything else);
//   - deletions and insertions separated only by whitespace or a single
//     common word merge into one deletion followed by one insertion, the
//     common word in both ("~~Expert~~ Certified watch ~~repair~~
//     servicing" reads as "~~Expert watch repair~~ Certified watch
//     servicing");
//
// Like WordDiff's, its Equal+Delete runs spell a and its Equal+Insert runs
// spell b.
func ReadableDiff(a, b string) []DiffOp {
	ops := WordDiff(a, b)
	common := 0
	changed := false
	for _, op := range ops {
		if op.Op == DiffEqual {
			common += countWords(op.Text)
		} else {
			changed = true
		}
	}
	if !changed {
		return ops
	}
	if total := countWords(a) + countWords(b); float64(2*common) < rewriteShare*float64(total) {
		return replaced(a, b)
	}
	var out []DiffOp
	for i := 0; i < len(ops); {
		if ops[i].Op == DiffEqual {
			out = append(out, ops[i])
			i++
			continue
		}
		// The change region from i: change runs and the equal runs of at
		// most one word between them (WordDiff never emits two equal runs
		// in a row, so a run after an equal one is a change).
		end := i + 1
		for j := end; j < len(ops); j++ {
			if ops[j].Op != DiffEqual {
				end = j + 1
			} else if countWords(ops[j].Text) > 1 {
				break
			}
		}
		var del, ins string
		for _, op := range ops[i:end] {
			if op.Op != DiffInsert {
				del += op.Text
			}
			if op.Op != DiffDelete {
				ins += op.Text
			}
		}
		out = append(out, replaced(del, ins)...)
		i = end
	}
	return out
}

// replaced is the diff of a replaced by b: one deletion, one insertion.
func replaced(a, b string) []DiffOp {
	var out []DiffOp
	if a != "" {
		out = append(out, DiffOp{Op: DiffDelete, Text: a})
	}
	if b != "" {
		out = append(out, DiffOp{Op: DiffInsert, Text: b})
	}
	return out
}

// countWords counts the runs of non-space characters of s.
func countWords(s string) int {
	n := 0
	inWord := false
	for _, r := range s {
		sp := unicode.IsSpace(r)
		if !sp && !inWord {
			n++
		}
		inWord = !sp
	}
	return n
}
