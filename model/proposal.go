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

// The head's title and meta description are optimized and reviewed as
// blocks (HeadBlocks) with reserved ids and types: the Worker sends them to
// the AI with the page's other blocks and writes their proposals into
// optimized_blocks like any block's; the review checks them against
// TitleMaxChars and MetaDescriptionMaxChars; export writes them into the
// page's one <title> and one <meta name="description" content="...">. They
// are not stored in the extraction's block lists (its content_hash, and so
// every existing optimization, stays as it was) and have no selector_map
// entry: the extraction's head fields are their content, and write-back
// finds the elements by the rule the extraction read them with. Extracted
// block ids are "block-N", so the reserved ids never collide with one.
const (
	BlockIDTitle             = "head-title"
	BlockIDMetaDescription   = "head-meta-description"
	BlockTypeTitle           = "title"
	BlockTypeMetaDescription = "meta_description"
)

// HeadBlocks returns the blocks of the page's head: its title and its meta
// description, each when the page has one that is not empty (a page without
// one gets no proposal for it: adding a missing element is an edit of the
// template, not of a page's copy).
func HeadBlocks(e Extraction) []Block {
	var out []Block
	if t := e.Head["title"]; t != "" {
		out = append(out, Block{ID: BlockIDTitle, Type: BlockTypeTitle, Content: t})
	}
	if d := e.Head["metaDescription"]; d != "" {
		out = append(out, Block{ID: BlockIDMetaDescription, Type: BlockTypeMetaDescription, Content: d})
	}
	return out
}

// IsHeadBlock reports whether id is one of HeadBlocks' reserved ids.
func IsHeadBlock(id string) bool { return id == BlockIDTitle || id == BlockIDMetaDescription }

// HeadBlockMaxChars is the length limit of a head block type (TitleMaxChars,
// MetaDescriptionMaxChars), 0 for every other type: what search results
// show of it, so a proposal over it is cut off where it matters most.
func HeadBlockMaxChars(blockType string) int {
	switch blockType {
	case BlockTypeTitle:
		return TitleMaxChars
	case BlockTypeMetaDescription:
		return MetaDescriptionMaxChars
	}
	return 0
}

// Proposals maps the id of every block of the page (HeadBlocks and the
// extraction's blocks) that has a current proposal to the proposed text.
func (p PageData) Proposals() map[string]string {
	out := map[string]string{}
	o := p.CurrentOptimization()
	if o == nil {
		return out
	}
	orig := make(map[string]string, 2+len(p.Extraction.AboveFoldBlocks)+len(p.Extraction.RestOfPageBlocks))
	for _, b := range HeadBlocks(p.Extraction) {
		orig[b.ID] = b.Content
	}
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
