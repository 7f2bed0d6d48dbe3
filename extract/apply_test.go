package extract

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
	"golang.org/x/text/encoding/charmap"
)

func mustPage(t *testing.T, src []byte) (map[string]string, map[string]string) {
	t.Helper()
	e, err := Page(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	content := map[string]string{}
	for _, b := range allBlocks(e) {
		content[b.ID] = b.Content
	}
	return e.SelectorMap, content
}

func TestApplySplicesOnlyTheText(t *testing.T) {
	src := []byte("<!doctype html>\n<html><head><title>Rolex repair</title><meta property=\"og:title\" content=\"Rolex repair\"></head>\n<body><main>\n  <h1>\n    Rolex repair\n  </h1>\n<p class=x>Old   text</p><p>Keep <b>this</b></p>\n<table><tr><td>cell</td></tr></table>\n<img src=a.jpg alt=Old-alt><img src=b.jpg alt=\"Second &amp; alt\">\n</main></body></html>\n")
	sel, content := mustPage(t, src)
	if content["block-0"] != "Rolex repair" || content["block-1"] != "Old text" {
		t.Fatalf("unexpected blocks %v", content)
	}
	out, ref, err := Apply(src, sel, map[string]Change{
		"block-0": {Original: "Rolex repair", Text: "Rolex & Tudor <repair>"},
		"block-1": {Original: "Old text", Text: "New text"},
		"block-2": {Original: "Keep this", Text: "would drop <b>"},
		"block-3": {Original: "cell", Text: "new cell"},
		"block-4": {Original: "Old-alt", Text: "A \"quoted\" alt"},
		"block-5": {Original: "Second & alt", Text: "Second alt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "<!doctype html>\n<html><head><title>Rolex repair</title><meta property=\"og:title\" content=\"Rolex repair\"></head>\n<body><main>\n  <h1>\n    Rolex &amp; Tudor &lt;repair&gt;\n  </h1>\n<p class=x>New text</p><p>Keep <b>this</b></p>\n<table><tr><td>new cell</td></tr></table>\n<img src=a.jpg alt=\"A &quot;quoted&quot; alt\"><img src=b.jpg alt=\"Second alt\">\n</main></body></html>\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if len(ref) != 1 || ref[0].BlockID != "block-2" || !strings.Contains(ref[0].Reason, "<b>") {
		t.Errorf("want one refusal for the block with <b>, got %+v", ref)
	}
}

func TestApplyRefusesStaleAndUnknown(t *testing.T) {
	src := []byte("<main><p>Current text</p><p>x</p><p>x</p></main>")
	sel, _ := mustPage(t, src)
	sel["block-9"] = "main > div"
	sel["block-8"] = "main > p"
	sel["block-7"] = "main >> p"
	out, ref, err := Apply(src, sel, map[string]Change{
		"block-0": {Original: "Text at review time", Text: "New"},
		"block-9": {Original: "x", Text: "New"},
		"block-8": {Original: "x", Text: "New"},
		"block-7": {Original: "x", Text: "New"},
		"block-6": {Original: "x", Text: "New"},
		"block-1": {Original: "x", Text: "  "},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, src) {
		t.Errorf("refused changes modified the page: %s", out)
	}
	reasons := map[string]string{}
	for _, r := range ref {
		reasons[r.BlockID] = r.Reason
	}
	for id, frag := range map[string]string{
		"block-0": "changed since extraction",
		"block-9": "matches 0 elements",
		"block-8": "matches 3 elements",
		"block-7": "not valid CSS",
		"block-6": "no selector",
		"block-1": "empty",
	} {
		if !strings.Contains(reasons[id], frag) {
			t.Errorf("%s: reason %q does not say %q", id, reasons[id], frag)
		}
	}
}

func TestApplyParserInsertedElements(t *testing.T) {
	// The source has no tbody; the selector goes through the parser's tbody
	// and must still land on the source's td.
	src, err := os.ReadFile("../testdata/edge/table-no-tbody.html")
	if err != nil {
		t.Fatal(err)
	}
	sel, content := mustPage(t, src)
	var id string
	for k, v := range content {
		if v == "£180" {
			id = k
		}
	}
	if !strings.Contains(sel[id], "tbody") {
		t.Fatalf("selector %q does not pass through the parser's tbody", sel[id])
	}
	out, ref, err := Apply(src, sel, map[string]Change{id: {Original: "£180", Text: "£190"}})
	if err != nil || len(ref) != 0 {
		t.Fatalf("err %v refusals %v", err, ref)
	}
	if want := bytes.Replace(src, []byte("£180"), []byte("£190"), 1); !bytes.Equal(out, want) {
		t.Errorf("got %s", out)
	}
}

func TestApplyLegacyEncoding(t *testing.T) {
	src, err := os.ReadFile("../testdata/edge/cp1252.html")
	if err != nil {
		t.Fatal(err)
	}
	sel, content := mustPage(t, src)
	out, ref, err := Apply(src, sel, map[string]Change{"block-1": {Original: content["block-1"], Text: "Crème brûlée — 漢字"}})
	if err != nil || len(ref) != 0 {
		t.Fatalf("err %v refusals %v", err, ref)
	}
	// é and — exist in windows-1252; 漢字 does not and becomes references.
	enc, _ := charmap.Windows1252.NewEncoder().String("Crème brûlée — &#28450;&#23383;")
	if !bytes.Contains(out, []byte(enc)) {
		t.Errorf("the new text is not encoded in windows-1252: %q", out[len(out)-120:])
	}
	e, err := Page(out, Options{})
	if err != nil || allBlocks(e)[1].Content != "Crème brûlée — 漢字" {
		t.Errorf("re-extraction: %v %+v", err, allBlocks(e))
	}
}

func TestApplyNoChangesIsIdentity(t *testing.T) {
	for _, src := range [][]byte{nil, {0, 1, 2}, []byte("<p>x"), []byte("\xef\xbb\xbf<main><p>bom</p></main>")} {
		out, ref, err := Apply(src, map[string]string{"block-0": "p"}, nil)
		if err != nil || ref != nil || !bytes.Equal(out, src) {
			t.Errorf("Apply(%q, nil) = %q, %v, %v", src, out, ref, err)
		}
	}
	src := []byte("\xef\xbb\xbf<main><p>bom</p></main>")
	sel, _ := mustPage(t, src)
	out, ref, err := Apply(src, sel, map[string]Change{"block-0": {Original: "bom", Text: "BOM"}})
	if err != nil || len(ref) != 0 || string(out) != "\xef\xbb\xbf<main><p>BOM</p></main>" {
		t.Errorf("BOM page: %q %v %v", out, ref, err)
	}
}

func TestApplySourceQuirks(t *testing.T) {
	src := []byte("<main>\r\n<p>Caf&eacute;\r\n  au&nbsp;lait</p>\r\n<p>Unclosed paragraph\r\n<p>Next<!-- note --> one</p>\r\n<ul><li>One<li>Two</ul></main>")
	sel, content := mustPage(t, src)
	want := map[string]string{"block-0": "Café au lait", "block-1": "Unclosed paragraph", "block-2": "Next one", "block-3": "One", "block-4": "Two"}
	for id, c := range want {
		if content[id] != c {
			t.Fatalf("%s = %q, want %q (all %v)", id, content[id], c, content)
		}
	}
	changes := map[string]Change{}
	for id, c := range want {
		changes[id] = Change{Original: c, Text: "X " + id}
	}
	out, ref, err := Apply(src, sel, changes)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 1 || ref[0].BlockID != "block-2" || !strings.Contains(ref[0].Reason, "comment") {
		t.Errorf("refusals %+v, want only block-2 (it holds a comment)", ref)
	}
	exp := "<main>\r\n<p>X block-0</p>\r\n<p>X block-1\r\n<p>Next<!-- note --> one</p>\r\n<ul><li>X block-3<li>X block-4</ul></main>"
	if string(out) != exp {
		t.Errorf("got  %q\nwant %q", out, exp)
	}
}

// The head's title and meta description (model.HeadBlocks) are written in
// place, byte-exactly, HTML-escaped, found by the rule the extraction reads
// them with (not the selector map, which has no entry for them).
func TestApplyHeadTitleAndMetaDescription(t *testing.T) {
	src := []byte("<!doctype html>\n<html><head>\n<TITLE>\n  Rolex &amp; Tudor repair </TITLE>\n<meta charset=utf-8><meta property=og:title content=\"Rolex\">\n<meta NAME=\"Description\" content='Rolex repair in Birmingham.'>\n</head><body><svg><title>icon</title></svg><main><h1>Rolex repair</h1></main></body></html>\n")
	e, err := Page(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	title, desc := e.Head["title"], e.Head["metaDescription"]
	if title != "Rolex & Tudor repair" || desc != "Rolex repair in Birmingham." {
		t.Fatalf("head %q %q", title, desc)
	}
	out, ref, err := Apply(src, e.SelectorMap, map[string]Change{
		model.BlockIDTitle:           {Original: title, Text: "Rolex & Tudor <Repair> | Birmingham"},
		model.BlockIDMetaDescription: {Original: desc, Text: "Rolex's \"certified\" repair & servicing in Birmingham."},
	})
	if err != nil || len(ref) != 0 {
		t.Fatalf("refusals %+v, err %v", ref, err)
	}
	want := "<!doctype html>\n<html><head>\n<TITLE>\n  Rolex &amp; Tudor &lt;Repair&gt; | Birmingham </TITLE>\n<meta charset=utf-8><meta property=og:title content=\"Rolex\">\n<meta NAME=\"Description\" content='Rolex&#39;s &quot;certified&quot; repair &amp; servicing in Birmingham.'>\n</head><body><svg><title>icon</title></svg><main><h1>Rolex repair</h1></main></body></html>\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	// What was written reads back as the new text.
	e2, err := Page(out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e2.Head["title"] != "Rolex & Tudor <Repair> | Birmingham" || e2.Head["metaDescription"] != "Rolex's \"certified\" repair & servicing in Birmingham." {
		t.Errorf("read back %q %q", e2.Head["title"], e2.Head["metaDescription"])
	}
	// An unquoted content gets quotes.
	src2 := []byte("<head><title>A</title><meta name=description content=Short></head><p>x</p>")
	out2, ref2, err := Apply(src2, nil, map[string]Change{model.BlockIDMetaDescription: {Original: "Short", Text: "Longer text"}})
	if err != nil || len(ref2) != 0 || string(out2) != "<head><title>A</title><meta name=description content=\"Longer text\"></head><p>x</p>" {
		t.Errorf("unquoted: %s %+v %v", out2, ref2, err)
	}
}

func TestApplyHeadRefusals(t *testing.T) {
	cases := []struct {
		name, src, id, orig, reason string
	}{
		{"two titles", "<head><title>A</title><title>B</title></head>", model.BlockIDTitle, "A", "2 <title> elements"},
		{"no title", "<head></head><p>x</p>", model.BlockIDTitle, "A", "0 <title> elements"},
		{"title changed", "<head><title>New title</title></head>", model.BlockIDTitle, "Old title", "changed since extraction"},
		{"two descriptions", `<meta name=description content=a><meta property=description content=b>`, model.BlockIDMetaDescription, "a", `2 <meta name="description"> elements`},
		{"description changed", `<meta name=description content="now">`, model.BlockIDMetaDescription, "then", "meta description changed since extraction"},
		{"description without content", `<meta name=description>`, model.BlockIDMetaDescription, "then", "no content attribute"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := []byte(c.src)
			out, ref, err := Apply(src, nil, map[string]Change{c.id: {Original: c.orig, Text: "Replacement"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(ref) != 1 || ref[0].BlockID != c.id || !strings.Contains(ref[0].Reason, c.reason) {
				t.Fatalf("refusals %+v, want one naming %q", ref, c.reason)
			}
			if !bytes.Equal(out, src) {
				t.Errorf("a refused change altered the page: %s", out)
			}
		})
	}
}
