package workspace

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// reviewFixture stores one project with two pages whose optimizations
// propose changes; it returns the workspace and project ID.
func reviewFixture(t *testing.T) (*Workspace, string) {
	t.Helper()
	w := openTemp(t, Options{})
	ctx := context.Background()
	p, err := w.CreateProject(ctx, "review.example", ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		path, brand string
		head        map[string]string
		blocks      []model.Block
		optimized   map[string]string
	}{
		// The head's title and meta description are blocks too
		// (model.HeadBlocks): rolex's title proposal is 90 characters.
		{"dist/local/rolex-repair.html", "rolex", map[string]string{
			"title": "Rolex Repair Birmingham", "metaDescription": "Rolex repair in Birmingham.",
		}, []model.Block{
			{ID: "block-0", Type: "h1", Content: "Rolex repair in Birmingham"},
			{ID: "block-1", Type: "p", Content: "Servicing from £199 with a 2 year warranty."},
			{ID: "block-2", Type: "p", Content: "Free collection."},
		}, map[string]string{
			model.BlockIDTitle:           "Expert Rolex Repair and Servicing in Birmingham by Certified Watchmakers, Since 1982 Only!", // 90
			model.BlockIDMetaDescription: "Expert Rolex repair in Birmingham by certified watchmakers.",
			"block-0":                    "Expert Rolex repair in Birmingham",
			"block-1":                    "Full servicing from £149 with a warranty.",
			"block-2":                    "Free <b>insured</b> collection.",
		}},
		{"dist/local/omega-repair.html", "omega", map[string]string{"title": "Omega repair"}, []model.Block{
			{ID: "block-0", Type: "h1", Content: "Omega repair"},
		}, map[string]string{"block-0": "Omega watch repair by post"}},
	}
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		for _, pg := range pages {
			id := model.PageID(p.ProjectID, pg.path)
			ex := model.Extraction{
				Engine: "html", MainSelector: "main",
				Head:            pg.head,
				Dimensions:      map[string]string{"brand": pg.brand, "location": "birmingham"},
				AboveFoldBlocks: pg.blocks[:1], RestOfPageBlocks: pg.blocks[1:],
				SelectorMap: map[string]string{},
			}
			for _, b := range pg.blocks {
				ex.SelectorMap[b.ID] = "main > " + b.Type
			}
			hash := model.ContentHash(ex)
			opt := &model.Optimization{Completed: model.Now(), Model: "gpt-4", Confidence: 0.9, SourceHash: hash}
			for _, b := range append(model.HeadBlocks(ex), pg.blocks...) {
				if pg.optimized[b.ID] != "" {
					opt.OptimizedBlocks = append(opt.OptimizedBlocks, model.Block{ID: b.ID, Type: b.Type, Content: b.Content, OptimizedContent: pg.optimized[b.ID]})
				}
			}
			pd := model.PageData{PageID: id, ProjectID: p.ProjectID, SourcePath: pg.path, Uploaded: model.Now(), Extraction: ex, Optimization: opt, ContentHash: hash}
			if err := tx.PutJSON(model.NSPages, model.PageKey(p.ProjectID, id), pd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, p.ProjectID
}

func TestReviewStatesAndQA(t *testing.T) {
	w, proj := reviewFixture(t)
	blocks, err := w.ReviewBlocks(context.Background(), proj, ReviewFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range blocks {
		ids = append(ids, b.SourcePath[len("dist/local/"):]+" "+b.BlockID+" "+b.State)
	}
	// Sorted by source path (omega first), the head's blocks first, then
	// document order.
	want := []string{
		"omega-repair.html head-title original",
		"omega-repair.html block-0 suggested",
		"rolex-repair.html head-title suggested",
		"rolex-repair.html head-meta-description suggested",
		"rolex-repair.html block-0 suggested",
		"rolex-repair.html block-1 suggested",
		"rolex-repair.html block-2 suggested",
	}
	if strings.Join(ids, "\n") != strings.Join(want, "\n") {
		t.Fatalf("blocks:\n%s\nwant:\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}
	byID := map[string]ReviewBlock{}
	for _, b := range blocks[2:] {
		byID[b.BlockID] = b
	}
	// The head's limits block: a 90-character title cannot be accepted.
	if q := byID[model.BlockIDTitle].QA; !hasCode(q, "too_long") || q[0].Severity != QAError || byID[model.BlockIDTitle].Type != model.BlockTypeTitle {
		t.Errorf("the 90-character title's QA = %+v, want a too_long error", q)
	}
	if q := byID[model.BlockIDMetaDescription].QA; len(q) != 0 {
		t.Errorf("meta description QA = %+v, want none", q)
	}
	if q := byID["block-1"].QA; !hasCode(q, "price_changed") || !hasCode(q, "number_changed") {
		t.Errorf("block-1 QA = %+v, want price_changed and number_changed", q)
	}
	if q := byID["block-2"].QA; !hasCode(q, "markup_injected") {
		t.Errorf("block-2 QA = %+v, want markup_injected", q)
	}
	if q := byID["block-0"].QA; len(q) != 0 {
		t.Errorf("block-0 QA = %+v, want none", q)
	}

	brand, err := w.ReviewBlocks(context.Background(), proj, ReviewFilter{Dimensions: map[string]string{"brand": "rolex"}, Fold: "below", QA: "any"})
	if err != nil {
		t.Fatal(err)
	}
	if len(brand) != 2 {
		t.Fatalf("filtered %d blocks, want 2 (rolex, below the fold, with QA issues)", len(brand))
	}
}

func TestDecideAcceptRejectEditStale(t *testing.T) {
	w, proj := reviewFixture(t)
	ctx := context.Background()
	rolex := model.PageID(proj, "dist/local/rolex-repair.html")

	b, err := w.Decide(ctx, proj, rolex, "block-0", model.ReviewAccepted, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.State != model.ReviewAccepted || b.Text != "Expert Rolex repair in Birmingham" {
		t.Fatalf("accepted block = %+v", b)
	}
	// QA errors block acceptance and store nothing.
	if _, err := w.Decide(ctx, proj, rolex, "block-1", model.ReviewAccepted, ""); !errors.Is(err, ErrQABlocked) {
		t.Fatalf("accept with a changed price: err = %v, want ErrQABlocked", err)
	}
	// An edit that keeps the price and numbers can then be accepted.
	if _, err := w.Decide(ctx, proj, rolex, "block-1", model.ReviewEdited, "Full servicing from £199 with a 2 year warranty included."); err != nil {
		t.Fatal(err)
	}
	b, err = w.Decide(ctx, proj, rolex, "block-1", model.ReviewAccepted, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Text != "Full servicing from £199 with a 2 year warranty included." {
		t.Fatalf("accepting an edit accepted %q", b.Text)
	}
	if _, err := w.Decide(ctx, proj, rolex, "block-2", model.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	// Undo: the block is undecided again, with no "decided" date shown.
	if b, err := w.Decide(ctx, proj, rolex, "block-2", model.ReviewOriginal, ""); err != nil || b.State != model.ReviewSuggested || b.Decided != "" {
		t.Fatalf("after undo: %+v %v; want suggested with no decision date", b, err)
	}
	if _, err := w.Decide(ctx, proj, rolex, "block-2", model.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}

	r, err := w.store.GetReview(proj, rolex)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"block-0": model.ReviewAccepted, "block-1": model.ReviewAccepted, "block-2": model.ReviewRejected}
	for id, st := range want {
		if r.Blocks[id].State != st {
			t.Errorf("stored %s = %q, want %q", id, r.Blocks[id].State, st)
		}
	}
	if n, _ := w.store.OutboxLen(); n == 0 {
		t.Error("decisions are not in the outbox for the sync engine")
	}

	// A rebuild that changes block-0's original makes its decision stale.
	err = w.store.Update(ctx, func(tx *localstore.Tx) error {
		p, _, err := getJSON[model.PageData](tx, model.NSPages, model.PageKey(proj, rolex))
		if err != nil {
			return err
		}
		p.Extraction.AboveFoldBlocks[0].Content = "Rolex watch repair in Birmingham"
		return tx.PutJSON(model.NSPages, model.PageKey(proj, rolex), p)
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := w.ReviewPage(proj, rolex)
	if err != nil {
		t.Fatal(err)
	}
	if b := blockOf(page, "block-0"); b.State != model.ReviewStale {
		t.Fatalf("block-0 after a rebuild = %q, want stale", b.State)
	}
	if _, err := w.Decide(ctx, proj, rolex, "block-0", model.ReviewEdited, "  "); err == nil {
		t.Fatal("an empty edit was stored")
	}
}

func TestDecideAllAcceptable(t *testing.T) {
	w, proj := reviewFixture(t)
	ctx := context.Background()
	all, err := w.ReviewBlocks(context.Background(), proj, ReviewFilter{States: []string{model.ReviewSuggested}})
	if err != nil {
		t.Fatal(err)
	}
	ok, blocked := Acceptable(all)
	// Acceptable: omega's and rolex's block-0 and rolex's meta description;
	// blocked: rolex's 90-character title, block-1 (price) and block-2
	// (markup).
	if len(ok) != 3 || len(blocked) != 3 || blocked[0].BlockID != model.BlockIDTitle {
		t.Fatalf("acceptable %d, blocked %d (first %s); want 3 and 3, the title first", len(ok), len(blocked), blocked[0].BlockID)
	}
	refs := make([]BlockRef, len(ok))
	for i, b := range ok {
		refs[i] = BlockRef{b.PageID, b.BlockID}
	}
	done, err := w.DecideAll(ctx, proj, refs, model.ReviewAccepted)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range done {
		if b.State != model.ReviewAccepted {
			t.Errorf("%s %s = %s", b.SourcePath, b.BlockID, b.State)
		}
	}
	// Bulk accept of a blocked block fails as a whole.
	refs = append(refs, BlockRef{blocked[0].PageID, blocked[0].BlockID})
	if _, err := w.DecideAll(ctx, proj, refs, model.ReviewAccepted); !errors.Is(err, ErrQABlocked) {
		t.Fatalf("bulk accept including a QA error: err = %v", err)
	}
}

func TestWordDiffReassembles(t *testing.T) {
	cases := [][2]string{
		{"Rolex repair in Birmingham", "Expert Rolex repair in  Birmingham today"},
		{"", "new text"},
		{"old text", ""},
		{"a b c", "a b c"},
	}
	for _, c := range cases {
		ops := WordDiff(c[0], c[1])
		var a, b strings.Builder
		for _, op := range ops {
			if op.Op != DiffInsert {
				a.WriteString(op.Text)
			}
			if op.Op != DiffDelete {
				b.WriteString(op.Text)
			}
		}
		if a.String() != c[0] || b.String() != c[1] {
			t.Errorf("WordDiff(%q, %q) reassembles to %q, %q", c[0], c[1], a.String(), b.String())
		}
	}
	ops := WordDiff("Rolex repair", "Expert Rolex repair")
	if len(ops) != 2 || ops[0].Op != DiffInsert || ops[0].Text != "Expert " {
		t.Errorf("ops = %+v", ops)
	}
}

func TestCheckProposalNames(t *testing.T) {
	dims := map[string]string{"brand": "aston-martin"}
	q := CheckProposal("p", "Aston Martin servicing", "Luxury car servicing", dims)
	if !hasCode(q, "name_missing") {
		t.Errorf("dropping the brand: %+v", q)
	}
	q = CheckProposal("h1", "Title", strings.Repeat("x", model.TitleMaxChars+1), nil)
	if !hasCode(q, "too_long") || q[0].Severity != QAWarn {
		t.Errorf("long title: %+v", q)
	}
}

func hasCode(q []QAIssue, code string) bool {
	for _, i := range q {
		if i.Code == code {
			return true
		}
	}
	return false
}

func BenchmarkWordDiff(b *testing.B) {
	a := strings.Repeat("Rolex watch repair in Birmingham with free collection. ", 20)
	c := strings.Repeat("Expert Rolex watch repair in Birmingham with free insured collection. ", 20)
	for b.Loop() {
		WordDiff(a, c)
	}
}

func TestCheckBlocksPlainTextOverMarkup(t *testing.T) {
	b := ReviewBlock{Type: "p", Original: "Free collection across Scotland.", Markup: "<a>"}
	qa := b.check("Free collection anywhere in Scotland.")
	found := false
	for _, q := range qa {
		if q.Code == "markup_dropped" && q.Severity == QAError {
			found = true
		}
	}
	if !found {
		t.Fatalf("QA %v: want a markup_dropped error for a block whose element holds <a>", qa)
	}
	b.Markup = ""
	if qa := b.check("Free collection anywhere in Scotland."); len(qa) != 0 {
		t.Fatalf("QA %v on a plain block: want none", qa)
	}
}

// The QA thresholds and patterns exactly (a x10 threshold or a dropped
// Markdown pattern used to pass every test).
func TestCheckProposalBoundaries(t *testing.T) {
	codes := func(q []QAIssue) string {
		var c []string
		for _, i := range q {
			c = append(c, i.Code)
		}
		return strings.Join(c, ",")
	}
	orig := strings.Repeat("a", 20) // 20 characters: much_longer above 3*20+40 = 100
	for _, c := range []struct {
		typ, original, proposal, want string
	}{
		{"p", orig, strings.Repeat("b", 100), ""},
		{"p", orig, strings.Repeat("b", 101), "much_longer"},
		{"h1", strings.Repeat("T", 40), strings.Repeat("t", model.TitleMaxChars), ""},
		{"h1", strings.Repeat("T", 40), strings.Repeat("t", model.TitleMaxChars+1), "too_long"},
		{"p", "Plain text", "Plain **bold** text", "markup_injected"},
		{"p", "Plain text", "Plain [link](https://x.example) text", "markup_injected"},
		{"p", "Plain text", "Plain <b>text</b>", "markup_injected"},
		{"p", "Plain text", "Plain &amp; text", "markup_injected"},
		{"p", "Plain text", "Plain text, rewritten [but not a link] (really)", ""},
		{"p", "From £99 in 5 days", "From £99 in five days", "number_changed"},
		{"p", "From £99", "From £95", "price_changed,number_changed"},
		{"p", "Some text", "  ", "empty"},
	} {
		if got := codes(CheckProposal(c.typ, c.original, c.proposal, nil)); got != c.want {
			t.Errorf("%s %q -> %q: %q, want %q", c.typ, c.original, c.proposal, got, c.want)
		}
	}
}

// A bulk decision never overrides a decision made after its list was read.
func TestDecideUndecidedLeavesFreshDecisions(t *testing.T) {
	w, proj := reviewFixture(t)
	ctx := context.Background()
	blocks, err := w.ReviewBlocks(context.Background(), proj, ReviewFilter{States: []string{model.ReviewSuggested}})
	if err != nil || len(blocks) < 2 {
		t.Fatalf("%d suggested blocks: %v", len(blocks), err)
	}
	refs := []BlockRef{}
	for _, b := range blocks {
		refs = append(refs, BlockRef{PageID: b.PageID, BlockID: b.BlockID})
	}
	// Meanwhile the editor rejects the first one.
	if _, err := w.Decide(ctx, proj, blocks[0].PageID, blocks[0].BlockID, model.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	done, err := w.DecideUndecided(ctx, proj, refs, model.ReviewRejected)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(refs)-1 {
		t.Errorf("%d decided, want %d (all but the one decided meanwhile)", len(done), len(refs)-1)
	}
	all, _ := w.ReviewBlocks(context.Background(), proj, ReviewFilter{})
	for _, b := range all {
		if b.PageID == blocks[0].PageID && b.BlockID == blocks[0].BlockID && b.State != model.ReviewRejected {
			t.Errorf("the block rejected meanwhile is %s", b.State)
		}
	}
}

// blockOf is the block with this id among blocks (zero when none).
func blockOf(blocks []ReviewBlock, id string) ReviewBlock {
	for _, b := range blocks {
		if b.BlockID == id {
			return b
		}
	}
	return ReviewBlock{}
}

func TestReviewFilterText(t *testing.T) {
	w, proj := reviewFixture(t)
	ctx := context.Background()
	count := func(text string) int {
		t.Helper()
		bs, err := w.ReviewBlocks(ctx, proj, ReviewFilter{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		return len(bs)
	}
	// by original (case ignored), by proposal, by path, by an edit
	if n := count("FREE COLLECTION"); n != 1 {
		t.Errorf("original text: %d blocks, want 1", n)
	}
	if n := count("by post"); n != 1 {
		t.Errorf("proposal text: %d blocks, want 1 (omega's block-0)", n)
	}
	if n := count("omega-repair"); n != 2 {
		t.Errorf("path: %d blocks, want omega's 2", n)
	}
	rolex := model.PageID(proj, "dist/local/rolex-repair.html")
	if _, err := w.Decide(ctx, proj, rolex, "block-2", model.ReviewEdited, "Free insured collection, tracked door to door."); err != nil {
		t.Fatal(err)
	}
	if n := count("door to door"); n != 1 {
		t.Errorf("edited text: %d blocks, want 1", n)
	}
	if n, all := count("  "), count(""); n != all || all != 7 {
		t.Errorf("blank search: %d of %d blocks, want all 7", n, all)
	}
}

// Undo on a block with no decision (or one already undone) writes
// nothing: no change waits to be pushed.
func TestUndoWithNothingToUndoWritesNothing(t *testing.T) {
	w, pid := reviewFixture(t)
	ctx := context.Background()
	blocks, err := w.ReviewBlocks(ctx, pid, ReviewFilter{States: []string{model.ReviewSuggested}})
	if err != nil || len(blocks) == 0 {
		t.Fatal(len(blocks), err)
	}
	b := blocks[0]
	before, _ := w.ChangesWaiting()
	got, err := w.Decide(ctx, pid, b.PageID, b.BlockID, model.ReviewOriginal, "")
	if err != nil || got.State != model.ReviewSuggested {
		t.Fatalf("undo with nothing to undo: %+v, %v", got, err)
	}
	if after, _ := w.ChangesWaiting(); after != before {
		t.Errorf("changes waiting %d -> %d after an undo of nothing", before, after)
	}
	if _, err := w.Decide(ctx, pid, b.PageID, b.BlockID, model.ReviewRejected, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := w.Decide(ctx, pid, b.PageID, b.BlockID, model.ReviewOriginal, ""); err != nil || got.State != model.ReviewSuggested {
		t.Fatalf("undo of a reject: %+v, %v", got, err)
	}
	mid, _ := w.store.Get(model.NSPages, model.ReviewKey(pid, b.PageID))
	if _, err := w.Decide(ctx, pid, b.PageID, b.BlockID, model.ReviewOriginal, ""); err != nil {
		t.Fatal(err)
	}
	if after, _ := w.store.Get(model.NSPages, model.ReviewKey(pid, b.PageID)); string(after) != string(mid) {
		t.Errorf("a second undo rewrote the decisions:\n%s\n%s", mid, after)
	}
}
