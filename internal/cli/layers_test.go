package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// workspace is the only door: the GUI and the CLI import nothing of this
// module but workspace, model and assets (DESIGN.md section 2). Through
// the gap the CLI once wrote settings without the GUI's checks and the GUI
// read the bbolt store itself.
func TestUIAndCLIImportOnlyWorkspace(t *testing.T) {
	const module = "github.com/nimbus-desktop/nimbus"
	allowed := map[string]bool{module + "/workspace": true, module + "/model": true, module + "/assets": true}
	cmd := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", module+"/ui", module+"/internal/cli")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("go list printed %q", out)
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			if (imp == module || strings.HasPrefix(imp, module+"/")) && !allowed[imp] {
				t.Errorf("%s imports %s: only workspace, model and assets may be imported from this module", pkg, imp)
			}
		}
	}
}
