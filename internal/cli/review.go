package cli

// Commands for the offline review of the Worker's proposals (workspace/review.go):
// review list, accept, reject, edit, undo. The same use case the GUI's Review
// screen runs, scriptable.

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// reviewCommands are the review commands (the table: commandTable in cli.go).
func reviewCommands() []command {
	filters := "[--project P] [--page ID] [--state S,S] [--dimension name=value]... [--type h1] [--fold above|below] [--qa CODE|any]"
	return []command{
		{
			Name:    "review list",
			Usage:   "nimbus review list " + filters,
			Summary: "list blocks with their review state, proposal and QA findings (default: blocks with a proposal)",
			Run:     reviewList,
		},
		{
			Name:    "review accept",
			Usage:   "nimbus review accept [--page ID --block ID [--text T]] | " + filters,
			Summary: "accept one block, or every matching proposal that passes QA (QA errors and stale blocks are skipped and counted)",
			Run:     func(ctx context.Context, e *env, args []string) error { return reviewDecide(ctx, e, "accept", args) },
		},
		{
			Name:    "review reject",
			Usage:   "nimbus review reject [--page ID --block ID] | " + filters,
			Summary: "reject one block, or every matching proposal (the original text stays)",
			Run:     func(ctx context.Context, e *env, args []string) error { return reviewDecide(ctx, e, "reject", args) },
		},
		{
			Name:    "review edit",
			Usage:   "nimbus review edit --page ID --block ID --text T",
			Summary: "store the editor's own text for a block (accept it afterwards)",
			Run:     func(ctx context.Context, e *env, args []string) error { return reviewDecide(ctx, e, "edit", args) },
		},
		{
			Name:    "review undo",
			Usage:   "nimbus review undo --page ID --block ID",
			Summary: "take back the decision on a block (a newer 'original' decision; nothing is deleted)",
			Run:     func(ctx context.Context, e *env, args []string) error { return reviewDecide(ctx, e, "undo", args) },
		},
	}
}

// dimFlags collects repeated --dimension name=value flags.
type dimFlags map[string]string

func (d dimFlags) String() string {
	parts := make([]string, 0, len(d))
	for k, v := range d {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (d dimFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
		return fmt.Errorf("%q is not name=value (e.g. brand=rolex)", s)
	}
	d[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}

// reviewFlags are the filter flags shared by the review commands.
type reviewFlags struct {
	project, page, block, text string
	states, blockType, fold    string
	qa                         string
	dims                       dimFlags
}

func (f *reviewFlags) register(fs *flag.FlagSet) {
	f.dims = dimFlags{}
	fs.StringVar(&f.project, "project", "", "project ID (default: the current project)")
	fs.StringVar(&f.page, "page", "", "page ID (page_...)")
	fs.StringVar(&f.block, "block", "", "block ID (block-N); with --page decides one block")
	fs.StringVar(&f.states, "state", "", "comma-separated states: "+strings.Join(model.ReviewStates, ",")+" (default: blocks with a proposal)")
	fs.Var(f.dims, "dimension", "name=value, repeatable (e.g. brand=rolex)")
	fs.StringVar(&f.blockType, "type", "", "block type (h1, p, li, ...)")
	fs.StringVar(&f.fold, "fold", "", "above or below (the fold)")
	fs.StringVar(&f.qa, "qa", "", "QA code (price_changed, name_missing, ...) or any")
}

func (f *reviewFlags) filter(defaultStates []string) (workspace.ReviewFilter, error) {
	rf := workspace.ReviewFilter{PageID: f.page, Dimensions: f.dims, BlockType: f.blockType, QA: f.qa}
	switch f.fold {
	case "", "above", "below":
		rf.Fold = f.fold
	default:
		return rf, usagef("--fold %q: want above or below", f.fold)
	}
	if f.states == "" {
		rf.States = defaultStates
	} else {
		for _, s := range strings.Split(f.states, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(model.ReviewStates, s) {
				return rf, usagef("--state %q is not one of %s", s, strings.Join(model.ReviewStates, "|"))
			}
			rf.States = append(rf.States, s)
		}
	}
	return rf, nil
}

// withProposal are the states of blocks that have something to decide or
// were decided.
var withProposal = []string{model.ReviewSuggested, model.ReviewEdited, model.ReviewAccepted, model.ReviewRejected, model.ReviewStale}

func reviewList(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("review list", flag.ContinueOnError)
	var f reviewFlags
	f.register(fs)
	pos, err := e.parse("review list", args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("review list: unexpected argument %q (usage: %s)", pos[0], commandUsage("review list"))
	}
	rf, err := f.filter(withProposal)
	if err != nil {
		return err
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	pid, err := w.ResolveProject(f.project)
	if err != nil {
		return err
	}
	blocks, err := w.ReviewBlocks(ctx, pid, rf)
	if err != nil {
		return err
	}
	if e.JSON {
		if blocks == nil {
			blocks = []workspace.ReviewBlock{}
		}
		return e.printJSON(blocks)
	}
	if len(blocks) == 0 {
		e.printf("no blocks match\n")
		return nil
	}
	for _, b := range blocks {
		e.printf("%-9s %s %s %s (%s)\n", b.State, b.PageID, b.BlockID, b.SourcePath, b.Type)
		e.printf("  original: %s\n", b.Original)
		if p := b.Proposal(); p != "" {
			e.printf("  proposal: %s\n", p)
		}
		for _, q := range b.QA {
			e.printf("  QA %s %s: %s\n", q.Severity, q.Code, q.Message)
		}
	}
	ok, _ := workspace.Acceptable(blocks)
	e.printf("%d blocks, %d acceptable\n", len(blocks), len(ok))
	return nil
}

// bulkChunk bounds one bulk transaction.
const reviewBulkChunk = 500

func reviewDecide(ctx context.Context, e *env, verb string, args []string) error {
	name := "review " + verb
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var f reviewFlags
	f.register(fs)
	fs.StringVar(&f.text, "text", "", "the text to store (edit) or accept instead of the proposal (accept)")
	pos, err := e.parse(name, args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s: unexpected argument %q (usage: %s)", name, pos[0], commandUsage(name))
	}
	state := map[string]string{"accept": model.ReviewAccepted, "reject": model.ReviewRejected, "edit": model.ReviewEdited, "undo": model.ReviewOriginal}[verb]
	single := f.page != "" && f.block != ""
	if !single && (verb == "edit" || verb == "undo") {
		return usagef("%s needs --page and --block (usage: %s)", name, commandUsage(name))
	}
	if f.block != "" && f.page == "" {
		return usagef("%s: --block needs --page", name)
	}
	if verb == "edit" && strings.TrimSpace(f.text) == "" {
		return usagef("review edit needs --text")
	}
	if f.text != "" && !single {
		return usagef("%s: --text applies to one block (--page and --block)", name)
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	pid, err := w.ResolveProject(f.project)
	if err != nil {
		return err
	}
	if single {
		b, err := w.Decide(ctx, pid, f.page, f.block, state, f.text)
		if err != nil {
			return err
		}
		if e.JSON {
			return e.printJSON(b)
		}
		e.printf("%s %s %s: %s\n", b.SourcePath, b.BlockID, b.State, b.Proposal())
		return nil
	}

	// Bulk: every matching block still to decide (or, for reject, also the
	// accepted ones when --state says so).
	rf, err := f.filter([]string{model.ReviewSuggested, model.ReviewEdited})
	if err != nil {
		return err
	}
	blocks, err := w.ReviewBlocks(ctx, pid, rf)
	if err != nil {
		return err
	}
	targets, skipped := blocks, []workspace.ReviewBlock(nil)
	if state == model.ReviewAccepted {
		targets, skipped = workspace.Acceptable(blocks)
	}
	refs := make([]workspace.BlockRef, len(targets))
	for i, b := range targets {
		refs[i] = workspace.BlockRef{PageID: b.PageID, BlockID: b.BlockID}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].PageID < refs[j].PageID })
	done := 0
	for start := 0; start < len(refs); start += reviewBulkChunk {
		end := min(start+reviewBulkChunk, len(refs))
		got, err := w.DecideAll(ctx, pid, refs[start:end], state)
		if err != nil {
			return fmt.Errorf("%s: after %d blocks: %w", name, done, err)
		}
		done += len(got)
	}
	if e.JSON {
		return e.printJSON(map[string]any{"project_id": pid, "state": state, "decided": done, "skipped": skippedReasons(skipped)})
	}
	e.printf("%s %d blocks", state, done)
	if len(skipped) > 0 {
		e.printf("; %d skipped:", len(skipped))
		for reason, n := range skippedReasons(skipped) {
			e.printf(" %s %d", reason, n)
		}
	}
	e.printf(" (run 'nimbus push' or 'nimbus sync' to send the decisions)\n")
	return nil
}

// skippedReasons counts why blocks could not be accepted.
func skippedReasons(blocks []workspace.ReviewBlock) map[string]int {
	out := map[string]int{}
	for _, b := range blocks {
		switch {
		case b.State == model.ReviewStale:
			out["stale"]++
		case b.Proposal() == "":
			out["no_proposal"]++
		default:
			for _, q := range b.QA {
				if q.Severity == workspace.QAError {
					out["qa_"+q.Code]++
					break
				}
			}
		}
	}
	return out
}
