package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
)

// Ctrl+O asks for the site folder by path: typed or pasted (in quotes, as
// file://), checked as it is typed, with Browse… beside it; Enter opens it
// and the import goes on as before (another site's folder asks first).
func TestOpenSiteFolderByPath(t *testing.T) {
	base := t.TempDir()
	write := func(dir string, names ...string) string {
		for _, n := range names {
			p := filepath.Join(base, dir, n)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("<html><head><title>"+n+"</title></head><body><main><h1>"+dir+" "+n+"</h1></main></body></html>"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(base, dir)
	}
	siteA := write("timekeepers/dist", "index.html", "a.html", "b.html")
	siteB := write("watchworks/dist", "index.html", "x.html")

	s := newShell(t, openWorkspace(t))
	ctrlO := &desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: fyne.KeyModifierShortcutDefault}
	// From a field too (the search has the focus).
	s.win.Canvas().Focus(s.pages.search)
	s.pages.search.TypedShortcut(ctrlO)
	d, path := s.intake.openDialog, s.intake.openPath
	if d == nil || s.dlg != d {
		t.Fatal("Ctrl+O showed no Open site folder dialog")
	}
	if s.win.Canvas().Focused() != path {
		t.Error("the path field does not have the focus")
	}
	for _, c := range []struct{ text, want string }{
		{"", "type or paste"},
		{filepath.Join(base, "nowhere"), "there is no folder " + filepath.Join(base, "nowhere")},
		{filepath.Join(siteA, "a.html"), "is a file, not a folder"},
	} {
		path.SetText(c.text)
		err := path.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("path %q: %v, want %q", c.text, err, c.want)
		}
		path.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		if s.dlg != d {
			t.Fatalf("Enter on the invalid path %q closed the dialog", c.text)
		}
	}
	if len(s.pages.rows) != 0 {
		t.Fatal("an invalid path imported something")
	}
	// Pasted from a file manager: in quotes, as a file:// URI.
	path.SetText(`"file://` + siteA + `"`)
	if err := path.Validate(); err != nil {
		t.Fatalf("a valid folder: %v", err)
	}
	path.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if s.dlg == d {
		t.Fatal("Enter on a valid folder left the dialog open")
	}
	if len(s.pages.rows) != 3 || s.projectSelect.Selected != "timekeepers" {
		t.Fatalf("after opening %s: %d pages in project %q", siteA, len(s.pages.rows), s.projectSelect.Selected)
	}

	// The import's summary is on top: Ctrl+O (and Ctrl+1..6) wait until it
	// is closed, and Esc closes it.
	summary := s.dlg
	if summary == nil {
		t.Fatal("no import summary after the import")
	}
	s.runGlobal(ctrlO)
	if s.dlg != summary {
		t.Fatal("Ctrl+O behind the import summary opened another dialog")
	}
	tab := s.tabs.SelectedIndex()
	s.runGlobal(&desktop.CustomShortcut{KeyName: fyne.Key3, Modifier: fyne.KeyModifierShortcutDefault})
	if s.tabs.SelectedIndex() != tab {
		t.Fatal("Ctrl+3 switched the screen behind the import summary")
	}
	s.typedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.dlg != nil {
		t.Fatal("Esc left the import summary open")
	}

	// Another site's folder by path: the question of issue 11 item 6.
	s.runGlobal(ctrlO)
	s.intake.openPath.SetText(siteB)
	test.Type(s.intake.openPath, "") // nothing more: the field keeps the focus
	s.dlgEnter()
	if s.intake.otherSite == nil {
		t.Fatal("opening another site's folder by path asked nothing")
	}
}
