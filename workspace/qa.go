package workspace

// Review: the editor's block-by-block decisions on the Worker's proposals
// (DESIGN.md section 7). Decisions live at review:{project_id}:{page_id} in
// NIMBUS_PAGES, are written at once (PutLocal, so the sync engine pushes
// them when online) and are never deleted: undoing a decision writes a newer
// "original" decision.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-desktop/nimbus/model"
)

var (
	reNumber = regexp.MustCompile(`\d+(?:[.,]\d+)*`)
	rePrice  = regexp.MustCompile(`[£$€¥]\s?\d+(?:[.,]\d+)*|\d+(?:[.,]\d+)*\s?(?:GBP|USD|EUR)`)
	reMarkup = regexp.MustCompile(`<\s*/?\s*[a-zA-Z!][^>]*>|&[a-zA-Z]+;|&#\d+;|\*\*|\]\(`)
)

// CheckProposal runs the QA checks on a proposed replacement of a block:
// emptiness, length limits for title/description-like blocks, numbers and
// prices preserved, brand and location names (the page's dimension values)
// preserved, no markup injected. Errors block acceptance; warnings only show.
func CheckProposal(blockType, original, proposal string, dims map[string]string) []QAIssue {
	var out []QAIssue
	add := func(code, sev, format string, args ...any) {
		out = append(out, QAIssue{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(proposal) == "" {
		add("empty", QAError, "the proposal is empty")
		return out
	}
	n := utf8.RuneCountInString(proposal)
	// The head's title and meta description (model.HeadBlocks) exist to be
	// shown in search results, which cut them off past their limit: a
	// proposal over it cannot be accepted (edit it shorter). An h1 is the
	// page's visible title; search engines show about as much of a title
	// as model.TitleMaxChars, so a longer one only warns.
	switch max := model.HeadBlockMaxChars(blockType); {
	case max > 0 && n > max:
		what := "titles"
		if blockType == model.BlockTypeMetaDescription {
			what = "meta descriptions"
		}
		add("too_long", QAError, "%d characters; %s over %d are cut off in search results", n, what, max)
	case strings.EqualFold(blockType, "h1") && n > model.TitleMaxChars:
		add("too_long", QAWarn, "%d characters; titles over %d are truncated in search results", n, model.TitleMaxChars)
	}
	if utf8.RuneCountInString(original) > 0 && n > 3*utf8.RuneCountInString(original)+40 {
		add("much_longer", QAWarn, "%d characters against %d in the original", n, utf8.RuneCountInString(original))
	}
	for _, p := range rePrice.FindAllString(original, -1) {
		if !strings.Contains(normSpace(proposal), normSpace(p)) {
			add("price_changed", QAError, "price %q of the original is missing", p)
		}
	}
	for _, num := range reNumber.FindAllString(original, -1) {
		if !containsToken(reNumber.FindAllString(proposal, -1), num) {
			add("number_changed", QAError, "number %q of the original is missing", num)
		}
	}
	names := make([]string, 0, len(dims))
	for k := range dims {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, form := range nameForms(dims[k]) {
			if containsFold(original, form) && !containsFold(proposal, form) {
				add("name_missing", QAError, "%s %q of the original is missing", k, form)
				break
			}
		}
	}
	if reMarkup.MatchString(proposal) && !reMarkup.MatchString(original) {
		add("markup_injected", QAError, "the proposal adds markup (%q); only plain text is written back", reMarkup.FindString(proposal))
	}
	return out
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), "") }

func containsToken(tokens []string, t string) bool {
	for _, x := range tokens {
		if x == t {
			return true
		}
	}
	return false
}

// nameForms turns a dimension value such as "aston-martin" into the forms
// it appears as in text ("aston-martin", "aston martin").
func nameForms(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	forms := []string{v}
	if spaced := strings.NewReplacer("-", " ", "_", " ").Replace(v); spaced != v {
		forms = append(forms, spaced)
	}
	return forms
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
