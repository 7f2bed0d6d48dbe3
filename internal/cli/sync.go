package cli

// Commands for sync with Cloudflare Workers KV: setup, push, pull, sync,
// submit and status (workspace/sync.go, package sync).

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// syncCommands are the sync commands (the table: commandTable in cli.go).
func syncCommands() []command {
	return []command{
		{
			Name:    "setup",
			Usage:   "nimbus setup [--account ID] [--token-stdin] [--prefix NIMBUS_] [--rate 3]",
			Summary: "find the eleven KV namespaces by title, create the missing ones, save their IDs (and the token, from stdin, to the keyring)",
			Run:     syncSetup,
		},
		{
			Name:    "push",
			Usage:   "nimbus push",
			Summary: "write the waiting local changes to Cloudflare KV (bulk, merged with newer remote values)",
			Run:     func(ctx context.Context, e *env, args []string) error { return syncRun(ctx, e, "push", args) },
		},
		{
			Name:    "pull",
			Usage:   "nimbus pull",
			Summary: "fetch what changed in Cloudflare KV (status, results, logs, other editors' work) into the local mirror",
			Run:     func(ctx context.Context, e *env, args []string) error { return syncRun(ctx, e, "pull", args) },
		},
		{
			Name:    "sync",
			Usage:   "nimbus sync [--watch] [--fast 10s] [--slow 2m]",
			Summary: "pull then push; --watch keeps syncing (fast while a batch is processing, slow when idle)",
			Run:     func(ctx context.Context, e *env, args []string) error { return syncRun(ctx, e, "sync", args) },
		},
		{
			Name:    "submit",
			Usage:   "nimbus submit [--project P] [--batch B] [--priority 1-10] [--pages ID,ID] [--failed]",
			Summary: "queue pages for the Worker: batches to queued, queue items, statuses (split by max_pages_per_batch)",
			Run:     syncSubmit,
		},
		{
			Name:    "status",
			Usage:   "nimbus status [--project P] [--batch B] [--watch] [--interval 5s]",
			Summary: "page counts by status per project or batch and changes waiting; --watch pulls and redraws",
			Run:     syncStatus,
		},
	}
}

func syncLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func syncSetup(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	account := fs.String("account", "", "Cloudflare account ID (default $CLOUDFLARE_ACCOUNT_ID or the saved one)")
	tokenStdin := fs.Bool("token-stdin", false, "read the API token from stdin and save it in the OS keyring (or a 0600 file)")
	prefix := fs.String("prefix", "", "namespace title prefix (default NIMBUS_)")
	rate := fs.Float64("rate", 0, fmt.Sprintf("requests per second for the account, %g to %g (default 3)", workspace.MinSyncRate, workspace.MaxSyncRate))
	pos, err := e.parse("setup", args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("setup: unexpected argument %q (usage: %s)", pos[0], commandUsage("setup"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	o := workspace.SetupOptions{Prefix: *prefix, SyncOptions: workspace.SyncOptions{Rate: *rate, Logger: syncLogger(e)}}
	if *account != "" || *tokenStdin {
		c, _ := w.LoadCredentials() // may be incomplete: completed below
		if *account != "" {
			c.AccountID = *account
		}
		if *tokenStdin {
			line, err := bufio.NewReader(e.Stdin).ReadString('\n')
			if err != nil && err != io.EOF {
				return fmt.Errorf("setup: read token from stdin: %w", err)
			}
			c.Token, c.Source = strings.TrimSpace(line), "stdin"
			o.SaveToken = true
		}
		if c.AccountID == "" || c.Token == "" {
			return workspace.ErrNoCredentials
		}
		o.Credentials = &c
	}
	rateSet := false
	fs.Visit(func(f *flag.Flag) { rateSet = rateSet || f.Name == "rate" })
	if rateSet {
		// The one check of the request budget, the GUI's Settings' too.
		if err := w.SetSyncRate(*rate); err != nil {
			return usagef("setup --rate: %v", err)
		}
	}
	res, err := w.Setup(ctx, o)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(res)
	}
	e.printf("account %s: %d namespaces found, %d created (prefix %s)\n", res.AccountID, len(res.Found), len(res.Created), res.Prefix)
	for _, t := range res.Created {
		e.printf("  created %s\n", t)
	}
	if res.TokenSaved != "" {
		e.printf("token saved (%s)\n", res.TokenSaved)
	}
	return nil
}

type syncJSON struct {
	Stats workspace.SyncStats `json:"stats"`
	State workspace.SyncState `json:"state"`
}

func syncRun(ctx context.Context, e *env, name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var watch *bool
	var fast, slow *time.Duration
	if name == "sync" {
		watch = fs.Bool("watch", false, "keep syncing until interrupted")
		fast = fs.Duration("fast", 10*time.Second, "poll interval while a batch is processing")
		slow = fs.Duration("slow", 2*time.Minute, "poll interval when idle")
	}
	pos, err := e.parse(name, args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s: unexpected argument %q (usage: %s)", name, pos[0], commandUsage(name))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	eng, err := w.Syncer(workspace.SyncOptions{Logger: syncLogger(e)})
	if err != nil {
		return err
	}
	report := func(st workspace.SyncStats, err error) error {
		state := eng.State()
		if e.JSON {
			if jerr := e.printJSON(syncJSON{Stats: st, State: state}); jerr != nil {
				return jerr
			}
			return err
		}
		e.printf("%s: %d written (%d merged first, %d already there), %d pulled, %d quarantined; %d requests (%d lists, %d bulk gets, %d bulk writes)\n",
			name, st.Written, st.Merged, st.Acked, st.Pulled, st.Quarantined, st.Lists+st.BulkGets+st.BulkPuts, st.Lists, st.BulkGets, st.BulkPuts)
		online := "online"
		switch {
		case st.Lists+st.BulkGets+st.BulkPuts == 0 && err == nil:
			// No request was needed: nothing new is known of the remote,
			// and "offline" would be a false alarm.
			online = "nothing to send (the remote was not contacted)"
		case !state.Online:
			online = "offline"
		}
		e.printf("%s, %d changes waiting, %d writes today (%s UTC)\n", online, state.Waiting, state.WritesToday, state.WritesDay)
		return err
	}
	if watch != nil && *watch {
		err := eng.Watch(ctx, workspace.WatchOptions{Fast: *fast, Slow: *slow,
			Busy: func() bool {
				s, err := w.Status(ctx, "", "")
				return err == nil && s.Busy()
			},
			After: watchAfter(ctx, e, report)})
		if ctx.Err() != nil {
			return nil // interrupted: a normal way to stop watching
		}
		return err
	}
	var st workspace.SyncStats
	switch name {
	case "push":
		st, err = eng.Push(ctx)
	case "pull":
		st, err = eng.Pull(ctx)
	default:
		st, err = eng.Sync(ctx)
	}
	return report(st, err)
}

// watchAfter reports each round of `sync --watch`. A round cut short by
// Ctrl-C is not reported: it did not fail, and "sync failed (will retry):
// context canceled" was the last line every interrupted watch printed.
func watchAfter(ctx context.Context, e *env, report func(workspace.SyncStats, error) error) func(workspace.SyncStats, error) {
	return func(st workspace.SyncStats, err error) {
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			e.printf("sync failed (will retry): %s\n", oneLine(err.Error()))
		}
		_ = report(st, nil)
	}
}

func syncSubmit(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	var o workspace.SubmitOptions
	fs.StringVar(&o.ProjectID, "project", "", "project ID (default: the current project)")
	fs.StringVar(&o.BatchID, "batch", "", "submit this existing batch")
	fs.IntVar(&o.Priority, "priority", 5, "queue priority 1-10 (10 first)")
	pages := fs.String("pages", "", "comma-separated page IDs (default: every page not yet submitted)")
	fs.BoolVar(&o.Failed, "failed", false, "resubmit the failed pages (of --batch, or of the whole project) in a new batch")
	pos, err := e.parse("submit", args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("submit: unexpected argument %q (usage: %s)", pos[0], commandUsage("submit"))
	}
	if o.Priority < 1 || o.Priority > 10 {
		return usagef("submit: --priority %d is not within 1-10", o.Priority)
	}
	if *pages != "" {
		o.PageIDs = strings.Split(*pages, ",")
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	res, err := w.Submit(ctx, o)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(res)
	}
	e.printf("submitted %d pages in %d batches: %s (run 'nimbus push' or 'nimbus sync' to send them)\n", res.Pages, len(res.Batches), batchList(res.Batches))
	return nil
}

func syncStatus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	batch := fs.String("batch", "", "only this batch")
	watch := fs.Bool("watch", false, "pull and redraw until nothing is queued or processing")
	interval := fs.Duration("interval", 5*time.Second, "redraw interval with --watch")
	pos, err := e.parse("status", args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("status: unexpected argument %q (usage: %s)", pos[0], commandUsage("status"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	var eng *workspace.Syncer
	if *watch {
		if eng, err = w.Syncer(workspace.SyncOptions{Logger: syncLogger(e)}); err != nil {
			return err
		}
	}
	for {
		if eng != nil {
			if _, err := eng.Sync(ctx); err != nil && ctx.Err() == nil {
				e.printf("sync failed (will retry): %s\n", oneLine(err.Error()))
			}
		}
		s, err := w.Status(ctx, *project, *batch)
		if err != nil {
			return err
		}
		if e.JSON {
			if err := e.printJSON(s); err != nil {
				return err
			}
		} else {
			if eng != nil {
				e.printf("\033[H\033[2J") // redraw in place
			}
			printStatus(e, s)
		}
		if eng == nil || !s.Busy() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

func printStatus(e *env, s workspace.StatusSummary) {
	scope := "project " + s.ProjectID
	if s.BatchID != "" {
		scope += ", batch " + s.BatchID
	}
	e.printf("%s: %d pages\n", scope, s.Pages)
	for _, st := range []string{"not_submitted", "uploaded", "queued", "processing", "done", "failed"} {
		if n := s.Counts[st]; n > 0 {
			e.printf("  %-14s %d\n", st, n)
		}
	}
	for _, b := range s.Batches {
		switch {
		case b.Status == model.BatchUploading:
			// An import's upload batch: no work in flight.
			e.printf("  batch %s  %-10s %d pages imported, not submitted yet (nimbus submit)\n", b.BatchID, b.Status, b.PageCount)
		case b.Status == model.BatchQueued || b.Status == model.BatchProcessing:
			e.printf("  batch %s  %-10s %d pages: %d done, %d failed, %d pending\n", b.BatchID, b.Status, b.PageCount, b.Summary.Completed, b.Summary.Failed, b.Summary.Pending)
		default:
			e.printf("  batch %s  %-10s %d pages: %d done, %d failed, %d not submitted\n", b.BatchID, b.Status, b.PageCount, b.Summary.Completed, b.Summary.Failed, b.Summary.Pending)
		}
	}
	e.printf("%d changes waiting to be pushed\n", s.Waiting)
}
