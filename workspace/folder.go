package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-desktop/nimbus/localstore"
)

// FolderCheck says how a folder relates to the site a project was imported
// from.
type FolderCheck struct {
	ProjectID string `json:"project_id"`
	// PrevRoot is the folder the project was last imported from ("" never).
	PrevRoot string `json:"previous_folder,omitempty"`
	Root     string `json:"folder"`
	// Known is how many of the project's pages have a source file on record,
	// Found how many of those exist in Root.
	Known int `json:"known_pages"`
	Found int `json:"found_pages"`
	// OtherSite: Root is not where the project's pages came from and holds
	// fewer than half of them: most likely another site. Importing it into
	// the project would mark the rest "source missing" and switch the watch.
	OtherSite bool `json:"other_site"`
}

// ErrOtherSite is returned (wrapped in *OtherSiteError) by Import when the
// folder looks like another site than the project's.
var ErrOtherSite = errors.New("the folder looks like another site")

// OtherSiteError carries the check behind ErrOtherSite.
type OtherSiteError struct{ Check FolderCheck }

func (e *OtherSiteError) Error() string {
	c := e.Check
	return fmt.Sprintf("%s looks like another site than project %s's (imported from %s): only %d of its %d pages are in it; import it as a new project, or import it into this project on purpose (pages of the same folder name not in it are then marked source missing)",
		c.Root, c.ProjectID, c.PrevRoot, c.Found, c.Known)
}

func (e *OtherSiteError) Unwrap() error { return ErrOtherSite }

// CheckFolder compares dir with the folder the project was imported from:
// one stat per page on record.
func (w *Workspace) CheckFolder(projectID, dir string) (FolderCheck, error) {
	pid, err := w.ResolveProject(projectID)
	if err != nil {
		return FolderCheck{}, err
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return FolderCheck{}, fmt.Errorf("check folder %s: %w", dir, err)
	}
	c := FolderCheck{ProjectID: pid, Root: root}
	if c.PrevRoot, err = w.store.Meta(metaRoot(pid)); err != nil {
		return c, err
	}
	if c.PrevRoot == "" || c.PrevRoot == root {
		return c, nil
	}
	err = w.store.Files(pid, func(fe localstore.FileEntry) error {
		if fe.ProjectID != pid || fe.Missing {
			return nil
		}
		c.Known++
		// source paths start with the imported folder's name: dist/a.html
		_, rest, ok := strings.Cut(fe.SourcePath, "/")
		if !ok {
			return nil
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rest))); err == nil {
			c.Found++
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("check folder %s: %w", dir, err)
	}
	c.OtherSite = c.Known > 0 && c.Found*2 < c.Known
	return c, nil
}

// genericFolderNames are build folder names that say nothing about the site.
var genericFolderNames = map[string]bool{"dist": true, "public": true, "build": true, "out": true, "_site": true,
	"site": true, "www": true, "html": true, "docs": true, "output": true, "static": true}

// SuggestProjectName names a project after the site folder: the folder
// itself, or its parent when the folder has a generic build name
// (~/sites/timekeepers/dist -> "timekeepers").
func SuggestProjectName(folder string) string {
	abs, err := filepath.Abs(folder)
	if err != nil {
		abs = folder
	}
	base := filepath.Base(abs)
	if genericFolderNames[strings.ToLower(base)] {
		if parent := filepath.Base(filepath.Dir(abs)); parent != "." && parent != string(filepath.Separator) && parent != "" {
			return parent
		}
	}
	return base
}
