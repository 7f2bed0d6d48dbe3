package workspace

// Review: the editor's block-by-block decisions on the Worker's proposals
// (DESIGN.md section 7). Decisions live at review:{project_id}:{page_id} in
// NIMBUS_PAGES, are written at once (PutLocal, so the sync engine pushes
// them when online) and are never deleted: undoing a decision writes a newer
// "original" decision.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// Sentinel errors of the review use case.
var (
	// ErrQABlocked: the proposal fails a QA check of severity error, so it
	// cannot be accepted as is (edit it first).
	ErrQABlocked = errors.New("QA errors block acceptance")
	// ErrNoBlock: the page has no block with that ID.
	ErrNoBlock = errors.New("no such block")
	// ErrNoProposal: accept was asked for a block with nothing to accept.
	ErrNoProposal = errors.New("nothing to accept")
)

// QA severities.
const (
	QAError = "error"
	QAWarn  = "warn"
)

// QAIssue is one finding of the QA checks on a proposal.
type QAIssue struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// ReviewBlock is one block as the review screen and CLI show it: the
// original, the proposal (the AI suggestion or the editor's edit), the
// current state and the QA findings on the proposal.
type ReviewBlock struct {
	PageID     string            `json:"page_id"`
	SourcePath string            `json:"source_path"`
	BlockID    string            `json:"block_id"`
	Type       string            `json:"type"`
	AboveFold  bool              `json:"above_fold"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Original   string            `json:"original"`
	// Markup names the child elements of the block's element (from the
	// extraction's "markup" attribute): a plain-text proposal would drop
	// them, so write-back refuses it and QA blocks its acceptance.
	Markup string `json:"markup,omitempty"`
	// Suggested is the Worker's optimized text ("" when there is none).
	Suggested string `json:"suggested,omitempty"`
	// State is one of model.ReviewStates.
	State string `json:"state"`
	// Text is the edited or accepted text of the decision.
	Text    string    `json:"text,omitempty"`
	Decided string    `json:"decided,omitempty"`
	QA      []QAIssue `json:"qa,omitempty"`
}

// Proposal is the text an accept would write: the edit when there is one,
// else the suggestion.
func (b ReviewBlock) Proposal() string {
	if b.Text != "" {
		return b.Text
	}
	return b.Suggested
}

// Finished reports whether the editor has dealt with the block (accepted or
// rejected), or there is nothing to decide (no proposal).
func (b ReviewBlock) Finished() bool {
	switch b.State {
	case model.ReviewAccepted, model.ReviewRejected, model.ReviewOriginal:
		return true
	}
	return false
}

// check runs the QA checks on proposal for this block: CheckProposal plus
// the write-back limit (an element with child markup cannot take plain text).
func (b ReviewBlock) check(proposal string) []QAIssue {
	qa := CheckProposal(b.Type, b.Original, proposal, b.Dimensions)
	if b.Markup != "" {
		qa = append(qa, QAIssue{Code: "markup_dropped", Severity: QAError,
			Message: fmt.Sprintf("the original holds markup (%s) that a plain-text replacement would drop; edit the HTML by hand", b.Markup)})
	}
	return qa
}

// HasQAError reports whether a QA check of severity error failed.
func (b ReviewBlock) HasQAError() bool {
	for _, q := range b.QA {
		if q.Severity == QAError {
			return true
		}
	}
	return false
}

// ReviewFilter selects blocks; zero fields match everything.
type ReviewFilter struct {
	PageID     string
	States     []string
	Dimensions map[string]string // every name=value must match
	BlockType  string
	// Fold: "above", "below" or "" (both).
	Fold string
	// QA: a QA code, "any" (some issue) or "" (no filter).
	QA string
	// Text: the block's path, original, proposal or edit contains it,
	// ignoring case ("" matches every block).
	Text string
}

func (f ReviewFilter) match(b ReviewBlock) bool {
	if f.PageID != "" && b.PageID != f.PageID {
		return false
	}
	if t := strings.TrimSpace(f.Text); t != "" && !containsFold(b.SourcePath, t) && !containsFold(b.Original, t) &&
		!containsFold(b.Suggested, t) && !containsFold(b.Text, t) {
		return false
	}
	if len(f.States) > 0 && !contains(f.States, b.State) {
		return false
	}
	for k, v := range f.Dimensions {
		if !strings.EqualFold(b.Dimensions[k], v) {
			return false
		}
	}
	if f.BlockType != "" && b.Type != f.BlockType {
		return false
	}
	switch f.Fold {
	case "above":
		if !b.AboveFold {
			return false
		}
	case "below":
		if b.AboveFold {
			return false
		}
	}
	switch f.QA {
	case "":
	case "any":
		if len(b.QA) == 0 {
			return false
		}
	default:
		found := false
		for _, q := range b.QA {
			found = found || q.Code == f.QA
		}
		if !found {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// textHash is the sha256 hex of a block's original text, stored with a
// decision so a rebuild that changes the text marks the decision stale.
func textHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// reviewBlocks derives the review view of one page from its record and its
// decisions.
func reviewBlocks(p model.PageData, r model.ReviewData) []ReviewBlock {
	// The one rule (model.Proposals): proposals of a current optimization
	// that differ from the block; a stale one offers none (DESIGN.md
	// section 4).
	suggested := p.Proposals()
	var out []ReviewBlock
	add := func(blocks []model.Block, above bool) {
		for _, b := range blocks {
			rb := ReviewBlock{
				PageID: p.PageID, SourcePath: p.SourcePath, BlockID: b.ID, Type: b.Type,
				AboveFold: above, Dimensions: p.Extraction.Dimensions, Original: b.Content,
				Markup: b.Attributes["markup"],
			}
			rb.Suggested = suggested[b.ID]
			rb.State, rb.Text, rb.Decided = blockState(b, rb.Suggested, r)
			if p := rb.Proposal(); p != "" {
				rb.QA = rb.check(p)
			}
			out = append(out, rb)
		}
	}
	add(model.HeadBlocks(p.Extraction), true)
	add(p.Extraction.AboveFoldBlocks, true)
	add(p.Extraction.RestOfPageBlocks, false)
	return out
}

// blockState is a block's review state, and the text and time of its
// decision, from its suggestion ("" for none) and the page's decisions.
func blockState(b model.Block, suggested string, r model.ReviewData) (state, text, decided string) {
	state = model.ReviewOriginal
	if suggested != "" {
		state = model.ReviewSuggested
	}
	d, ok := r.Blocks[b.ID]
	switch {
	case !ok:
	case d.OriginalHash != "" && d.OriginalHash != textHash(b.Content):
		return model.ReviewStale, "", d.Decided
	case d.State == model.ReviewOriginal:
		// an undone decision: back to what the block offers, with no
		// decision to date
	default:
		return d.State, d.Text, d.Decided
	}
	return state, "", ""
}

// ReviewPage returns the blocks of one page with their review state.
func (w *Workspace) ReviewPage(projectID, pageID string) ([]ReviewBlock, error) {
	p, err := w.store.GetPage(projectID, pageID)
	if err != nil {
		return nil, fmt.Errorf("review page %s: %w", pageID, err)
	}
	r, err := w.store.GetReview(projectID, pageID)
	if err != nil && !errors.Is(err, localstore.ErrNotFound) {
		return nil, fmt.Errorf("review page %s: %w", pageID, err)
	}
	return reviewBlocks(p, r), nil
}

// ReviewBlocks returns every block of the project matching f, in page
// (source path) then document order. The page index tells which pages can
// hold a match (their dimensions, path and counts of blocks per state), so
// only those pages' records are read: a filter on suggested blocks of a
// 100,000-page site of which 200 pages have proposals reads 200 pages.
func (w *Workspace) ReviewBlocks(ctx context.Context, projectID string, f ReviewFilter) ([]ReviewBlock, error) {
	type candidate struct{ id, path string }
	var cands []candidate
	scan := w.summaries
	switch {
	case f.PageID != "":
		scan = func(ctx context.Context, projectID string, fn func(s *pageSummaryRec) error) error {
			s, ok, err := w.summaryOf(ctx, projectID, f.PageID)
			if err != nil || !ok {
				return err
			}
			return fn(&s)
		}
	case len(f.States) > 0 && !contains(f.States, model.ReviewOriginal):
		scan = w.reviewSummaries // only pages with a proposal or a decision
	}
	if err := scan(ctx, projectID, func(s *pageSummaryRec) error {
		if f.mayMatch(s) {
			cands = append(cands, candidate{s.PageID, s.SourcePath})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list pages of %s for review: %w", projectID, err)
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].path < cands[j].path })
	var out []ReviewBlock
	err := w.store.View(func(tx *localstore.Tx) error {
		for i, c := range cands {
			if i > 0 && i%releaseEvery == 0 {
				tx.ReleaseMapped()
			}
			p, ok, err := getJSON[model.PageData](tx, model.NSPages, model.PageKey(projectID, c.id))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			r, _, err := getJSON[model.ReviewData](tx, model.NSPages, model.ReviewKey(projectID, c.id))
			if err != nil {
				return err
			}
			for _, b := range reviewBlocks(p, r) {
				if f.match(b) {
					out = append(out, b)
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pages of %s for review: %w", projectID, err)
	}
	return out, nil
}

// mayMatch reports whether a page with summary s can hold a block f
// matches (false only when it certainly holds none).
func (f ReviewFilter) mayMatch(s *pageSummaryRec) bool {
	if f.PageID != "" && s.PageID != f.PageID {
		return false
	}
	for k, v := range f.Dimensions {
		if !strings.EqualFold(s.Dimensions.Get(k), v) {
			return false
		}
	}
	if len(f.States) > 0 {
		any := false
		for _, st := range f.States {
			any = any || s.States[st] > 0
		}
		if !any {
			return false
		}
	}
	// QA findings are on proposals (ReviewBlock.Proposal: a decision's
	// text or the suggestion).
	if f.QA != "" && s.Proposing == 0 {
		return false
	}
	return true
}

// BlockRef names one block of one page.
type BlockRef struct{ PageID, BlockID string }

// Decide records the editor's decision on one block and returns the block as
// it now stands. state is accepted, rejected, edited or original (undo).
// For accepted, text "" accepts the current proposal (edit, else the
// suggestion); QA errors on the accepted text return ErrQABlocked.
// For edited, text is the editor's text.
func (w *Workspace) Decide(ctx context.Context, projectID, pageID, blockID, state, text string) (ReviewBlock, error) {
	out, err := w.decide(ctx, projectID, []BlockRef{{pageID, blockID}}, state, text, false)
	if err != nil {
		return ReviewBlock{}, err
	}
	return out[0], nil
}

// DecideAll applies one decision (accepted or rejected) to many blocks in one
// transaction per call. It stops at the first block that cannot take it
// (QA errors, nothing to accept) and writes nothing then; use SkipBlocked
// to filter such blocks out first.
func (w *Workspace) DecideAll(ctx context.Context, projectID string, refs []BlockRef, state string) ([]ReviewBlock, error) {
	return w.decideBulk(ctx, projectID, refs, state, false)
}

func (w *Workspace) decideBulk(ctx context.Context, projectID string, refs []BlockRef, state string, onlyUndecided bool) ([]ReviewBlock, error) {
	if state != model.ReviewAccepted && state != model.ReviewRejected {
		return nil, fmt.Errorf("bulk decision: state %q: only accepted or rejected apply in bulk", state)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	return w.decide(ctx, projectID, refs, state, "", onlyUndecided)
}

// DecideUndecided is DecideAll for bulk actions: a block that is no longer
// undecided when the transaction runs (the editor, or a pull, decided it
// after the list was read) is left as it is and not in the result.
func (w *Workspace) DecideUndecided(ctx context.Context, projectID string, refs []BlockRef, state string) ([]ReviewBlock, error) {
	return w.decideBulk(ctx, projectID, refs, state, true)
}

// Undecided splits blocks into those a bulk action may decide (a proposal
// no editor has decided yet: state suggested) and those it must leave alone
// (accepted, rejected, edited, stale or without a proposal). DESIGN.md
// section 7: bulk actions, on a selection or on every block matching a
// filter, act on undecided blocks only; an editor's decision changes only
// by an explicit choice on that block.
func Undecided(blocks []ReviewBlock) (todo []ReviewBlock, left []ReviewBlock) {
	for _, b := range blocks {
		if b.State == model.ReviewSuggested {
			todo = append(todo, b)
		} else {
			left = append(left, b)
		}
	}
	return todo, left
}

// Acceptable filters blocks down to those an accept can apply to: with a
// proposal, not stale, and without QA errors.
func Acceptable(blocks []ReviewBlock) (ok []ReviewBlock, blocked []ReviewBlock) {
	for _, b := range blocks {
		if b.Proposal() == "" || b.State == model.ReviewStale || b.HasQAError() {
			blocked = append(blocked, b)
			continue
		}
		ok = append(ok, b)
	}
	return ok, blocked
}

func (w *Workspace) decide(ctx context.Context, projectID string, refs []BlockRef, state, text string, onlyUndecided bool) ([]ReviewBlock, error) {
	switch state {
	case model.ReviewAccepted, model.ReviewRejected, model.ReviewEdited, model.ReviewOriginal:
	default:
		return nil, fmt.Errorf("decide: state %q is not one of accepted|rejected|edited|original", state)
	}
	if state == model.ReviewEdited && strings.TrimSpace(text) == "" {
		return nil, errors.New("decide: an edit needs text (reject the block to keep the original)")
	}
	var result []ReviewBlock
	err := w.store.Update(ctx, func(tx *localstore.Tx) error {
		result = result[:0]
		stamp := model.FormatTime(time.Now())
		byPage := map[string][]string{}
		var order []string
		for _, r := range refs {
			if _, seen := byPage[r.PageID]; !seen {
				order = append(order, r.PageID)
			}
			byPage[r.PageID] = append(byPage[r.PageID], r.BlockID)
		}
		for _, pageID := range order {
			p, ok, err := getJSON[model.PageData](tx, model.NSPages, model.PageKey(projectID, pageID))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("decide on %s: %w (page %s not in project %s)", pageID, ErrNoBlock, pageID, projectID)
			}
			rkey := model.ReviewKey(projectID, pageID)
			r, _, err := getJSON[model.ReviewData](tx, model.NSPages, rkey)
			if err != nil {
				return err
			}
			if r.Blocks == nil {
				r = model.ReviewData{PageID: pageID, ProjectID: projectID, Blocks: map[string]model.ReviewDecision{}}
			}
			// Stamps must move forward even when two decisions land in the
			// same millisecond, or the merge (later wins) would drop one.
			decided := stamp
			if !laterThan(decided, r.Updated) {
				decided = laterStamp(r.Updated, time.Now())
			}
			changed := 0
			var unchanged []ReviewBlock // undos with nothing to undo
			for _, blockID := range byPage[pageID] {
				cur, ok := findBlock(reviewBlocks(p, r), blockID)
				if !ok {
					return fmt.Errorf("decide on %s %s: %w", p.SourcePath, blockID, ErrNoBlock)
				}
				if onlyUndecided && cur.State != model.ReviewSuggested {
					continue // decided meanwhile: the editor's decision stays
				}
				if prev, had := r.Blocks[blockID]; state == model.ReviewOriginal && (!had || prev.State == model.ReviewOriginal) {
					// Nothing to undo: no decision written, nothing to push.
					unchanged = append(unchanged, cur)
					continue
				}
				d := model.ReviewDecision{State: state, OriginalHash: textHash(cur.Original), Decided: decided}
				switch state {
				case model.ReviewAccepted:
					accept := text
					if accept == "" {
						if cur.State == model.ReviewStale {
							return fmt.Errorf("accept %s %s: the original changed since the proposal; review it again", p.SourcePath, blockID)
						}
						accept = cur.Proposal()
					}
					if accept == "" {
						return fmt.Errorf("accept %s %s: %w (no suggestion or edit)", p.SourcePath, blockID, ErrNoProposal)
					}
					for _, q := range cur.check(accept) {
						if q.Severity == QAError {
							return fmt.Errorf("accept %s %s: %w: %s", p.SourcePath, blockID, ErrQABlocked, q.Message)
						}
					}
					d.Text = accept
				case model.ReviewEdited:
					d.Text = text
				}
				r.Blocks[blockID] = d
				changed++
			}
			if changed == 0 {
				result = append(result, unchanged...)
				continue // every block of the page was decided meanwhile, or had nothing to undo
			}
			r.Updated = decided
			if err := tx.PutJSON(model.NSPages, rkey, r); err != nil {
				return fmt.Errorf("store decisions on %s: %w", p.SourcePath, err)
			}
			all := reviewBlocks(p, r)
			for _, blockID := range byPage[pageID] {
				b, _ := findBlock(all, blockID)
				if onlyUndecided && b.State != state {
					continue // left as it was
				}
				result = append(result, b)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return result, nil
}

func laterThan(a, b string) bool {
	ta, err1 := model.ParseTime(a)
	tb, err2 := model.ParseTime(b)
	if err2 != nil {
		return true
	}
	return err1 == nil && ta.After(tb)
}

func findBlock(blocks []ReviewBlock, id string) (ReviewBlock, bool) {
	for _, b := range blocks {
		if b.BlockID == id {
			return b, true
		}
	}
	return ReviewBlock{}, false
}
