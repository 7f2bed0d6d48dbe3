package cli

// Commands for projects and API keys: the account-level use cases of
// workspace (project.go, apikeys.go).

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// projectJSON is a project as `project list --json` prints it.
type projectJSON struct {
	model.ProjectData
	Current bool `json:"current"`
}

// projectCommands are the project commands (the table: commandTable in cli.go).
func projectCommands() []command {
	return []command{
		{
			Name:    "project create",
			Usage:   "nimbus project create --name N [--domain D] [--tone premium|professional|casual] [--ai-model M] [--path-pattern P]",
			Summary: "create a project (seed default settings) and make it current",
			Run:     projectCreate,
		},
		{
			Name:    "project list",
			Usage:   "nimbus project list",
			Summary: "list the projects in the local store (* marks the current one)",
			Run:     projectList,
		},
		{
			Name:    "project show",
			Usage:   "nimbus project show [PROJECT_ID]",
			Summary: "show a project's record (default: the current project)",
			Run:     projectShow,
		},
		{
			Name:    "project set",
			Usage:   "nimbus project set [--project P] KEY=VALUE [KEY=VALUE ...]",
			Summary: "change project settings (" + strings.Join(workspace.SettingKeys, ", ") + "), checked as the GUI's Settings checks them",
			Run:     projectSet,
		},
		{
			Name:    "project use",
			Usage:   "nimbus project use PROJECT_ID",
			Summary: "make a project the current one",
			Run:     projectUse,
		},
		{
			Name:    "key create",
			Usage:   "nimbus key create [--name N]",
			Summary: "create an API key; it is printed once and only its hash is stored",
			Run:     keyCreate,
		},
		{
			Name:    "key list",
			Usage:   "nimbus key list",
			Summary: "list the account's API keys (hashes, names, state, usage)",
			Run:     keyList,
		},
		{
			Name:    "key deactivate",
			Usage:   "nimbus key deactivate sha256:HASH",
			Summary: "deactivate an API key (kept, never deleted)",
			Run:     keyDeactivate,
		},
	}
}

func projectCreate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("project create", flag.ContinueOnError)
	name := fs.String("name", "", "project name, e.g. the site's domain")
	var opts workspace.ProjectOptions
	fs.StringVar(&opts.Domain, "domain", "", "the site's domain (default: the name)")
	fs.StringVar(&opts.Tone, "tone", "", "writing tone: premium, professional or casual")
	fs.StringVar(&opts.AIModel, "ai-model", "", "AI model the Worker uses (default "+workspace.DefaultAIModel+")")
	pathPattern := fs.String("path-pattern", "", "dimensions from the path, e.g. local/{location}/{brand}-{service}.html")
	pos, err := e.parse("project create", args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("project create: unexpected argument %q (usage: %s)", pos[0], commandUsage("project create"))
	}
	if strings.TrimSpace(*name) == "" {
		return usagef("project create: --name is required (usage: %s)", commandUsage("project create"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	if *pathPattern != "" {
		// Checked before the project exists, so a bad pattern creates nothing.
		st := workspace.DefaultSettings(*name, opts)
		if err := workspace.SetSetting(&st, "path_pattern", *pathPattern); err != nil {
			return err
		}
		if err := workspace.CheckSettings(st); err != nil {
			return fmt.Errorf("project create: %w", err)
		}
	}
	p, err := w.CreateProject(ctx, *name, opts)
	if err != nil {
		return err
	}
	if *pathPattern != "" {
		if p, err = w.UpdateSettings(ctx, p.ProjectID, func(st *model.ProjectSettings) { st.PathPattern = *pathPattern }); err != nil {
			return err
		}
	}
	if e.JSON {
		return e.printJSON(p)
	}
	e.printf("created project %s (%s); it is now the current project\n", p.ProjectID, p.Name)
	return nil
}

func projectList(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("project list", args, nil)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("project list: unexpected argument %q", pos[0])
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	ps, err := w.Projects()
	if err != nil {
		return err
	}
	cur, _ := w.CurrentProjectID() // no current project is a normal state here
	if e.JSON {
		out := make([]projectJSON, 0, len(ps))
		for _, p := range ps {
			out = append(out, projectJSON{ProjectData: p, Current: p.ProjectID == cur})
		}
		return e.printJSON(out)
	}
	if len(ps) == 0 {
		e.printf("no projects yet; create one with: nimbus project create --name example.com\n")
		return nil
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tNAME\tDOMAIN\tPAGES\tBATCHES\tCREATED")
	for _, p := range ps {
		mark := ""
		if p.ProjectID == cur {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", mark, p.ProjectID, p.Name, p.Settings.Domain,
			p.Usage.TotalPages, p.Usage.TotalBatches, p.Created)
	}
	return tw.Flush()
}

func projectSet(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("project set", flag.ContinueOnError)
	project := fs.String("project", "", "project ID (default: the current project)")
	pos, err := e.parse("project set", args, fs)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("project set: give at least one KEY=VALUE (usage: %s)", commandUsage("project set"))
	}
	type kv struct{ k, v string }
	var sets []kv
	for _, a := range pos {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return usagef("project set: %q is not KEY=VALUE (usage: %s)", a, commandUsage("project set"))
		}
		sets = append(sets, kv{strings.TrimSpace(k), v})
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	id, err := w.ResolveProject(*project)
	if err != nil {
		return err
	}
	var setErr error
	p, err := w.UpdateSettings(ctx, id, func(st *model.ProjectSettings) {
		for _, s := range sets {
			if setErr == nil {
				setErr = workspace.SetSetting(st, s.k, s.v)
			}
		}
	})
	if setErr != nil {
		return fmt.Errorf("project set: %w", setErr)
	}
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(p)
	}
	for _, s := range sets {
		e.printf("%s = %s\n", s.k, strings.TrimSpace(s.v))
	}
	e.printf("saved for project %s (%s); the next import uses them\n", p.ProjectID, p.Name)
	return nil
}

func projectShow(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("project show", args, nil)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("project show: one project ID at most (usage: %s)", commandUsage("project show"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	if id, err = w.ResolveProject(id); err != nil {
		return err
	}
	p, err := w.Project(id)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(p)
	}
	s := p.Settings
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"project", p.ProjectID},
		{"name", p.Name},
		{"owner", p.UserID},
		{"created", p.Created},
		{"domain", s.Domain},
		{"tone", s.Tone},
		{"ai model", s.AIModel},
		{"max pages per batch", fmt.Sprint(s.MaxPagesPerBatch)},
		{"default concurrency", fmt.Sprint(s.DefaultConcurrency)},
		{"settings updated", p.SettingsUpdated},
		{"pages", fmt.Sprint(p.Usage.TotalPages)},
		{"batches", fmt.Sprint(p.Usage.TotalBatches)},
		{"last activity", p.Usage.LastActivity},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func projectUse(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("project use", args, nil)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("project use: need exactly one PROJECT_ID (usage: %s)", commandUsage("project use"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	if err := w.UseProject(ctx, pos[0]); err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(map[string]string{"current_project": pos[0]})
	}
	e.printf("current project: %s\n", pos[0])
	return nil
}

// keyNotice is said once, with the key, because nothing can recover it later.
const keyNotice = "store this API key now: it is not shown again (the store keeps only its hash)"

func keyCreate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("key create", flag.ContinueOnError)
	name := fs.String("name", "", "a label for the key, e.g. \"Production Key\"")
	pos, err := e.parse("key create", args, fs)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("key create: unexpected argument %q (usage: %s)", pos[0], commandUsage("key create"))
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	key, hash, err := w.CreateAPIKey(ctx, *name)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(map[string]string{"key": key, "hash": hash, "warning": keyNotice})
	}
	fmt.Fprintln(e.Stderr, "nimbus: "+keyNotice)
	e.printf("%s\n", key)
	e.printf("hash: %s\n", hash)
	return nil
}

func keyList(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("key list", args, nil)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("key list: unexpected argument %q", pos[0])
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	keys, err := w.APIKeys()
	if err != nil {
		return err
	}
	if e.JSON {
		if keys == nil {
			keys = []workspace.APIKey{}
		}
		return e.printJSON(keys)
	}
	if len(keys) == 0 {
		e.printf("no API keys yet; create one with: nimbus key create --name NAME\n")
		return nil
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HASH\tNAME\tSTATE\tCREATED\tLAST USED\tREQUESTS")
	for _, k := range keys {
		state := "active"
		if !k.Data.Active {
			state = "inactive"
		}
		last := k.Data.LastUsed
		if last == "" {
			last = "never"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", k.Hash, k.Data.Name, state, k.Data.Created, last, k.Data.Usage.RequestsTotal)
	}
	return tw.Flush()
}

func keyDeactivate(ctx context.Context, e *env, args []string) error {
	pos, err := e.parse("key deactivate", args, nil)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("key deactivate: need exactly one key hash (usage: %s)", commandUsage("key deactivate"))
	}
	hash := pos[0]
	if strings.HasPrefix(hash, "sk_live_") {
		return usagef("key deactivate: give the key's hash (from 'nimbus key list'), not the key")
	}
	if !strings.HasPrefix(hash, "sha256:") {
		hash = "sha256:" + hash // `key list` shows the prefix, but the hex alone is unambiguous
	}
	w, err := e.Workspace()
	if err != nil {
		return err
	}
	kd, err := w.DeactivateAPIKey(ctx, hash)
	if err != nil {
		return err
	}
	if e.JSON {
		return e.printJSON(workspace.APIKey{Hash: hash, Data: kd})
	}
	e.printf("deactivated %s (%s)\n", hash, kd.Name)
	return nil
}
