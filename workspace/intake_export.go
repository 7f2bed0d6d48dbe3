package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

// ExportOptions configure Export.
type ExportOptions struct {
	ProjectID string // "" = current project
	// Out is the new folder to write the site into; it must not exist or be
	// empty, and must not overlap the source folder.
	Out string
	// BatchID limits written-back changes to that batch's pages (every file
	// is still copied).
	BatchID string
	// Source overrides the folder remembered from the last import.
	Source string
	// Progress, when set, is told after each file copied (done of total,
	// the file's path relative to the source). It runs on the export's
	// goroutine.
	Progress func(done, total int, current string)
}

// ExportRefusal is a reviewed block that was not written back.
type ExportRefusal struct {
	SourcePath string `json:"source_path"`
	PageID     string `json:"page_id"`
	BlockID    string `json:"block_id"`
	Reason     string `json:"reason"`
}

// ExportResult summarises an export.
type ExportResult struct {
	Source       string          `json:"source"`
	Out          string          `json:"out"`
	Files        int             `json:"files"`
	PagesChanged int             `json:"pages_changed"`
	Blocks       int             `json:"blocks_written"`
	Refusals     []ExportRefusal `json:"refusals,omitempty"`
	// NotCopied lists what the export could not write: broken symbolic
	// links, link loops, devices and sockets.
	NotCopied []ExportSkip `json:"not_copied,omitempty"`
}

// ExportSkip is a path of the source folder the export did not copy.
type ExportSkip struct {
	Path   string `json:"path"` // relative to the source folder
	Reason string `json:"reason"`
}

// walkFollow walks root like the import's scan does: symbolic links are
// followed (a linked file is copied as the file it points to, a linked
// folder as a folder), each real folder once (a link loop is reported, not
// followed). fn sees every folder and regular file with its path relative
// to root; skip sees what cannot be copied.
func walkFollow(ctx context.Context, root string, fn func(p, rel string, dir bool) error, skip func(rel, reason string)) error {
	// A loop is a folder that is one of its own ancestors (as the import's
	// scan decides); the same folder reached by two paths (latest -> v2) is
	// copied under both, as the import reads it under both.
	var ancestors []os.FileInfo
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		if fi, err := os.Stat(dir); err == nil {
			for _, a := range ancestors {
				if os.SameFile(a, fi) {
					skip(rel, "symbolic link loop (it points to a folder that contains it)")
					return nil
				}
			}
			ancestors = append(ancestors, fi)
			defer func() { ancestors = ancestors[:len(ancestors)-1] }()
		}
		if err := fn(dir, rel, true); err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("read %s: %w", dir, err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := filepath.Join(dir, e.Name())
			r := filepath.Join(rel, e.Name())
			t := e.Type()
			if t&fs.ModeSymlink != 0 {
				fi, err := os.Stat(p)
				if err != nil {
					skip(r, "broken symbolic link")
					continue
				}
				t = fi.Mode().Type()
			}
			switch {
			case t.IsDir():
				if err := walk(p, r); err != nil {
					return err
				}
			case t.IsRegular():
				if err := fn(p, r, false); err != nil {
					return err
				}
			default:
				skip(r, "not a regular file (device, socket or pipe)")
			}
		}
		return nil
	}
	return walk(root, ".")
}

// Export copies the imported site folder into a new folder, writing the
// accepted (and edited) review decisions into the HTML with extract.Apply:
// only the reviewed text spans change, every other byte is copied as is,
// so an export without decisions reproduces the site byte for byte. The
// source is only read. Output paths come from walking the source folder,
// never from a record's source_path, so nothing lands outside Out.
func (w *Workspace) Export(ctx context.Context, o ExportOptions) (ExportResult, error) {
	pid, err := w.ResolveProject(o.ProjectID)
	if err != nil {
		return ExportResult{}, err
	}
	src := o.Source
	if src == "" {
		if src, err = w.store.Meta(metaRoot(pid)); err != nil {
			return ExportResult{}, fmt.Errorf("export: %w", err)
		}
		if src == "" {
			return ExportResult{}, fmt.Errorf("export: project %s has not been imported from a folder yet (run 'nimbus import DIR')", pid)
		}
	}
	src, err = filepath.Abs(src)
	if err != nil {
		return ExportResult{}, fmt.Errorf("export: %w", err)
	}
	if o.Out == "" {
		return ExportResult{}, errors.New("export: no output folder given")
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return ExportResult{}, fmt.Errorf("export: %w", err)
	}
	res := ExportResult{Source: src, Out: out}
	if within(out, src) || within(src, out) {
		return res, fmt.Errorf("export: the output folder %s overlaps the source folder %s; choose a folder outside it", out, src)
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return res, fmt.Errorf("export: the output folder %s is not empty; export into a new folder", out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("export: %w", err)
	}
	var batchPages map[string]model.BatchPage
	if o.BatchID != "" {
		b, err := localstore.GetJSON[model.BatchData](w.store, model.NSBatches, model.BatchKey(pid, o.BatchID))
		if err != nil {
			return res, fmt.Errorf("export: batch %s: %w", o.BatchID, err)
		}
		batchPages = b.Pages
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	total := 0
	if o.Progress != nil {
		// A listing first, so progress can say "of N" (cheap next to the copy).
		_ = walkFollow(ctx, src, func(_, _ string, dir bool) error {
			if !dir {
				total++
			}
			return nil
		}, func(string, string) {})
	}
	err = walkFollow(ctx, src, func(p, rel string, dir bool) error {
		if !filepath.IsLocal(rel) && rel != "." {
			return fmt.Errorf("%s is outside the source folder", p)
		}
		target := filepath.Join(out, rel)
		if !within(target, out) && target != out {
			return fmt.Errorf("refusing to write %s outside %s", target, out)
		}
		if dir {
			return os.MkdirAll(target, 0o755)
		}
		res.Files++
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext == ".html" || ext == ".htm" {
			sp, err := model.SourcePath(src, p)
			if err == nil {
				data, err = w.exportPage(pid, sp, data, batchPages, &res)
				if err != nil {
					return err
				}
			}
		}
		if err := writeNew(target, data); err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress(res.Files, max(total, res.Files), rel)
		}
		return nil
	}, func(rel, reason string) {
		res.NotCopied = append(res.NotCopied, ExportSkip{Path: filepath.ToSlash(rel), Reason: reason})
	})
	if err != nil {
		return res, fmt.Errorf("export %s to %s: %w", src, out, err)
	}
	return res, nil
}

// exportPage applies the page's accepted and edited decisions.
func (w *Workspace) exportPage(pid, sp string, data []byte, batchPages map[string]model.BatchPage, res *ExportResult) ([]byte, error) {
	pageID := model.PageID(pid, sp)
	if batchPages != nil {
		if _, ok := batchPages[pageID]; !ok {
			return data, nil
		}
	}
	if _, err := w.store.Get(model.NSPages, model.ReviewKey(pid, pageID)); errors.Is(err, localstore.ErrNotFound) {
		return data, nil // no decisions: the file is copied as is
	}
	page, err := w.store.GetPage(pid, pageID)
	if errors.Is(err, localstore.ErrNotFound) {
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", sp, err)
	}
	blocks, err := w.ReviewPage(pid, pageID)
	if err != nil {
		return nil, err
	}
	changes := map[string]extract.Change{}
	for _, b := range blocks {
		switch b.State {
		case model.ReviewAccepted, model.ReviewEdited:
			if t := b.Proposal(); t != "" && t != b.Original {
				changes[b.BlockID] = extract.Change{Original: b.Original, Text: t}
			}
		}
	}
	if len(changes) == 0 {
		return data, nil
	}
	outData, refusals, err := extract.Apply(data, page.Extraction.SelectorMap, changes)
	if err != nil {
		return nil, fmt.Errorf("write back %s: %w", sp, err)
	}
	for _, r := range refusals {
		res.Refusals = append(res.Refusals, ExportRefusal{SourcePath: sp, PageID: pageID, BlockID: r.BlockID, Reason: r.Reason})
	}
	if n := len(changes) - len(refusals); n > 0 {
		res.PagesChanged++
		res.Blocks += n
	}
	return outData, nil
}

// within reports whether p is inside dir (or dir itself).
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// writeNew writes a file that must not exist yet (O_EXCL): an export never
// overwrites anything.
func writeNew(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
