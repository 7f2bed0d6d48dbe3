package cli

// Commands for intake (workspace/intake*.go): import a site folder, watch it,
// list pages, the page audit and the export with reviewed blocks written
// back.

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// intakeCommands are the intake commands (the table: commandTable in cli.go).
func intakeCommands() []command {
	return []command{
		{
			Name:    "import",
			Usage:   "nimbus import DIR [--project P] [--workers N] [--another-folder]",
			Summary: "extract every changed HTML page of a site folder into the local store (progress on stderr)",
			Run:     importCommand,
		},
		{
			Name:    "watch",
			Usage:   "nimbus watch DIR [--project P] [--another-folder]",
			Summary: "import a site folder, then keep importing what changes until interrupted",
			Run:     watchCommand,
		},
		{
			Name:    "pages",
			Usage:   "nimbus pages [--project P] [--dimension name=value]... [--csv]",
			Summary: "list the project's pages with dimensions, status and audit issue counts",
			Run:     pagesCommand,
		},
		{
			Name:    "audit",
			Usage:   "nimbus audit [--project P] [--csv]",
			Summary: "page issues (missing/duplicate title, description, h1, canonical; lengths; word count)",
			Run:     auditCommand,
		},
		{
			Name:    "export",
			Usage:   "nimbus export --out DIR [--batch B] [--project P] [--source DIR]",
			Summary: "copy the site into a new folder with accepted and edited blocks written back",
			Run:     exportCommand,
		},
	}
}

// intakeProject resolves --project, or the current project; with neither,
// a project named after the site (the folder's parent, e.g. example.com for
// example.com/dist) is created, as the GUI does on the first drop.
func intakeProject(ctx context.Context, w *workspace.Workspace, flagProject, dir string) (string, error) {
	pid, err := w.ResolveProject(flagProject)
	if err == nil || !errors.Is(err, workspace.ErrNoProject) || flagProject != "" {
		return pid, err
	}
	p, err := w.CreateProject(ctx, workspace.SuggestProjectName(dir), workspace.ProjectOptions{})
	if err != nil {
		return "", fmt.Errorf("create a project for %s: %w", dir, err)
	}
	return p.ProjectID, nil
}

// progressPrinter writes "done/total file" to stderr at most ten times a
// second, and the final count.
func progressPrinter(e *env) (func(workspace.ImportProgress), func()) {
	// A live counter needs a terminal; piped stderr gets the final line only.
	live := false
	if f, ok := e.Stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			live = true
		}
	}
	var mu sync.Mutex
	var last time.Time
	var shown bool
	var final workspace.ImportProgress
	report := func(p workspace.ImportProgress) {
		mu.Lock()
		defer mu.Unlock()
		final = p
		shown = true
		if !live || (time.Since(last) < 100*time.Millisecond && p.Done != p.Total) {
			return
		}
		last = time.Now()
		fmt.Fprintf(e.Stderr, "\rimporting %d/%d %s\x1b[K", p.Done, p.Total, p.Current)
	}
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case shown && live:
			fmt.Fprintf(e.Stderr, "\rimported %d/%d files\x1b[K\n", final.Done, final.Total)
		case shown:
			fmt.Fprintf(e.Stderr, "imported %d/%d files\n", final.Done, final.Total)
		}
	}
	return report, finish
}

// batchList names batches for a line of output: all of them up to five,
// else the first and last with the count between (a 100,000-page import
// makes 100 upload batches; --json lists every one).
func batchList(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, " ")
	}
	return fmt.Sprintf("%s … %s (%d)", ids[0], ids[len(ids)-1], len(ids))
}

func printImport(e *env, r workspace.ImportResult) {
	e.printf("%s: %d files, %d pages written, %d unchanged, %d failed, %d missing", r.Root, r.Files, r.Written, r.Unchanged, r.Failed, r.Missing)
	switch {
	case len(r.Batches) > 1:
		e.printf(", batches %s", batchList(r.Batches))
	case r.BatchID != "":
		e.printf(", batch %s", r.BatchID)
	}
	e.printf(" (%d ms)\n", r.DurationMs)
	for _, fe := range r.Errors {
		e.printf("  failed %s: %s\n", fe.SourcePath, fe.Reason)
	}
}

func importCommand(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	workers := fs.Int("workers", 0, "extraction workers (default: one per CPU)")
	another := fs.Bool("another-folder", false, "import DIR into the project even though it looks like another site (the project's other pages are marked source missing)")
	pos, err := e.parse("import", args, fs)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("import needs one folder (usage: %s)", commandUsage("import"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	pid, err := intakeProject(ctx, w, *project, pos[0])
	if err != nil {
		return err
	}
	report, finish := progressPrinter(e)
	r, err := w.Import(ctx, pos[0], workspace.ImportOptions{ProjectID: pid, Progress: report, Workers: *workers, AnotherFolder: *another})
	finish()
	if errors.Is(err, workspace.ErrOtherSite) {
		return fmt.Errorf("%w (nimbus project create --name NAME, then import it; or add --another-folder)", err)
	}
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(r)
	}
	printImport(e, r)
	return nil
}

func watchCommand(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	another := fs.Bool("another-folder", false, "watch DIR for the project even though it looks like another site")
	pos, err := e.parse("watch", args, fs)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("watch needs one folder (usage: %s)", commandUsage("watch"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	if fi, err := os.Stat(pos[0]); err != nil || !fi.IsDir() {
		return fmt.Errorf("watch %s: not a folder that can be read", pos[0])
	}
	pid, err := intakeProject(ctx, w, *project, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "watching %s (Ctrl-C to stop)\n", pos[0])
	first := true
	err = w.WatchFolder(ctx, pos[0], workspace.ImportOptions{ProjectID: pid, AnotherFolder: *another}, func(r workspace.ImportResult, err error) {
		initial := first
		first = false
		switch {
		case err != nil && initial:
			// WatchFolder returns the first import's error too: main prints it.
		case err != nil:
			fmt.Fprintf(e.Stderr, "nimbus: %v\n", err)
		case e.JSON:
			_ = e.printJSON(r)
		case initial || r.Written+r.Failed+r.Missing > 0 || r.BatchID != "":
			printImport(e, r)
		}
	}, func(msg string) { fmt.Fprintln(e.Stderr, "nimbus: "+msg) })
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func pagesCommand(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("pages", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	dims := dimFlags{}
	fs.Var(dims, "dimension", "only pages with this dimension value, name=value (repeatable)")
	asCSV := fs.Bool("csv", false, "write the GUI's Pages table as CSV (RFC 4180): path, title, dimensions, issues, status, review")
	pos, err := e.parse("pages", args, fs)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("pages takes no arguments (usage: %s)", commandUsage("pages"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	if *asCSV {
		pid, err := w.ResolveProject(*project)
		if err != nil {
			return err
		}
		rows, err := w.PageRows(ctx, pid, 0)
		if err != nil {
			return err
		}
		keep := rows[:0]
		for _, r := range rows {
			match := true
			for k, v := range dims {
				match = match && strings.EqualFold(r.Dimensions.Get(k), v)
			}
			if match {
				keep = append(keep, r)
			}
		}
		return workspace.WritePagesCSV(ctx, e.Stdout, keep)
	}
	lines, err := w.Pages(ctx, *project, dims)
	if err != nil {
		return err
	}
	if e.JSON {
		if lines == nil {
			lines = []workspace.PageLine{}
		}
		return e.printJSON(lines)
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tPATH\tSTATUS\tBLOCKS\tISSUES\tDIMENSIONS\tTITLE")
	for _, l := range lines {
		status := l.Status
		if status == "" {
			status = "-"
		}
		if l.SourceMissing {
			status += " (source missing)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", l.PageID, l.SourcePath, status, l.Blocks, l.Issues, dimFlags(l.Dimensions).String(), l.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	e.printf("%d pages\n", len(lines))
	return nil
}

func auditCommand(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	asCSV := fs.Bool("csv", false, "write CSV (one row per page issue)")
	pos, err := e.parse("audit", args, fs)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("audit takes no arguments (usage: %s)", commandUsage("audit"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	rows, err := w.Audit(ctx, *project)
	if err != nil {
		return err
	}
	switch {
	case e.JSON:
		if rows == nil {
			rows = []workspace.AuditRow{}
		}
		return e.printJSON(rows)
	case *asCSV:
		cw := csv.NewWriter(e.Stdout)
		_ = cw.Write([]string{"source_path", "page_id", "severity", "code", "message", "title_length", "description_length", "h1_count", "word_count"})
		for _, r := range rows {
			_ = cw.Write([]string{r.SourcePath, r.PageID, r.Severity, r.Code, r.Message,
				strconv.Itoa(r.TitleLength), strconv.Itoa(r.DescriptionLength), strconv.Itoa(r.H1Count), strconv.Itoa(r.WordCount)})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSEVERITY\tISSUE\tMESSAGE")
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Severity]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.SourcePath, r.Severity, r.Code, r.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	e.printf("%d issues: %d errors, %d warnings, %d notes\n", len(rows), counts["error"], counts["warn"], counts["info"])
	return nil
}

func exportCommand(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	out := fs.String("out", "", "new folder to write the site into (required)")
	batch := fs.String("batch", "", "write back only this batch's pages")
	source := fs.String("source", "", "site folder (default: the folder of the last import)")
	pos, err := e.parse("export", args, fs)
	if err != nil {
		return err
	}
	if len(pos) != 0 || strings.TrimSpace(*out) == "" {
		return usagef("export needs --out DIR (usage: %s)", commandUsage("export"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	r, err := w.Export(ctx, workspace.ExportOptions{ProjectID: *project, Out: *out, BatchID: *batch, Source: *source})
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(r)
	}
	e.printf("exported %d files from %s to %s: %d blocks written on %d pages, %d refused\n", r.Files, r.Source, r.Out, r.Blocks, r.PagesChanged, len(r.Refusals))
	for _, rf := range r.Refusals {
		e.printf("  refused %s %s: %s\n", rf.SourcePath, rf.BlockID, rf.Reason)
	}
	for _, sk := range r.NotCopied {
		e.printf("  not copied %s: %s\n", sk.Path, sk.Reason)
	}
	return nil
}
