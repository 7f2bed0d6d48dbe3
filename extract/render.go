package extract

import (
	"strings"

	"golang.org/x/net/html"
)

// renderVoid are the elements html.Render writes as <x/> (its voidElements).
var renderVoid = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true,
	"hr": true, "img": true, "input": true, "keygen": true, "link": true, "meta": true, "param": true,
	"source": true, "track": true, "wbr": true}

// appendInnerHTML appends what html.Render writes for each of n's children,
// byte for byte, into buf: the inline markup of a block (text, links,
// emphasis, line breaks) without html.Render's per-call writer and a
// bytes.Buffer per block. ok is false for what it does not handle
// (comments, raw-text and foreign elements, and other node types); the
// caller renders those with html.Render. TestInnerHTMLMatchesRender holds it
// to html.Render on every element of every fixture and corpus page.
func appendInnerHTML(buf []byte, n *html.Node) (_ []byte, ok bool) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if buf, ok = appendNodeHTML(buf, c); !ok {
			return buf, false
		}
	}
	return buf, true
}

func appendNodeHTML(buf []byte, n *html.Node) (_ []byte, ok bool) {
	switch n.Type {
	case html.TextNode:
		return appendEscaped(buf, n.Data), true
	case html.ElementNode:
	default:
		return buf, false
	}
	if n.Namespace != "" {
		return buf, false
	}
	switch n.Data {
	case "iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "xmp":
		return buf, false // literal text children (childTextNodesAreLiteral)
	}
	buf = append(buf, '<')
	buf = append(buf, n.Data...)
	for _, a := range n.Attr {
		buf = append(buf, ' ')
		if a.Namespace != "" {
			buf = append(buf, a.Namespace...)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Key...)
		buf = append(buf, '=', '"')
		buf = appendEscaped(buf, a.Val)
		buf = append(buf, '"')
	}
	if renderVoid[n.Data] {
		if n.FirstChild != nil {
			return buf, false // html.Render refuses it
		}
		return append(buf, '/', '>'), true
	}
	buf = append(buf, '>')
	if c := n.FirstChild; c != nil && c.Type == html.TextNode && strings.HasPrefix(c.Data, "\n") {
		switch n.Data {
		case "pre", "listing", "textarea":
			buf = append(buf, '\n')
		}
	}
	if buf, ok = appendInnerHTML(buf, n); !ok {
		return buf, false
	}
	buf = append(buf, '<', '/')
	buf = append(buf, n.Data...)
	return append(buf, '>'), true
}

// needsEscape marks the bytes html.Render escapes.
var needsEscape = [256]bool{'&': true, '\'': true, '<': true, '>': true, '"': true, '\r': true}

// appendEscaped is html.Render's escaping of text and attribute values.
func appendEscaped(buf []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if !needsEscape[s[i]] {
			continue
		}
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\r':
			esc = "&#13;"
		default:
			continue
		}
		buf = append(buf, s[last:i]...)
		buf = append(buf, esc...)
		last = i + 1
	}
	return append(buf, s[last:]...)
}

// appendChildMarkup appends childMarkup(n) to buf.
func appendChildMarkup(buf []byte, n *html.Node) []byte {
	k := 0
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			continue
		}
		if k == 4 {
			return append(buf, ", ..."...)
		}
		if k > 0 {
			buf = append(buf, ',', ' ')
		}
		k++
		switch c.Type {
		case html.ElementNode:
			buf = append(buf, '<')
			buf = append(buf, c.Data...)
			buf = append(buf, '>')
		case html.CommentNode:
			buf = append(buf, "a comment"...)
		default:
			buf = append(buf, "markup"...)
		}
	}
	return buf
}
