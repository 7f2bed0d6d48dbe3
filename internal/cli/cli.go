// Package cli is Nimbus Desktop's command line: an explicit table of
// commands, each area's in its own file (project.go, intake.go, sync.go,
// review.go, kv.go, version.go), run by Run or a Runner. It talks to
// workspace only (no localstore, sync or extract: a test checks the
// imports), so it builds and tests without cgo.
//
// A command:
//
//	{
//		Name:    "project create",            // one or more words
//		Usage:   "nimbus project create --name N [--domain D]",
//		Summary: "create a project and make it current",
//		Run: func(ctx context.Context, e *env, args []string) error {
//			fs := flag.NewFlagSet("", flag.ContinueOnError)
//			name := fs.String("name", "", "project name")
//			pos, err := e.parse("project create", args, fs) // usage error on bad flags
//			...
//			w, err := e.Workspace() // opened lazily, closed by Run
//			...
//			if e.JSON { return e.printJSON(v) }
//			e.printf("...")
//		},
//	}
//
// Usage starts with "nimbus " + Name and Summary is one line (a test checks
// every command of the table). The longest name matching the leading words of
// the command line wins, so "sync" and "sync push" can both exist. Run gets
// the arguments after the name. Return usagef(...) for bad invocations (exit
// 2) and ordinary wrapped errors otherwise (exit 1); Run prints them as one
// line "nimbus: ..." on stderr. Output goes to e.Stdout only (e.printf,
// e.printJSON), so tests run commands in-process and read what they print.
//
// Global flags, accepted anywhere before a "--": --store PATH (also
// $NIMBUS_STORE), --email ADDR (also $NIMBUS_EMAIL; the local account's email
// on first use), --json (machine-readable output on stdout).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	gosync "sync"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// command is one CLI command.
type command struct {
	Name    string // space-separated words, e.g. "key create"
	Usage   string // one line: "nimbus key create [--name N]"
	Summary string // one line shown by `nimbus help`
	Run     func(ctx context.Context, e *env, args []string) error
}

// commandTable is every command, area by area.
func commandTable() []command {
	return slices.Concat(helpCommands(), versionCommands(), projectCommands(), intakeCommands(),
		kvCommands(), reviewCommands(), syncCommands())
}

var (
	commandsOnce   gosync.Once
	commandsByName map[string]command
)

// commands is the table by name, built on first use; a duplicate name or a
// command without Run panics, a programming error any test run catches.
func commands() map[string]command {
	commandsOnce.Do(func() {
		m := map[string]command{}
		for _, c := range commandTable() {
			if c.Name == "" || c.Run == nil {
				panic("command table: a command needs a Name and a Run")
			}
			if _, dup := m[c.Name]; dup {
				panic("command table: duplicate command " + c.Name)
			}
			m[c.Name] = c
		}
		commandsByName = m
	})
	return commandsByName
}

// lookup finds the command named by the longest run of leading words of args.
func lookup(args []string) (command, []string, bool) { return lookupIn(commands(), args) }

func lookupIn(cmds map[string]command, args []string) (command, []string, bool) {
	for n := len(args); n > 0; n-- {
		if c, ok := cmds[strings.Join(args[:n], " ")]; ok {
			return c, args[n:], true
		}
	}
	return command{}, nil, false
}

// usageError is a bad invocation: exit code 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// errHelpShown ends a command whose -h/--help was answered (exit 0).
var errHelpShown = errors.New("help shown")

// usagef returns a usage error (exit 2).
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// env is what a command runs with: its streams, global flags, the build's
// identity and the workspace, opened on first use so commands that need no
// store (help, version) never lock it.
type env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	JSON           bool
	StorePath      string // --store or $NIMBUS_STORE; "" = localstore's default
	Email          string // --email or $NIMBUS_EMAIL; "" = workspace default

	app AppInfo
	gui func(open func() (*workspace.Workspace, error)) error
	ws  *workspace.Workspace
}

// Workspace opens the workspace on first use and returns the same one after.
func (e *env) Workspace() (*workspace.Workspace, error) {
	if e.ws != nil {
		return e.ws, nil
	}
	w, err := workspace.OpenWith(e.StorePath, workspace.Options{Email: e.Email, UserAgent: e.app.userAgent()})
	if err != nil {
		return nil, err
	}
	e.ws = w
	return w, nil
}

// close releases the workspace if one was opened.
func (e *env) close() error {
	if e.ws == nil {
		return nil
	}
	err := e.ws.Close()
	e.ws = nil
	return err
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.Stdout, format, args...) }

// printJSON writes v as indented JSON and a newline.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON output: %w", err)
	}
	return nil
}

// parse parses a command's flags (fs may be nil for commands without any),
// allowing flags and positional arguments in any order, and returns the
// positional arguments. Bad flags are usage errors naming the command.
func (e *env) parse(name string, args []string, fs *flag.FlagSet) ([]string, error) {
	if fs == nil {
		fs = flag.NewFlagSet(name, flag.ContinueOnError)
	}
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				e.printf("usage: %s\n", commandUsage(name))
				if c, ok := commands()[name]; ok {
					e.printf("\n%s\n", c.Summary)
				}
				fs.SetOutput(e.Stdout)
				fs.PrintDefaults()
				return nil, errHelpShown
			}
			return nil, usagef("%s: %v (usage: %s)", name, err, commandUsage(name))
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first positional; "--" ends flags for good.
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func commandUsage(name string) string {
	if c, ok := commands()[name]; ok && c.Usage != "" {
		return c.Usage
	}
	return "nimbus " + name
}

// globalArgs removes the global flags from args (anywhere before "--") and
// applies them to e.
func globalArgs(e *env, args []string) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
			continue
		}
		switch name {
		case "json":
			switch val {
			case "", "true", "1":
				e.JSON = true
			case "false", "0":
				e.JSON = false
			default:
				return nil, usagef("--json takes no value (got %q)", val)
			}
		case "store", "email":
			if !hasVal {
				if i+1 >= len(args) {
					return nil, usagef("--%s needs a value", name)
				}
				i++
				val = args[i]
			}
			if val == "" {
				return nil, usagef("--%s needs a non-empty value", name)
			}
			if name == "store" {
				e.StorePath = val
			} else {
				e.Email = val
			}
		default:
			out = append(out, a)
		}
	}
	return out, nil
}

// Runner runs command lines for one build.
type Runner struct {
	// App is what `nimbus version` reports (ParseAppInfo).
	App AppInfo
	// GUI opens the window when no command is given; open opens the
	// workspace of the global flags (nil GUI: this build has no window).
	GUI func(open func() (*workspace.Workspace, error)) error
}

// Run executes one command line without a window and returns the process
// exit code: 0 ok, 1 error, 2 usage.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Runner{}.Run(ctx, args, stdin, stdout, stderr)
}

// Run executes one command line and returns the process exit code: 0 ok,
// 1 error, 2 usage.
func (r Runner) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{
		Stdin:     stdin,
		Stdout:    stdout,
		Stderr:    stderr,
		StorePath: os.Getenv("NIMBUS_STORE"),
		Email:     os.Getenv("NIMBUS_EMAIL"),
		app:       r.App,
		gui:       r.GUI,
	}
	err := dispatch(ctx, e, args)
	if cerr := e.close(); cerr != nil && err == nil {
		err = fmt.Errorf("close store: %w", cerr)
	}
	if err == nil || errors.Is(err, errHelpShown) {
		return 0
	}
	fmt.Fprintln(stderr, "nimbus: "+oneLine(err.Error()))
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// Usagef is a usage error (exit 2), for the GUI hook's refusals.
func Usagef(format string, args ...any) error { return usagef(format, args...) }

func dispatch(ctx context.Context, e *env, args []string) error {
	args, err := globalArgs(e, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		if e.gui == nil {
			return usagef("this build has no window: give a command (nimbus help)")
		}
		return e.gui(e.Workspace)
	}
	switch args[0] {
	case "-h", "-help", "--help":
		return helpCommand(ctx, e, args[1:])
	}
	c, rest, ok := lookup(args)
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			return usagef("unknown flag %s (run 'nimbus help')", args[0])
		}
		if subs := subcommands(args[0]); len(subs) > 0 {
			return usagef("%s needs a subcommand: %s (run 'nimbus help %s')", args[0], strings.Join(subs, ", "), args[0])
		}
		return usagef("unknown command %q (run 'nimbus help')", strings.Join(args, " "))
	}
	return c.Run(ctx, e, rest)
}

// subcommands lists the second words of commands starting with word.
func subcommands(word string) []string {
	var subs []string
	for name := range commands() {
		if first, rest, ok := strings.Cut(name, " "); ok && first == word {
			subs = append(subs, rest)
		}
	}
	sort.Strings(subs)
	return subs
}

// oneLine keeps an error message on one line of stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func helpCommand(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		if c, rest, ok := lookup(args); ok && len(rest) == 0 {
			e.printf("usage: %s\n\n%s\n", c.Usage, c.Summary)
			return nil
		}
		var matched []command
		for _, c := range sortedCommands() {
			if strings.HasPrefix(c.Name+" ", strings.Join(args, " ")+" ") {
				matched = append(matched, c)
			}
		}
		if len(matched) == 0 {
			return usagef("no help for unknown command %q", strings.Join(args, " "))
		}
		for _, c := range matched {
			e.printf("  %-40s %s\n", c.Usage, c.Summary)
		}
		return nil
	}
	e.printf(`Nimbus Desktop: extract, sync and review generated static sites.

usage: nimbus [--store PATH] [--json] [--email ADDR] [COMMAND [ARGS]]

Without a command nimbus opens the desktop window.

commands:
`)
	for _, c := range sortedCommands() {
		e.printf("  %-40s %s\n", c.Usage, c.Summary)
	}
	e.printf(`
global flags:
  --store PATH   the local store file (default $NIMBUS_STORE, else $XDG_DATA_HOME/nimbus/nimbus.db)
  --json         machine-readable output on stdout
  --email ADDR   email of the local account when it is first created (default $NIMBUS_EMAIL)

exit codes: 0 ok, 1 error, 2 usage
`)
	return nil
}

func sortedCommands() []command {
	cs := make([]command, 0, len(commands()))
	for _, c := range commands() {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

// helpCommands are the help commands (the table: commandTable in cli.go).
func helpCommands() []command {
	return []command{
		{
			Name:    "help",
			Usage:   "nimbus help [COMMAND]",
			Summary: "list commands, or show one command's usage",
			Run:     helpCommand,
		},
	}
}
