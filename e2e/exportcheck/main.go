// Command exportcheck verifies an exported site against the mirror, for the
// end-to-end tests: a page with accepted (or edited) review decisions must,
// when extracted again, show the decided text in exactly those blocks and
// the original text in every other block (same head but for a decided title
// or meta description, same block ids); a page
// without decisions must be byte-identical to its source. It does not use
// the export code path, only the store, the extractor and the two folders.
//
//	exportcheck -store nimbus.db -project proj_x -src site -out exported [-min-changed N] [-min-head N] [-any-status]
//
// -src is the parent of the watched folder (source_path is relative to it);
// -out is the export root: a page is looked for at out/source_path, then at
// out/source_path without its first segment (the watched folder's name).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-desktop/nimbus/extract"
	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
)

func main() {
	storePath := flag.String("store", "", "bbolt store")
	project := flag.String("project", "", "project id")
	src := flag.String("src", "", "parent folder of the watched site folder")
	out := flag.String("out", "", "export root")
	minChanged := flag.Int("min-changed", 1, "fail unless at least this many pages changed")
	anyStatus := flag.Bool("any-status", false, "do not require every page to be done or failed (a site not yet processed)")
	minHead := flag.Int("min-head", 0, "fail unless at least this many titles or meta descriptions changed")
	flag.Parse()
	if err := run(*storePath, *project, *src, *out, *minChanged, *minHead, *anyStatus); err != nil {
		fmt.Fprintln(os.Stderr, "exportcheck:", err)
		os.Exit(1)
	}
}

func exported(out, sourcePath string) (string, []byte, error) {
	p := filepath.Join(out, filepath.FromSlash(sourcePath))
	if b, err := os.ReadFile(p); err == nil {
		return p, b, nil
	}
	_, rest, _ := strings.Cut(sourcePath, "/")
	p2 := filepath.Join(out, filepath.FromSlash(rest))
	b, err := os.ReadFile(p2)
	if err != nil {
		return "", nil, fmt.Errorf("exported copy of %s: neither %s nor %s readable", sourcePath, p, p2)
	}
	return p2, b, nil
}

func run(storePath, projectID, src, out string, minChanged, minHead int, anyStatus bool) error {
	st, err := localstore.Open(storePath)
	if err != nil {
		return err
	}
	defer st.Close()
	proj, err := localstore.GetJSON[model.ProjectData](st, model.NSProjects, model.ProjectKey(projectID))
	if err != nil {
		return fmt.Errorf("project %s: %w", projectID, err)
	}
	var pages []model.PageData
	err = st.List(model.NSPages, "page:"+projectID+":", func(key string, value []byte) error {
		var p model.PageData
		if err := json.Unmarshal(value, &p); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		return err
	}
	identical, changed, blocksChanged, headChanged := 0, 0, 0, 0
	var problems []string
	// Every page is terminal after the batch completed; a failed page says why.
	counts := map[string]int{}
	for _, p := range pages {
		s, err := localstore.GetJSON[model.StatusData](st, model.NSStatus, model.StatusKey(projectID, p.PageID))
		if err != nil {
			problems = append(problems, fmt.Sprintf("status of %s: %v", p.PageID, err))
			continue
		}
		counts[s.Status]++
		switch {
		case s.Status == model.StatusFailed && (s.Error == nil || s.Error.Code == ""):
			problems = append(problems, fmt.Sprintf("%s failed without an error code", p.PageID))
		case !anyStatus && s.Status != model.StatusDone && s.Status != model.StatusFailed:
			problems = append(problems, fmt.Sprintf("%s is %q, not terminal", p.PageID, s.Status))
		}
	}
	fmt.Printf("exportcheck: statuses %v\n", counts)
	for _, p := range pages {
		orig, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(p.SourcePath)))
		if err != nil {
			return fmt.Errorf("source of %s: %w", p.PageID, err)
		}
		path, got, err := exported(out, p.SourcePath)
		if err != nil {
			return err
		}
		decided := map[string]string{}
		if r, err := localstore.GetJSON[model.ReviewData](st, model.NSPages, model.ReviewKey(projectID, p.PageID)); err == nil {
			for id, d := range r.Blocks {
				if d.State == model.ReviewAccepted || d.State == model.ReviewEdited {
					decided[id] = d.Text
				}
			}
		}
		if len(decided) == 0 {
			if !bytes.Equal(orig, got) {
				problems = append(problems, fmt.Sprintf("%s: no decisions but not byte-identical to %s", path, p.SourcePath))
			} else {
				identical++
			}
			continue
		}
		changed++
		opts := extract.OptionsFromSettings(proj.Settings, p.SourcePath)
		before, err := extract.Page(orig, opts)
		if err != nil {
			return fmt.Errorf("extract %s: %w", p.SourcePath, err)
		}
		after, err := extract.Page(got, opts)
		if err != nil {
			return fmt.Errorf("extract exported %s: %w", path, err)
		}
		// The head's title and meta description are blocks too
		// (model.HeadBlocks): a decided one reads back as the decided text,
		// and every other head field is as it was.
		wantHead := maps.Clone(before.Head)
		for _, hb := range model.HeadBlocks(before) {
			if text, ok := decided[hb.ID]; ok {
				field := "title"
				if hb.ID == model.BlockIDMetaDescription {
					field = "metaDescription"
				}
				wantHead[field] = extract.Collapse(text)
				blocksChanged++
				headChanged++
			}
		}
		if fmt.Sprint(wantHead) != fmt.Sprint(after.Head) {
			problems = append(problems, fmt.Sprintf("%s: head is %v, want %v", path, after.Head, wantHead))
		}
		ob := append(append([]model.Block{}, before.AboveFoldBlocks...), before.RestOfPageBlocks...)
		ab := append(append([]model.Block{}, after.AboveFoldBlocks...), after.RestOfPageBlocks...)
		if len(ob) != len(ab) {
			problems = append(problems, fmt.Sprintf("%s: %d blocks, the source has %d", path, len(ab), len(ob)))
			continue
		}
		for i := range ob {
			want := ob[i].Content
			if text, ok := decided[ob[i].ID]; ok {
				want = extract.Collapse(text)
				blocksChanged++
			}
			if ab[i].ID != ob[i].ID || ab[i].Content != want {
				problems = append(problems, fmt.Sprintf("%s: %s is %q, want %q", path, ob[i].ID, ab[i].Content, want))
			}
		}
	}
	fmt.Printf("exportcheck: %d pages: %d byte-identical, %d changed in exactly their %d decided blocks (%d of them titles or meta descriptions)\n",
		len(pages), identical, changed, blocksChanged, headChanged)
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	if changed < minChanged {
		return fmt.Errorf("%d pages changed, want at least %d", changed, minChanged)
	}
	if headChanged < minHead {
		return fmt.Errorf("%d titles or meta descriptions changed, want at least %d", headChanged, minHead)
	}
	return nil
}
