package model

import (
	"reflect"
	"testing"
)

func TestHeadBlocksAreProposedLikeBlocks(t *testing.T) {
	e := Extraction{
		Engine:          "html",
		Head:            map[string]string{"title": "Rolex repair", "metaDescription": "", "canonical": "/x"},
		AboveFoldBlocks: []Block{{ID: "block-0", Type: "h1", Content: "Rolex repair"}},
	}
	if got := HeadBlocks(e); !reflect.DeepEqual(got, []Block{{ID: BlockIDTitle, Type: BlockTypeTitle, Content: "Rolex repair"}}) {
		t.Fatalf("HeadBlocks = %+v (an empty description is no block)", got)
	}
	p := PageData{Extraction: e, ContentHash: ContentHash(e)}
	p.Optimization = &Optimization{SourceHash: p.ContentHash, OptimizedBlocks: []Block{
		{ID: BlockIDTitle, Type: BlockTypeTitle, Content: "Rolex repair", OptimizedContent: "Rolex Repair | Birmingham"},
		// no description on the page: a proposal for it is not offered
		{ID: BlockIDMetaDescription, Type: BlockTypeMetaDescription, Content: "", OptimizedContent: "Rolex repair in Birmingham."},
		{ID: "block-0", Type: "h1", Content: "Rolex repair", OptimizedContent: "Rolex repair"},
	}}
	if got := p.Proposals(); !reflect.DeepEqual(got, map[string]string{BlockIDTitle: "Rolex Repair | Birmingham"}) {
		t.Errorf("Proposals = %v", got)
	}
	// A changed title makes the optimization stale, like any change.
	p.Extraction.Head = map[string]string{"title": "Rolex servicing"}
	p.ContentHash = ContentHash(p.Extraction)
	if got := p.Proposals(); len(got) != 0 {
		t.Errorf("stale optimization proposes %v", got)
	}
	if HeadBlockMaxChars(BlockTypeTitle) != TitleMaxChars || HeadBlockMaxChars(BlockTypeMetaDescription) != MetaDescriptionMaxChars || HeadBlockMaxChars("h1") != 0 {
		t.Error("head limits")
	}
	if !IsHeadBlock(BlockIDTitle) || !IsHeadBlock(BlockIDMetaDescription) || IsHeadBlock("block-0") {
		t.Error("IsHeadBlock")
	}
}
