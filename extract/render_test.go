package extract

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/nimbus-desktop/nimbus/internal/corpus"
)

// refChildMarkup is childMarkup as it was written first (a list of names,
// cut after four), the reference of appendChildMarkup.
func refChildMarkup(n *html.Node) string {
	var names []string
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
		case html.ElementNode:
			names = append(names, "<"+c.Data+">")
		case html.CommentNode:
			names = append(names, "a comment")
		default:
			names = append(names, "markup")
		}
	}
	if len(names) > 4 {
		names = append(names[:4], "...")
	}
	return strings.Join(names, ", ")
}

// checkRenderers compares, on every element of doc, appendInnerHTML with
// html.Render of each child (where it says it can render them) and
// appendChildMarkup with refChildMarkup; it returns how many elements the
// fast path rendered.
func checkRenderers(t *testing.T, name string, doc *html.Node) (fast int) {
	t.Helper()
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			var want bytes.Buffer
			for k := c.FirstChild; k != nil; k = k.NextSibling {
				if err := html.Render(&want, k); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			if got, ok := appendInnerHTML(nil, c); ok {
				fast++
				if string(got) != want.String() {
					t.Fatalf("%s: <%s> inner HTML\n got %q\nwant %q", name, c.Data, got, want.String())
				}
			}
			if got, want := string(appendChildMarkup(nil, c)), refChildMarkup(c); got != want {
				t.Fatalf("%s: <%s> markup %q, want %q", name, c.Data, got, want)
			}
			walk(c)
		}
	}
	walk(doc)
	return fast
}

// The inner HTML of a block (attributes.html) comes from appendInnerHTML,
// which must write exactly what html.Render writes: on hand-made edge cases
// (escapes in text and attribute values, carriage returns, void elements,
// a leading newline in pre and textarea, comments, raw-text and foreign
// elements, which fall back to html.Render), on every fixture page and on a
// sample of each corpus.
func TestInnerHTMLMatchesRender(t *testing.T) {
	edge := `<html><body><main>
<p>Tom &amp; "Jerry" &lt;3 it's <a href="/q?a=1&amp;b='2'" title="say &quot;hi&quot;">here</a>&#13;<br>and <img src=x.png alt="a&gt;b">.</p>
<p><em>one<strong>two</strong></em><wbr><span class=x data-y="1">3</span> <input value="v"></p>
<pre>
first line kept</pre><div><textarea>
t</textarea><pre>no newline</pre></div>
<p>a <!-- a comment --> b</p><p>raw <script>if (a < b) {}</script> <style>p>a{}</style> <noscript><b>x</b></noscript></p>
<p>math <svg><a xlink:href="#x"><text>t</text></a></svg> <math><mi>x</mi></math></p>
<ul><li>one</li><li>two</li><li>three</li><li>four</li><li>five</li></ul>
<p>only text</p><p></p>
</main></body></html>`
	doc, err := html.Parse(strings.NewReader(edge))
	if err != nil {
		t.Fatal(err)
	}
	if fast := checkRenderers(t, "edge", doc); fast < 10 {
		t.Fatalf("the fast path rendered only %d elements of the edge page", fast)
	}
	fast := 0
	for _, p := range fixturePages(t) {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		text, err := detectEncoding(src).toUTF8(src)
		if err != nil {
			t.Fatal(err)
		}
		doc, _, err := parseDeep(text)
		if err != nil {
			continue // the refused pages have their own tests
		}
		fast += checkRenderers(t, p, doc)
	}
	if fast == 0 {
		t.Fatal("the fast path rendered nothing on the fixture pages")
	}
	for _, m := range corpus.All {
		t.Run(m.Name, func(t *testing.T) {
			dir := corpus.Require(t, m)
			limit := 100
			if raceEnabled {
				limit = 20
			}
			for _, p := range corpusPages(t, dir, limit) {
				src, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				text, err := detectEncoding(src).toUTF8(src)
				if err != nil {
					t.Fatal(err)
				}
				doc, _, err := parseDeep(text)
				if err != nil {
					t.Fatal(err)
				}
				checkRenderers(t, p, doc)
			}
		})
	}
}

// collapseBytes (block texts) and collapse (head fields) agree: every run
// of Unicode white space is one ASCII space, none at the ends.
func TestCollapseBytesMatchesCollapse(t *testing.T) {
	cases := []string{"", " ", "a", "  a  b  ", "a\tb\nc\vd\fe\rf", "\u00a0NBSP\u00a0 title\u2003x\u0085y\u3000",
		"caf\u00e9  cr\u00e8me", "x\u200by", "\ufeffbom", "one\n\n  two   three\t", strings.Repeat("ab ", 50)}
	w := new(walker)
	for _, c := range cases {
		if got, want := w.collapseBytes([]byte(c)), collapse(c); got != want {
			t.Errorf("%q: collapseBytes %q, collapse %q", c, got, want)
		}
	}
}
