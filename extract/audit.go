package extract

import (
	"fmt"
	"iter"
	"net/url"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-desktop/nimbus/model"
)

// Audit thresholds (Screaming Frog's defaults, in characters); the upper
// limits are model's, shared with the review's QA.
const (
	TitleMinChars       = 30
	DescriptionMinChars = 70
	LowWordCount        = 200
)

func issue(code, severity, format string, args ...any) model.AuditIssue {
	return model.AuditIssue{Code: code, Severity: severity, Message: fmt.Sprintf(format, args...)}
}

// audit computes the per-page checks; duplicates need the whole project
// (AuditDuplicates).
func (c *compiled) audit(p *pageState, ext *model.Extraction) model.Audit {
	title := ext.Head["title"]
	desc := ext.Head["metaDescription"]
	canon := ext.Head["canonical"]
	a := model.Audit{
		TitleLength:       utf8.RuneCountInString(title),
		DescriptionLength: utf8.RuneCountInString(desc),
		H1Count:           p.counts["h1"],
		WordCount:         wordCount(ext),
	}
	add := func(i model.AuditIssue) { a.Issues = append(a.Issues, i) }
	switch {
	case title == "":
		add(issue("title_missing", "error", "the page has no title"))
	case a.TitleLength > model.TitleMaxChars:
		add(issue("title_too_long", "warn", "the title has %d characters (over %d)", a.TitleLength, model.TitleMaxChars))
	case a.TitleLength < TitleMinChars:
		add(issue("title_too_short", "warn", "the title has %d characters (under %d)", a.TitleLength, TitleMinChars))
	}
	if p.counts["title"] > 1 {
		add(issue("title_multiple", "warn", "the page has %d <title> elements", p.counts["title"]))
	}
	switch {
	case desc == "":
		add(issue("description_missing", "warn", "the page has no meta description"))
	case a.DescriptionLength > model.MetaDescriptionMaxChars:
		add(issue("description_too_long", "warn", "the meta description has %d characters (over %d)", a.DescriptionLength, model.MetaDescriptionMaxChars))
	case a.DescriptionLength < DescriptionMinChars:
		add(issue("description_too_short", "warn", "the meta description has %d characters (under %d)", a.DescriptionLength, DescriptionMinChars))
	}
	if p.counts["description"] > 1 {
		add(issue("description_multiple", "warn", "the page has %d meta descriptions", p.counts["description"]))
	}
	switch {
	case a.H1Count == 0:
		add(issue("h1_missing", "error", "the page has no h1"))
	case a.H1Count > 1:
		add(issue("h1_multiple", "warn", "the page has %d h1 elements", a.H1Count))
	}
	if a.WordCount < LowWordCount {
		add(issue("low_word_count", "info", "the main area has %d words (under %d)", a.WordCount, LowWordCount))
	}
	switch {
	case canon == "":
		add(issue("canonical_missing", "warn", "the page has no canonical link"))
	default:
		if p.counts["canonical"] > 1 {
			add(issue("canonical_multiple", "warn", "the page has %d canonical links", p.counts["canonical"]))
		}
		if msg := c.canonicalMismatch(canon); msg != "" {
			add(issue("canonical_mismatch", "warn", "%s", msg))
		}
	}
	return a
}

// wordCount counts the words of the main area's blocks.
func wordCount(ext *model.Extraction) int {
	n := 0
	for _, list := range [][]model.Block{ext.AboveFoldBlocks, ext.RestOfPageBlocks} {
		for _, b := range list {
			if b.Type == "img" {
				continue
			}
			n += countWords(b.Content)
		}
	}
	return n
}

// countWords counts space-separated words; block content is already
// collapsed, so words are the single spaces plus one.
func countWords(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, " ") + 1
}

// canonicalMismatch compares the canonical URL's path (and host, when the
// project has a domain) with the page's own URL path. The page's URL is its
// source path without the watched folder (dist/local/a.html -> /local/a.html);
// /local/a and /local/a/ for a.html or a/index.html count as the same page.
func (c *compiled) canonicalMismatch(canon string) string {
	u, err := url.Parse(canon)
	if err != nil {
		return fmt.Sprintf("the canonical %q is not a URL", canon)
	}
	// A domain without a dot is a project name, not a host to compare with.
	if d := hostKey(c.opts.Domain); strings.Contains(d, ".") && u.Host != "" {
		if h := hostKey(u.Host); h != d {
			return fmt.Sprintf("the canonical host %q is not the project domain %q", u.Host, c.opts.Domain)
		}
	}
	sp := model.NormalizeSourcePath(c.opts.SourcePath)
	if sp == "" {
		return ""
	}
	pagePath := "/"
	if i := strings.IndexByte(sp, '/'); i >= 0 {
		pagePath = sp[i:]
	}
	if urlKey(u.Path) != urlKey(pagePath) {
		return fmt.Sprintf("the canonical path %q is not this page's path %q", u.Path, pagePath)
	}
	return ""
}

// hostKey reduces "https://www.Example.com/x" or "example.com" to
// "example.com".
func hostKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/:?#"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimPrefix(s, "www.")
}

func urlKey(p string) string {
	p = path.Clean("/" + p)
	p = strings.TrimSuffix(p, ".html")
	p = strings.TrimSuffix(p, ".htm")
	p = strings.TrimSuffix(p, "/index")
	if p == "" {
		return "/"
	}
	return p
}

// AuditPage is what the project-wide duplicate pass reads of one page.
type AuditPage struct {
	Key         string // the caller's page key (page_id)
	Title       string
	Description string
	H1          string
	Canonical   string
}

// AuditDuplicates finds values shared by several pages: the same title,
// description, first h1 or canonical. It returns the issues per page key,
// each naming how many other pages share the value; pages are compared only
// on non-empty values. The result is deterministic (sorted keys in messages).
func AuditDuplicates(pages []AuditPage) map[string][]model.AuditIssue {
	out := map[string][]model.AuditIssue{}
	duplicateGroups(pages, func(code, what string, keys []string) {
		sort.Strings(keys)
		for _, k := range keys {
			out[k] = append(out[k], issue(code, "warn", "%s is shared with %d other page(s), e.g. %s", what, len(keys)-1, firstOther(keys, k)))
		}
	})
	return out
}

// DuplicateCodes is AuditDuplicates without the messages: the codes each
// page gets, in AuditDuplicates' order (a table of 100,000 pages shows
// the codes; the messages would be most of its memory).
func DuplicateCodes(pages []AuditPage) map[string][]string {
	out := map[string][]string{}
	for j, m := range DuplicateMask(pages) {
		for code := range DuplicateCodesOf(m) {
			out[pages[j].Key] = append(out[pages[j].Key], code)
		}
	}
	return out
}

// duplicateFields are the fields the duplicate audit compares, in its
// order; all but the canonical URL in lower case.
var duplicateFields = [...]struct {
	code, what string
	fold       bool
	get        func(AuditPage) string
}{
	{"title_duplicate", "the title", true, func(p AuditPage) string { return p.Title }},
	{"description_duplicate", "the meta description", true, func(p AuditPage) string { return p.Description }},
	{"h1_duplicate", "the h1", true, func(p AuditPage) string { return p.H1 }},
	{"canonical_duplicate", "the canonical URL", false, func(p AuditPage) string { return p.Canonical }},
}

// compared is field f of p as the audit compares it ("": not compared).
func compared(f int, p AuditPage) string {
	v := duplicateFields[f].get(p)
	if v != "" && duplicateFields[f].fold {
		v = strings.ToLower(v)
	}
	return v
}

// DuplicateMask is DuplicateCodes by position: bit i of mask[j] is set when
// pages[j] shares field i with another page (DuplicateCodesOf names the
// bits). It counts values instead of grouping pages, so 100,000 pages cost
// four maps of counts and no list per value.
func DuplicateMask(pages []AuditPage) []uint8 {
	mask := make([]uint8, len(pages))
	keys := make([]string, len(pages))
	for bit := range duplicateFields {
		n := make(map[string]int32, len(pages)/2)
		for j, p := range pages {
			v := compared(bit, p)
			keys[j] = v
			if v != "" {
				n[v]++
			}
		}
		for j, v := range keys {
			if v != "" && n[v] >= 2 {
				mask[j] |= 1 << bit
			}
		}
	}
	return mask
}

// DuplicateCodesOf yields the codes of the bits set in a DuplicateMask
// value, in the audit's order.
func DuplicateCodesOf(m uint8) iter.Seq[string] {
	return func(yield func(string) bool) {
		for bit, f := range duplicateFields {
			if m&(1<<bit) != 0 && !yield(f.code) {
				return
			}
		}
	}
}

// duplicateGroups calls fn with every group of two or more pages sharing
// a value, field by field in duplicateFields' order.
func duplicateGroups(pages []AuditPage, fn func(code, what string, keys []string)) {
	for f, field := range duplicateFields {
		groups := map[string][]string{}
		for _, p := range pages {
			if v := compared(f, p); v != "" {
				groups[v] = append(groups[v], p.Key)
			}
		}
		for _, keys := range groups {
			if len(keys) >= 2 {
				fn(field.code, field.what, keys)
			}
		}
	}
}

func firstOther(keys []string, k string) string {
	for _, o := range keys {
		if o != k {
			return o
		}
	}
	return ""
}
