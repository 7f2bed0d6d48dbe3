package model

// The one rule for "this block has a current proposal", used by the review
// (workspace), the Pages table (ui) and the counts: the rule the merge keeps
// optimizations by (MergePageData), and what the Worker writes (an
// optimized block's content is the original, its optimized_content the
// proposal).

// OptimizationCurrent reports whether an optimization computed from the
// content hash sourceHash applies to a page whose content_hash is
// contentHash: they are equal (an empty source_hash matches only an empty
// content_hash). A stale optimization's proposals are never offered,
// counted or exported; the page needs optimizing again.
func OptimizationCurrent(sourceHash, contentHash string) bool { return sourceHash == contentHash }

// CurrentOptimization is the page's optimization when it is current
// (OptimizationCurrent), else nil.
func (p PageData) CurrentOptimization() *Optimization {
	if o := p.Optimization; o != nil && OptimizationCurrent(o.SourceHash, p.ContentHash) {
		return o
	}
	return nil
}

// ProposalText is what an optimized block proposes in place of original
// (the block's content): its optimized_content when that is not empty and
// differs from original, else "" (no proposal).
func ProposalText(optimized, original string) string {
	if optimized == "" || optimized == original {
		return ""
	}
	return optimized
}

// Proposals maps the id of every block of the page's extraction that has a
// current proposal to the proposed text.
func (p PageData) Proposals() map[string]string {
	out := map[string]string{}
	o := p.CurrentOptimization()
	if o == nil {
		return out
	}
	orig := make(map[string]string, len(p.Extraction.AboveFoldBlocks)+len(p.Extraction.RestOfPageBlocks))
	for _, b := range p.Extraction.AboveFoldBlocks {
		orig[b.ID] = b.Content
	}
	for _, b := range p.Extraction.RestOfPageBlocks {
		orig[b.ID] = b.Content
	}
	for _, b := range o.OptimizedBlocks {
		c, ok := orig[b.ID]
		if !ok {
			continue // a block this extraction does not have
		}
		if t := ProposalText(b.OptimizedContent, c); t != "" {
			out[b.ID] = t
		}
	}
	return out
}

// Length limits (characters) search engines show of a page's title and
// meta description before truncating them; the audit of source pages and
// the review's QA of proposals both use them.
const (
	TitleMaxChars           = 60
	MetaDescriptionMaxChars = 155
)

// NotSubmitted reports whether a page with this status (status "" for a
// page without a status record) still waits to be submitted to the Worker:
// it has none, or it was only imported (uploaded, in its upload batch).
// Submit, the Pages table and its filter all use it.
func NotSubmitted(status string) bool { return status == "" || status == StatusUploaded }
