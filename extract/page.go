// Package extract owns everything between a site's HTML files and the
// platform's page records: it turns one page into a model.Extraction (head,
// dimensions, content blocks, selector map) and a page audit, scans a folder
// for changed pages, watches it, and writes reviewed block texts back into the
// original bytes of a page (Apply) without re-rendering anything else.
//
// The extraction contract is DESIGN.md section 6. Same bytes in, same JSON
// out: nothing here depends on time, map order or the machine.
package extract

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/nimbus-desktop/nimbus/model"
)

// Result is a page's extraction plus what the audit needs.
type Result struct {
	Extraction model.Extraction
	Audit      model.Audit
	// Encoding is the charset the page was decoded from ("utf-8", "shift_jis").
	Encoding string
	// H1 is the first h1's text (used by the project-wide duplicate audit).
	H1 string
	// Warnings are what the editor should know about this page although it
	// was extracted (for the page's log).
	Warnings []string
}

// Page extracts one HTML page. src is the file's bytes as on disk.
func Page(src []byte, opts Options) (model.Extraction, error) {
	r, err := Analyze(src, opts)
	if err != nil {
		return model.Extraction{}, err
	}
	return r.Extraction, nil
}

// Analyze extracts one page and audits it.
func Analyze(src []byte, opts Options) (Result, error) {
	c, err := compile(opts)
	if err != nil {
		return Result{}, err
	}
	return c.analyze(src)
}

// sanitizeUTF8 replaces invalid UTF-8 in every extracted string.
func sanitizeUTF8(ext *model.Extraction) {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	for k, v := range ext.Head {
		ext.Head[k] = fix(v)
	}
	for k, v := range ext.Dimensions {
		ext.Dimensions[k] = fix(v)
	}
	for _, list := range [][]model.Block{ext.AboveFoldBlocks, ext.RestOfPageBlocks} {
		for i := range list {
			list[i].Content = fix(list[i].Content)
			for k, v := range list[i].Attributes {
				list[i].Attributes[k] = fix(v)
			}
		}
	}
	for k, v := range ext.SelectorMap {
		ext.SelectorMap[k] = fix(v)
	}
}

// Extractor extracts many pages with the same settings; the settings
// (selectors, path pattern) are compiled once. Safe for concurrent use.
type Extractor struct{ c *compiled }

// NewExtractor validates and compiles opts (opts.SourcePath is ignored).
func NewExtractor(opts Options) (*Extractor, error) {
	c, err := compile(opts)
	if err != nil {
		return nil, err
	}
	return &Extractor{c: c}, nil
}

// Analyze extracts and audits one page found at sourcePath.
func (x *Extractor) Analyze(src []byte, sourcePath string) (Result, error) {
	c := *x.c
	c.opts.SourcePath = sourcePath
	return c.analyze(src)
}

func (c *compiled) analyze(src []byte) (Result, error) {
	if int64(len(src)) > c.maxBytes {
		return Result{}, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, len(src), c.maxBytes)
	}
	if err := checkInput(src); err != nil {
		return Result{}, err
	}
	enc := detectEncoding(src)
	text, err := enc.toUTF8(src)
	if err != nil {
		return Result{}, err
	}
	doc, deep, err := parseDeep(text)
	if err != nil {
		return Result{}, fmt.Errorf("parse HTML: %w", err)
	}
	p := &pageState{c: c}
	p.scanDocument(doc)
	ext := model.Extraction{
		Engine:           "html",
		Head:             p.head(),
		AboveFoldBlocks:  []model.Block{},
		RestOfPageBlocks: []model.Block{},
		SelectorMap:      map[string]string{},
	}
	root, used, rootSel := c.findMain(doc, p)
	ext.MainSelector = used
	w := walkers.Get().(*walker)
	w.until, w.untilTag, w.bodyFallback, w.rootSel = c.until, c.untilTag, used == "body", rootSel
	w.visit(root, -1)
	p.blocks(w, &ext)
	w.release()
	ext.Dimensions = p.dimensions(doc)
	res := Result{Extraction: ext, Encoding: enc.name, H1: p.firstH1}
	if deep {
		res.Warnings = append(res.Warnings, "elements nest deeper than 512 (tags the template never closes, such as <div class=card>): extracted with the deepest unclosed elements closed, and write-back refuses this page; close the tags in the template")
	}
	if enc.stray > 0 {
		sanitizeUTF8(&res.Extraction)
		res.H1 = strings.ToValidUTF8(res.H1, "\uFFFD")
		res.Warnings = append(res.Warnings, fmt.Sprintf("read as UTF-8 with %d byte(s) that are not valid UTF-8 shown as \uFFFD (the page declares no charset); fix them in the source", enc.stray))
	}
	res.Audit = c.audit(p, &ext)
	return res, nil
}

// findMain applies the main selector fallback chain and returns the root,
// the selector that found it, and a selector that matches only that root.
func (c *compiled) findMain(doc *html.Node, p *pageState) (*html.Node, string, string) {
	for i, sel := range c.mainComp {
		name := c.mainSels[i]
		var root *html.Node
		count := 0
		if name == "body" {
			root = p.body
			count = 1
		} else if ci, ok := builtinMain[name]; ok {
			root, count = p.cands[ci].first, p.cands[ci].count
		} else {
			all := sel.MatchAll(doc)
			if len(all) > 0 {
				root, count = all[0], len(all)
			}
		}
		if root == nil {
			continue
		}
		rootSel := name
		if count > 1 || strings.Contains(rootSel, ",") {
			rootSel = absolutePath(root)
		}
		return root, name, rootSel
	}
	// html.Parse always creates a body; this is unreachable in practice.
	return doc, "body", "html"
}

// The built-in main selectors, found by the document pass instead of a
// selector-engine traversal each.
const (
	candMain = iota
	candRoleMain
	candArticle
	candContent
	numCands
)

var builtinMain = map[string]int{"main": candMain, "[role=main]": candRoleMain, "article": candArticle, "#content": candContent}

type candidate struct {
	first *html.Node
	count int
}

func (p *pageState) candidate(i int, n *html.Node) {
	if p.cands[i].count == 0 {
		p.cands[i].first = n
	}
	p.cands[i].count++
}

// pageState collects what one pass over the whole document finds.
type pageState struct {
	cands      [numCands]candidate
	body       *html.Node
	c          *compiled
	headFields map[string]string
	counts     map[string]int // title, description, canonical, h1 occurrences
	firstH1    string
	dataHTML   map[string]string
	dataBody   map[string]string
	metaDims   map[string]string
	lang       string
}

func (p *pageState) setOnce(k, v string) {
	if _, ok := p.headFields[k]; !ok {
		p.headFields[k] = v
	}
}

// scanDocument walks every element once for head fields, data-* dimensions,
// nimbus:* metas and the h1 count.
func (p *pageState) scanDocument(doc *html.Node) {
	p.headFields = map[string]string{}
	p.counts = map[string]int{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			if c.Namespace != "" {
				continue // svg/math: their <title> is not the page's
			}
			switch c.DataAtom {
			case atom.Html:
				p.lang = collapse(attr(c, "lang"))
				p.dataHTML = dataAttrs(c)
			case atom.Body:
				p.dataBody = dataAttrs(c)
				if p.body == nil {
					p.body = c
				}
			case atom.Title:
				p.counts["title"]++
				p.setOnce("title", collapse(textOf(c)))
				continue
			case atom.Meta:
				p.meta(c)
				continue
			case atom.Link:
				p.link(c)
				continue
			case atom.H1:
				p.counts["h1"]++
				if p.counts["h1"] == 1 {
					p.firstH1 = collapse(textOf(c))
				}
			case atom.Script, atom.Style, atom.Template, atom.Noscript:
				continue
			case atom.Main:
				p.candidate(candMain, c)
			case atom.Article:
				p.candidate(candArticle, c)
			}
			for _, a := range c.Attr {
				if a.Namespace != "" {
					continue
				}
				if a.Key == "role" && a.Val == "main" {
					p.candidate(candRoleMain, c)
				} else if a.Key == "id" && a.Val == "content" {
					p.candidate(candContent, c)
				}
			}
			walk(c)
		}
	}
	walk(doc)
}

func (p *pageState) meta(n *html.Node) {
	name := strings.ToLower(strings.TrimSpace(attr(n, "name")))
	prop := strings.ToLower(strings.TrimSpace(attr(n, "property")))
	content := collapse(attr(n, "content"))
	key := name
	if key == "" {
		key = prop
	}
	switch {
	case key == "description":
		p.counts["description"]++
		p.setOnce("metaDescription", content)
	case key == "robots" || key == "keywords":
		p.setOnce(key, content)
	case strings.HasPrefix(key, "og:") || strings.HasPrefix(key, "twitter:"):
		p.setOnce(key, content)
	case strings.HasPrefix(key, "nimbus:") && len(key) > len("nimbus:"):
		if p.metaDims == nil {
			p.metaDims = map[string]string{}
		}
		if content != "" {
			p.metaDims[key[len("nimbus:"):]] = content
		}
	}
	// og:* can come as property= while name= holds something else.
	if name != "" && prop != "" && (strings.HasPrefix(prop, "og:") || strings.HasPrefix(prop, "twitter:")) {
		p.setOnce(prop, content)
	}
}

func (p *pageState) link(n *html.Node) {
	rels := strings.Fields(strings.ToLower(attr(n, "rel")))
	href := strings.TrimSpace(attr(n, "href"))
	for _, r := range rels {
		switch r {
		case "canonical":
			p.counts["canonical"]++
			p.setOnce("canonical", href)
		case "icon":
			p.setOnce("favicon", href)
		case "apple-touch-icon":
			p.setOnce("_touchicon", href)
		}
	}
}

func (p *pageState) head() map[string]string {
	h := map[string]string{"title": "", "metaDescription": "", "canonical": "", "favicon": ""}
	for k, v := range p.headFields {
		if k == "_touchicon" {
			continue
		}
		h[k] = v
	}
	if h["favicon"] == "" {
		h["favicon"] = p.headFields["_touchicon"]
	}
	if p.lang != "" {
		h["lang"] = p.lang
	}
	return h
}

// dimensions merges the configured sources in precedence order.
func (p *pageState) dimensions(doc *html.Node) map[string]string {
	d := map[string]string{}
	c := p.c
	for _, src := range c.sources {
		switch src {
		case "path":
			if c.pathRe == nil {
				continue
			}
			m := c.pathRe.FindStringSubmatch(model.NormalizeSourcePath(c.opts.SourcePath))
			for i, name := range c.pathNames {
				if m != nil && m[i+1] != "" {
					d[name] = m[i+1]
				}
			}
		case "data":
			for k, v := range p.dataHTML {
				d[k] = v
			}
			for k, v := range p.dataBody {
				d[k] = v
			}
		case "meta":
			for k, v := range p.metaDims {
				d[k] = v
			}
		case "css":
			for i, name := range c.cssNames {
				n := c.cssSels[i].MatchFirst(doc)
				if n == nil {
					continue
				}
				v := collapse(attr(n, "content"))
				if v == "" {
					v = collapse(textOf(n))
				}
				if v != "" {
					d[name] = v
				}
			}
		}
	}
	return d
}

func dataAttrs(n *html.Node) map[string]string {
	var m map[string]string
	for _, a := range n.Attr {
		if a.Namespace != "" || !strings.HasPrefix(a.Key, "data-") || len(a.Key) == len("data-") {
			continue
		}
		v := collapse(a.Val)
		if v == "" {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[a.Key[len("data-"):]] = v
	}
	return m
}

// blocks turns the walker's finds into the two block lists and the selector
// map, numbering block-0, block-1, ... in document order across both lists.
func (p *pageState) blocks(w *walker, ext *model.Extraction) {
	id := 0
	above := 0
	foldOpen := true
	ext.SelectorMap = make(map[string]string, len(w.found))
	ext.RestOfPageBlocks = make([]model.Block, 0, len(w.found))
	for i := range w.found {
		b := &w.found[i]
		content := b.content
		if b.typ == "img" {
			content = collapse(attr(b.node, "alt"))
		}
		if content == "" {
			continue
		}
		blk := model.Block{
			ID:         "block-" + strconv.Itoa(id),
			Type:       b.typ,
			Content:    content,
			Attributes: blockAttrs(b.node, &w.scratch),
		}
		id++
		ext.SelectorMap[blk.ID] = b.sel
		if foldOpen && (!b.beforeFold || above >= p.c.foldMax) {
			foldOpen = false
		}
		if foldOpen {
			ext.AboveFoldBlocks = append(ext.AboveFoldBlocks, blk)
			above++
		} else {
			ext.RestOfPageBlocks = append(ext.RestOfPageBlocks, blk)
		}
	}
}

// blockAttrs keeps what review and write-back need: link targets, image
// sources and texts, the inner HTML when the element holds inline markup (so
// review can show it), and "markup": the child elements that make a
// plain-text replacement impossible (write-back checks them again).
// scratch is a buffer reused across blocks.
func blockAttrs(n *html.Node, scratch *[]byte) map[string]string {
	var m map[string]string
	set := func(k, v string) {
		if v == "" {
			return
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	switch n.DataAtom {
	case atom.A:
		set("href", strings.TrimSpace(attr(n, "href")))
		set("cta", "true")
	case atom.Button:
		set("cta", "true")
	case atom.Img:
		set("src", strings.TrimSpace(attr(n, "src")))
		set("alt", attr(n, "alt"))
	}
	set("title", attr(n, "title"))
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && phrasing(c) && blockKind(c) == "" {
			buf, ok := appendInnerHTML((*scratch)[:0], n)
			if !ok {
				b := bytes.NewBuffer(buf[:0])
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					_ = html.Render(b, c) // writes to memory; cannot fail
				}
				buf = b.Bytes()
			}
			*scratch = buf
			set("html", string(buf))
			break
		}
	}
	if n.DataAtom != atom.Img && n.FirstChild != nil {
		// Any child element or comment makes plain-text write-back impossible
		// (Apply refuses it); review flags such proposals before acceptance.
		buf := appendChildMarkup((*scratch)[:0], n)
		*scratch = buf
		if len(buf) > 0 {
			set("markup", string(buf))
		}
	}
	return m
}

// phrasing reports inline markup (links, emphasis, line breaks...), the
// markup a plain-text block edit would drop and review should show. Nested
// lists and paragraphs are blocks of their own, not the parent's markup.
func phrasing(n *html.Node) bool {
	switch n.DataAtom {
	case atom.A, atom.Abbr, atom.B, atom.Bdi, atom.Bdo, atom.Br, atom.Cite, atom.Code, atom.Data,
		atom.Dfn, atom.Em, atom.I, atom.Kbd, atom.Mark, atom.Q, atom.S, atom.Samp, atom.Small,
		atom.Span, atom.Strong, atom.Sub, atom.Sup, atom.Time, atom.U, atom.Var, atom.Wbr,
		atom.Del, atom.Ins, atom.Label, atom.Font, atom.Img:
		return true
	}
	return false
}

// walker finds block elements in document order under the main root.
type walker struct {
	until        cascadia.Selector
	untilTag     string
	bodyFallback bool
	foldEnded    bool
	found        []pending
	rootSel      string
	// path is the chain of elements from the root to the current one; each
	// entry's step is built only when a block below it needs it, and once
	// (the cells of a table share their row's).
	path []pathEntry
	// counts is per-depth scratch for tagCounts.
	counts [][]tagCount
	// bufs are text buffers reused across blocks, one per block nesting
	// depth, so collecting text allocates nothing but the final string.
	bufs    [][]byte
	scratch []byte
}

// walkers are reused across pages: their buffers and lists reach the size
// a page needs once, instead of growing again for every page.
var walkers = sync.Pool{New: func() any { return new(walker) }}

// release clears the walker (dropping its references into the page's
// tree) and returns it to the pool.
func (w *walker) release() {
	clear(w.found)
	clear(w.path)
	w.found, w.path = w.found[:0], w.path[:0]
	for i := range w.counts {
		clear(w.counts[i])
		w.counts[i] = w.counts[i][:0]
	}
	w.foldEnded = false
	w.until = nil
	walkers.Put(w)
}

// foldsAt reports whether n ends the above-the-fold area; a bare tag name
// (the default "h2") is compared directly, anything else through the
// selector engine.
func (w *walker) foldsAt(n *html.Node) bool {
	if w.untilTag != "" {
		return n.Data == w.untilTag && n.Namespace == ""
	}
	return w.until.Match(n)
}

// write adds text to the block at index cur of found (-1: no block).
func (w *walker) write(cur int, s string) {
	if cur >= 0 {
		d := w.found[cur].depth
		w.bufs[d] = append(w.bufs[d], s...)
	}
}

type pathEntry struct {
	node *html.Node
	sel  string // this element's step ("td:nth-of-type(2)"), built on demand
	// idx and total place the element among its parent's element children
	// of the same tag (1-based; total 0: not known, step() scans).
	idx, total int
}

// tagCount is one tag's count among a parent's element children.
type tagCount struct {
	tag         string
	total, seen int
}

// tagCounts counts n's element children by tag into the walker's scratch
// for this nesting depth: one pass per parent, so the nth-of-type of every
// element costs linear time overall (scanning the siblings once per
// element was quadratic: 20,000 <li> of one sitemap took a minute).
func (w *walker) tagCounts(n *html.Node) {
	d := len(w.path)
	for len(w.counts) <= d {
		w.counts = append(w.counts, nil)
	}
	cs := w.counts[d][:0]
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		i := 0
		for i < len(cs) && cs[i].tag != c.Data {
			i++
		}
		if i == len(cs) {
			cs = append(cs, tagCount{tag: c.Data})
		}
		cs[i].total++
	}
	w.counts[d] = cs
}

type pending struct {
	node       *html.Node
	typ        string
	depth      int    // index of its text buffer in walker.bufs
	content    string // collapsed own text, set when the element is done
	beforeFold bool
	sel        string
}

// selector returns the selector of the current element (the top of path):
// the root's unique selector followed by a child-combinator chain, with
// :nth-of-type wherever a sibling shares the tag. It is built on the parsed
// tree (the same tree any selector engine sees), so parser-inserted
// elements such as tbody appear in it.
func (w *walker) selector() string {
	n := len(w.rootSel)
	for i := 1; i < len(w.path); i++ {
		if w.path[i].sel == "" {
			if e := w.path[i]; e.total > 0 {
				w.path[i].sel = stepAt(e.node, e.idx, e.total)
			} else {
				w.path[i].sel = step(e.node)
			}
		}
		n += 3 + len(w.path[i].sel)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(w.rootSel)
	for i := 1; i < len(w.path); i++ {
		b.WriteString(" > ")
		b.WriteString(w.path[i].sel)
	}
	return b.String()
}

// skipped elements never hold content.
func skipped(n *html.Node) bool {
	if n.Namespace != "" {
		return true // svg, math
	}
	switch n.DataAtom {
	case atom.Script, atom.Style, atom.Template, atom.Svg, atom.Noscript, atom.Math, atom.Iframe, atom.Object:
		return true
	}
	return false
}

// chrome reports site chrome that is not content when the main root fell back
// to body.
func chrome(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Header, atom.Nav, atom.Footer:
		return true
	case atom.Table:
		return navigationTable(n)
	}
	switch strings.ToLower(attr(n, "role")) {
	case "navigation", "banner", "contentinfo":
		return true
	}
	return false
}

// navigationTable reports a layout table that is mostly links (old sites put
// their menus in tables): at least 3 links and 70% of its text inside them.
func navigationTable(n *html.Node) bool {
	links, linkText, all := 0, 0, 0
	var walk func(n *html.Node, inLink bool)
	walk = func(n *html.Node, inLink bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				l := len(strings.TrimSpace(c.Data))
				all += l
				if inLink {
					linkText += l
				}
			case html.ElementNode:
				in := inLink
				if c.DataAtom == atom.A && attr(c, "href") != "" {
					links++
					in = true
				}
				walk(c, in)
			}
		}
	}
	walk(n, false)
	return links >= 3 && linkText*10 >= all*7
}

// blockKind is the block type of an element, or "" when it is not a block.
func blockKind(n *html.Node) string {
	switch n.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.P, atom.Li,
		atom.Blockquote, atom.Figcaption, atom.Td, atom.Th, atom.Button,
		atom.Dt, atom.Dd, atom.Summary: // FAQ sections: questions, answers, disclosure labels
		return n.Data
	case atom.Img:
		return "img"
	case atom.A:
		if isCTA(n) {
			return "a"
		}
	}
	return ""
}

// isCTA tells a call-to-action link from an ordinary inline link: a button
// role or a button/cta class.
func isCTA(n *html.Node) bool {
	if strings.EqualFold(attr(n, "role"), "button") {
		return true
	}
	for _, cl := range strings.Fields(strings.ToLower(attr(n, "class"))) {
		if strings.Contains(cl, "btn") || strings.Contains(cl, "button") || strings.Contains(cl, "cta") {
			return true
		}
	}
	return false
}

// visit handles one element: a block element opens its own text buffer
// (innermost wins; its own text outside nested blocks stays its own block),
// anything else passes its text to the enclosing block.
func (w *walker) visit(n *html.Node, cur int) { w.visitAt(n, cur, 0, 0) }

// visitAt visits n, the idx-th of total element children of its parent
// with its tag (total 0: unknown).
func (w *walker) visitAt(n *html.Node, cur, idx, total int) {
	if n.Type != html.ElementNode {
		return
	}
	if !w.foldEnded && w.foldsAt(n) {
		w.foldEnded = true
	}
	w.path = append(w.path, pathEntry{node: n, idx: idx, total: total})
	kind := blockKind(n)
	if kind == "" {
		w.children(n, cur)
		w.path = w.path[:len(w.path)-1]
		return
	}
	w.write(cur, " ")
	depth := 0
	if cur >= 0 {
		depth = w.found[cur].depth + 1
	}
	if depth == len(w.bufs) {
		w.bufs = append(w.bufs, make([]byte, 0, 256))
	}
	w.bufs[depth] = w.bufs[depth][:0]
	w.found = append(w.found, pending{node: n, typ: kind, depth: depth, beforeFold: !w.foldEnded, sel: w.selector()})
	at := len(w.found) - 1
	if kind != "img" {
		w.children(n, at)
		w.found[at].content = w.collapseBytes(w.bufs[depth])
	}
	w.write(cur, " ")
	w.path = w.path[:len(w.path)-1]
}

func (w *walker) children(n *html.Node, cur int) {
	d := -1 // the scratch depth of n's tag counts, taken on the first element
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			w.write(cur, c.Data)
		case html.ElementNode:
			if d < 0 {
				d = len(w.path)
				w.tagCounts(n)
			}
			// Every element sibling counts for nth-of-type, skipped ones too.
			cs := w.counts[d]
			i := 0
			for cs[i].tag != c.Data {
				i++
			}
			cs[i].seen++
			if skipped(c) || (w.bodyFallback && chrome(c)) {
				continue
			}
			if c.DataAtom == atom.Br {
				w.write(cur, " ")
				continue
			}
			w.visitAt(c, cur, cs[i].seen, cs[i].total)
		}
	}
}

// absolutePath is a selector from html down to n.
func absolutePath(n *html.Node) string {
	var parts []string
	for x := n; x != nil && x.Type == html.ElementNode; x = x.Parent {
		parts = append(parts, step(x))
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, " > ")
}

func step(x *html.Node) string {
	idx, total := 0, 0
	if x.Parent != nil {
		for s := x.Parent.FirstChild; s != nil; s = s.NextSibling {
			if s.Type == html.ElementNode && s.Data == x.Data {
				total++
				if s == x {
					idx = total
				}
			}
		}
	}
	return stepAt(x, idx, total)
}

// stepAt is x's step when it is the idx-th of total siblings with its tag.
func stepAt(x *html.Node, idx, total int) string {
	name := cssIdent(x.Data)
	if total <= 1 {
		return name
	}
	return name + ":nth-of-type(" + strconv.Itoa(idx) + ")"
}

// cssIdent escapes a tag name for a selector (custom elements may hold
// characters a selector must escape).
func cssIdent(s string) string {
	ok := true
	for i, r := range s {
		if !(r == '-' || r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if r == '-' || r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\%x ", r)
		}
	}
	return b.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// textOf is the text of n's subtree without script/style and friends.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				b.WriteString(c.Data)
			case html.ElementNode:
				if c.DataAtom == atom.Br {
					b.WriteByte(' ')
				} else if !skipped(c) {
					walk(c)
				}
			}
		}
	}
	if n.Type == html.ElementNode && n.DataAtom == atom.Title {
		// <title> holds raw text only.
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
		}
		return b.String()
	}
	walk(n)
	return b.String()
}

// asciiSpace marks the ASCII bytes unicode.IsSpace reports.
var asciiSpace = [utf8.RuneSelf]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

// collapseBytes is collapse for a reused buffer: one allocation, the
// result.
func (w *walker) collapseBytes(b []byte) string {
	out := w.scratch[:0]
	space := false
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				i++
				space = len(out) > 0
				continue
			}
			if space {
				out = append(out, ' ')
				space = false
			}
			// The run of printable ASCII up to the next space or
			// multi-byte character, in one append.
			j := i + 1
			for j < len(b) && b[j] < utf8.RuneSelf && !asciiSpace[b[j]] {
				j++
			}
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if unicode.IsSpace(r) {
			space = len(out) > 0
			i += n
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, b[i:i+n]...)
		i += n
	}
	w.scratch = out
	return string(out)
}

// Collapse trims s and replaces every run of Unicode white space (including
// NBSP, which generated titles are full of) by one ASCII space.
func Collapse(s string) string { return collapse(s) }

func collapse(s string) string {
	// Fast path: most values are already clean (no leading, trailing or
	// doubled spaces, no other white space); return them without copying.
	clean := true
	prevSpace := true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			sp := c == ' ' || (c >= '\t' && c <= '\r')
			if sp && (prevSpace || c != ' ') {
				clean = false
				break
			}
			prevSpace = sp
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			clean = false
			break
		}
		prevSpace = false
		i += n
	}
	if clean && !prevSpace {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
