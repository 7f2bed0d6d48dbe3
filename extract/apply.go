package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/andybalholm/cascadia"
	"github.com/nimbus-desktop/nimbus/model"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Change is a reviewed block to write back.
type Change struct {
	// Original is the block's content when it was extracted (and reviewed).
	// The element's current text must still equal it, or the change is
	// refused: the page was rebuilt and the decision is stale.
	Original string
	// Text is the new plain text; it is HTML-escaped on the way in.
	Text string
}

// Refusal is a change that was not written, with the reason, for manual
// review.
type Refusal struct {
	BlockID  string `json:"block_id"`
	Selector string `json:"selector,omitempty"`
	Reason   string `json:"reason"`
}

// posAttr marks each source start tag with its byte offset in the annotated
// copy that is parsed to resolve selectors; the output never contains it.
const posAttr = "data-nimbus-src-pos"

type rawToken struct {
	typ        html.TokenType
	start, end int
}

// Apply writes changes (block ID -> change) into original, the page's bytes
// as on disk, and returns the new bytes and the changes it refused.
//
// Each change is located by its selector in sel (the extraction's
// selector_map), mapped to the source bytes of that element via the
// tokenizer's raw positions, checked against the expected original text, and
// spliced in: every byte outside the replaced text spans is kept as it was.
// The parsed tree is never rendered, and text is never located by search.
// A change is refused (not applied) when the selector does not resolve to
// exactly one source element, the element's text changed, the element holds
// inline markup or links a plain text would drop, or the page's encoding
// cannot be spliced safely. With no changes the output is original itself.
func Apply(original []byte, sel map[string]string, changes map[string]Change) ([]byte, []Refusal, error) {
	out := bytes.Clone(original)
	if len(changes) == 0 {
		return out, nil, nil
	}
	ids := make([]string, 0, len(changes))
	for id := range changes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	refuseAll := func(reason string) []Refusal {
		r := make([]Refusal, 0, len(ids))
		for _, id := range ids {
			r = append(r, Refusal{BlockID: id, Selector: sel[id], Reason: reason})
		}
		return r
	}
	if err := checkInput(original); err != nil {
		return out, refuseAll(err.Error()), nil
	}
	enc := detectEncoding(original)
	if !enc.asciiCompatible {
		return out, refuseAll("the page is encoded in " + enc.name + ", which write-back cannot splice; edit it by hand"), nil
	}
	toks, annotated, err := tokenize(original)
	if err != nil {
		return out, nil, err
	}
	text, err := enc.toUTF8(annotated)
	if err != nil {
		return out, nil, fmt.Errorf("apply: %w", err)
	}
	doc, err := html.Parse(bytes.NewReader(text))
	if errTooDeep(err) {
		return out, refuseAll("elements nest deeper than 512 (tags the template never closes): write-back cannot place the text; close the tags in the template"), nil
	}
	if err != nil {
		return out, nil, fmt.Errorf("apply: parse HTML: %w", err)
	}

	type splice struct {
		start, end int
		repl       []byte
		id         string
	}
	var splices []splice
	var refusals []Refusal
	for _, id := range ids {
		ch := changes[id]
		s := sel[id]
		refuse := func(format string, args ...any) {
			refusals = append(refusals, Refusal{BlockID: id, Selector: s, Reason: fmt.Sprintf(format, args...)})
		}
		var matches []*html.Node
		if what, ok := headBlockElements[id]; ok {
			// The head's title and meta description (model.HeadBlocks) are
			// found by the rule the extraction reads them with, not by a
			// selector: the selector map has none for them.
			s = what
			matches = headElements(doc, id)
			if len(matches) != 1 {
				refuse("the page has %d %s elements, not exactly one", len(matches), what)
				continue
			}
		} else {
			if s == "" {
				refuse("the block has no selector in the selector map")
				continue
			}
			compiled, err := cascadia.Compile(s)
			if err != nil {
				refuse("the selector is not valid CSS: %v", err)
				continue
			}
			matches = compiled.MatchAll(doc)
			if len(matches) != 1 {
				refuse("the selector matches %d elements, not exactly one", len(matches))
				continue
			}
		}
		n := matches[0]
		want := collapse(ch.Original)
		if want == "" {
			refuse("the change carries no original text to verify the element against")
			continue
		}
		if collapse(ch.Text) == "" {
			refuse("the new text is empty; removing a block is a manual edit")
			continue
		}
		pos, err := strconv.Atoi(attr(n, posAttr))
		if err != nil {
			refuse("the element is not in the source (the parser inserted it)")
			continue
		}
		ti := sort.Search(len(toks), func(i int) bool { return toks[i].start >= pos })
		if ti == len(toks) || toks[ti].start != pos {
			return out, nil, fmt.Errorf("apply: no source tag at byte %d (tokenizer and annotation disagree)", pos)
		}
		tag := original[toks[ti].start:toks[ti].end]
		if n.DataAtom == atom.Img || n.DataAtom == atom.Meta {
			// The text is an attribute's value: an image's alt, the meta
			// description's content.
			name, what := "alt", "alt text"
			if n.DataAtom == atom.Meta {
				name, what = "content", "meta description"
			}
			vs, ve, quoted, ok := attrValueSpan(tag, name)
			if !ok {
				refuse("the element has no %s attribute in the source", name)
				continue
			}
			cur, err := enc.decodeFragment(tag[vs:ve])
			if err != nil {
				refuse("the %s cannot be decoded: %v", what, err)
				continue
			}
			if got := collapse(html.UnescapeString(cur)); got != want {
				refuse("the %s changed since extraction (now %q, expected %q)", what, clip(got), clip(want))
				continue
			}
			val := escapeAttr(ch.Text)
			if quoted && tag[vs-1] == '\'' {
				val = strings.ReplaceAll(val, "'", "&#39;")
			}
			repl, err := enc.fromUTF8(val)
			if err != nil {
				refuse("the new text cannot be encoded: %v", err)
				continue
			}
			if !quoted {
				repl = append(append([]byte{'"'}, repl...), '"')
			}
			splices = append(splices, splice{start: toks[ti].start + vs, end: toks[ti].start + ve, repl: repl, id: id})
			continue
		}
		if names := childMarkup(n); names != "" {
			refuse("the element holds inline markup (%s) that a plain-text replacement would drop; edit it by hand", names)
			continue
		}
		start := toks[ti].end
		j := ti + 1
		for j < len(toks) && toks[j].typ == html.TextToken {
			j++
		}
		end := len(original)
		if j < len(toks) {
			end = toks[j].start
		}
		raw := original[start:end]
		cur, err := enc.decodeFragment(raw)
		if err != nil {
			refuse("the element's text cannot be decoded: %v", err)
			continue
		}
		got := collapse(html.UnescapeString(cur))
		if tree := collapse(textOf(n)); tree != got {
			refuse("the element's text in the source (%q) is not its text in the page (%q)", clip(got), clip(tree))
			continue
		}
		// A page read with stray bytes has U+FFFD in its extracted text
		// (sanitizeUTF8); compare the same way.
		if enc.stray > 0 {
			got = strings.ToValidUTF8(got, "\uFFFD")
		}
		if got != want {
			refuse("the element's text changed since extraction (now %q, expected %q)", clip(got), clip(want))
			continue
		}
		lead := len(raw) - len(bytes.TrimLeft(raw, " \t\n\f\r"))
		trail := len(raw) - len(bytes.TrimRight(raw, " \t\n\f\r"))
		if lead == len(raw) {
			trail = 0
		}
		repl, err := enc.fromUTF8(escapeText(strings.TrimSpace(ch.Text)))
		if err != nil {
			refuse("the new text cannot be encoded: %v", err)
			continue
		}
		splices = append(splices, splice{start: start + lead, end: end - trail, repl: repl, id: id})
	}
	sort.Slice(splices, func(i, j int) bool { return splices[i].start < splices[j].start })
	var b bytes.Buffer
	b.Grow(len(original) + 256)
	last := 0
	for _, s := range splices {
		if s.start < last {
			refusals = append(refusals, Refusal{BlockID: s.id, Selector: sel[s.id], Reason: "the element overlaps another changed block"})
			continue
		}
		b.Write(original[last:s.start])
		b.Write(s.repl)
		last = s.end
	}
	b.Write(original[last:])
	sort.Slice(refusals, func(i, j int) bool { return refusals[i].BlockID < refusals[j].BlockID })
	return b.Bytes(), refusals, nil
}

// headBlockElements names what each reserved head block id
// (model.HeadBlocks) stands for in a page, for refusals.
var headBlockElements = map[string]string{
	model.BlockIDTitle:           "<title>",
	model.BlockIDMetaDescription: `<meta name="description">`,
}

// headElements finds the elements a reserved head block id stands for, by
// the rule the extraction reads the head with (pageState.walk, meta): every
// <title> and every <meta> whose name (else property) is "description",
// outside svg and math and outside script, style, template and noscript.
func headElements(doc *html.Node, id string) []*html.Node {
	var out []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode || c.Namespace != "" {
				continue
			}
			switch c.DataAtom {
			case atom.Title:
				if id == model.BlockIDTitle {
					out = append(out, c)
				}
				continue
			case atom.Meta:
				key := strings.ToLower(strings.TrimSpace(attr(c, "name")))
				if key == "" {
					key = strings.ToLower(strings.TrimSpace(attr(c, "property")))
				}
				if id == model.BlockIDMetaDescription && key == "description" {
					out = append(out, c)
				}
				continue
			case atom.Script, atom.Style, atom.Template, atom.Noscript:
				continue
			}
			walk(c)
		}
	}
	walk(doc)
	return out
}

// tokenize splits src into raw tokens with byte offsets and returns a copy
// of src where each start tag carries posAttr with its offset.
func tokenize(src []byte) ([]rawToken, []byte, error) {
	z := html.NewTokenizer(bytes.NewReader(src))
	var toks []rawToken
	var ann bytes.Buffer
	ann.Grow(len(src) + len(src)/4)
	off := 0
	for {
		tt := z.Next()
		raw := z.Raw()
		if tt == html.ErrorToken && len(raw) == 0 {
			if err := z.Err(); err != nil && !errors.Is(err, io.EOF) {
				return nil, nil, fmt.Errorf("apply: tokenize: %w", err)
			}
			break
		}
		toks = append(toks, rawToken{typ: tt, start: off, end: off + len(raw)})
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			i := 1
			for i < len(raw) && !isTagNameEnd(raw[i]) {
				i++
			}
			ann.Write(raw[:i])
			ann.WriteString(" " + posAttr + `="` + strconv.Itoa(off) + `"`)
			ann.Write(raw[i:])
		} else {
			ann.Write(raw)
		}
		off += len(raw)
		if tt == html.ErrorToken {
			break
		}
	}
	if off != len(src) {
		// Unterminated markup at the end: it is text to the parser, and
		// nothing in it can be a located element.
		toks = append(toks, rawToken{typ: html.CommentToken, start: off, end: len(src)})
		ann.Write(src[off:])
	}
	return toks, ann.Bytes(), nil
}

func isTagNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '/' || c == '>'
}

// attrValueSpan finds an attribute's value in a raw start tag, following the
// tokenizer's attribute syntax; the first occurrence wins, as in the parser.
func attrValueSpan(tag []byte, name string) (start, end int, quoted, ok bool) {
	i := 1
	for i < len(tag) && !isTagNameEnd(tag[i]) {
		i++
	}
	for i < len(tag) {
		for i < len(tag) && (isSpace(tag[i]) || tag[i] == '/') {
			i++
		}
		if i >= len(tag) || tag[i] == '>' {
			return 0, 0, false, false
		}
		ns := i
		i++ // the first character may be '='
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' && tag[i] != '=' {
			i++
		}
		key := strings.ToLower(string(tag[ns:i]))
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			if key == name {
				return 0, 0, false, false // present without a value
			}
			continue
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) {
			return 0, 0, false, false
		}
		var vs, ve int
		q := false
		if tag[i] == '"' || tag[i] == '\'' {
			quote := tag[i]
			vs = i + 1
			e := bytes.IndexByte(tag[vs:], quote)
			if e < 0 {
				return 0, 0, false, false
			}
			ve = vs + e
			i = ve + 1
			q = true
		} else {
			vs = i
			for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' {
				i++
			}
			ve = i
		}
		if key == name {
			return vs, ve, q, true
		}
	}
	return 0, 0, false, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// childMarkup names the non-text children of n ("" when it holds only text).
func childMarkup(n *html.Node) string {
	return string(appendChildMarkup(nil, n))
}

// escapeText escapes what is special in HTML text content.
func escapeText(s string) string {
	return textEscaper.Replace(s)
}

var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeAttr escapes a double-quoted attribute value.
func escapeAttr(s string) string {
	return attrEscaper.Replace(s)
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// decodeFragment decodes a span of the page's raw bytes to UTF-8.
func (e sourceEncoding) decodeFragment(b []byte) (string, error) {
	if e.enc == nil {
		return string(b), nil
	}
	out, err := e.enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", e.name, err)
	}
	return string(out), nil
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	i := 77
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
