package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nimbus runs one command line in-process and returns stdout, stderr and the
// exit code. NIMBUS_STORE/NIMBUS_EMAIL are cleared so the developer's own
// store is never touched.
func nimbus(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("NIMBUS_STORE", "")
	t.Setenv("NIMBUS_EMAIL", "")
	var out, errb bytes.Buffer
	code := testRunner.Run(context.Background(), args, stdin, &out, &errb)
	return out.String(), errb.String(), code
}

// run is one in-process command line with this build's identity.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return testRunner.Run(ctx, args, stdin, stdout, stderr)
}

// stdin is what the in-process commands read (setup --token-stdin).
var stdin io.Reader = strings.NewReader("")

// testRunner is the CLI of this build: FyneApp.toml's identity, no window.
var testRunner = Runner{App: ParseAppInfo(readFyneAppTOML(), "")}

func readFyneAppTOML() string {
	b, err := os.ReadFile("../../FyneApp.toml")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// tempStore returns a store path in a fresh temp dir.
func tempStore(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "nimbus.db")
}

func TestHelpListsEveryCommand(t *testing.T) {
	out, errOut, code := nimbus(t, "help")
	if code != 0 || errOut != "" {
		t.Fatalf("help: code %d stderr %q", code, errOut)
	}
	for name, c := range commands() {
		if !strings.Contains(out, c.Usage) {
			t.Errorf("help output lacks %q's usage %q", name, c.Usage)
		}
		if c.Usage == "" || c.Summary == "" || !strings.HasPrefix(c.Usage, "nimbus "+name) {
			t.Errorf("command %q: usage %q must start with %q and have a summary", name, c.Usage, "nimbus "+name)
		}
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{args: []string{"version"}, code: 0},
		{args: []string{"help", "version"}, code: 0},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{args: []string{"--bogus"}, code: 2, stderr: "unknown flag --bogus"},
		{args: []string{"version", "--bogus"}, code: 2, stderr: "flag provided but not defined"},
		{args: []string{"--store"}, code: 2, stderr: "--store needs a value"},
		{args: []string{"--json=maybe", "version"}, code: 2, stderr: "--json takes no value"},
		{args: []string{"help", "frobnicate"}, code: 2, stderr: "unknown command"},
	}
	for _, c := range cases {
		_, errOut, code := nimbus(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut)
		}
		if c.stderr != "" && !strings.Contains(errOut, c.stderr) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errOut, c.stderr)
		}
		if code != 0 && (!strings.HasPrefix(errOut, "nimbus: ") || strings.Count(errOut, "\n") != 1) {
			t.Errorf("%v: stderr %q is not one line starting with \"nimbus: \"", c.args, errOut)
		}
	}
}

func TestVersionMatchesFyneAppTOML(t *testing.T) {
	out, _, code := nimbus(t, "--json", "version")
	if code != 0 {
		t.Fatalf("version exit %d", code)
	}
	var info AppInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("version --json output %q: %v", out, err)
	}
	if info.Version != "0.1.0" || info.Build != 1 || info.ID != "dev.nimbus.desktop" || info.Name != "Nimbus Desktop" {
		t.Errorf("version info %+v does not match FyneApp.toml", info)
	}
	if got := testRunner.App.userAgent(); got != "nimbus-desktop/0.1.0" {
		t.Errorf("userAgent() = %q", got)
	}
}

func TestGlobalFlagsAnywhere(t *testing.T) {
	e := &env{}
	rest, err := globalArgs(e, []string{"project", "--json", "list", "--store=/x/y.db", "--email", "a@b.c", "--", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	if !e.JSON || e.StorePath != "/x/y.db" || e.Email != "a@b.c" {
		t.Errorf("globals not applied: %+v", e)
	}
	if want := []string{"project", "list", "--", "--json"}; strings.Join(rest, " ") != strings.Join(want, " ") {
		t.Errorf("rest = %q, want %q", rest, want)
	}
}

func TestLookupPrefersLongestName(t *testing.T) {
	nop := func(context.Context, *env, []string) error { return nil }
	cmds := map[string]command{"zz": {Name: "zz", Run: nop}, "zz sub": {Name: "zz sub", Run: nop}}
	c, rest, ok := lookupIn(cmds, []string{"zz", "sub", "arg"})
	if !ok || c.Name != "zz sub" || len(rest) != 1 || rest[0] != "arg" {
		t.Errorf("lookup zz sub arg = %q %q %v", c.Name, rest, ok)
	}
	c, rest, ok = lookupIn(cmds, []string{"zz", "other"})
	if !ok || c.Name != "zz" || len(rest) != 1 {
		t.Errorf("lookup zz other = %q %q %v", c.Name, rest, ok)
	}
}

func TestParseInterleavesFlagsAndArgs(t *testing.T) {
	e := &env{}
	fs := newTestFlagSet()
	name := fs.String("name", "", "")
	pos, err := e.parse("x", []string{"a", "--name", "n", "b", "--", "--c"}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if *name != "n" || strings.Join(pos, ",") != "a,b,--c" {
		t.Errorf("name %q pos %q", *name, pos)
	}
}

func newTestFlagSet() *flag.FlagSet { return flag.NewFlagSet("x", flag.ContinueOnError) }

func TestCommandHelpFlag(t *testing.T) {
	out, errOut, code := nimbus(t, "project", "create", "--help")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	if !strings.Contains(out, "usage: nimbus project create --name N") || !strings.Contains(out, "-domain") {
		t.Errorf("help output %q lacks usage or flags", out)
	}
}

func TestBatchListNamesFewAndSummarisesMany(t *testing.T) {
	few := []string{"batch_20261201_100000", "batch_20261201_100001"}
	if got := batchList(few); got != "batch_20261201_100000 batch_20261201_100001" {
		t.Errorf("two batches: %q", got)
	}
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("batch_20261201_1%05d", i))
	}
	if got := batchList(many); got != "batch_20261201_100000 … batch_20261201_100099 (100)" {
		t.Errorf("100 batches: %q", got)
	}
}
