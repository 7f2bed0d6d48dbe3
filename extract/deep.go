package extract

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"golang.org/x/net/html"
)

// errTooDeep is golang.org/x/net/html's refusal of pages whose open
// elements nest deeper than 512 (a template that never closes its
// <div class=card>, which browsers render anyway).
func errTooDeep(err error) bool {
	return err != nil && strings.Contains(err.Error(), "open stack of elements exceeds")
}

// voidTags never have an end tag.
var voidTags = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
	"param": true, "keygen": true, "frame": true}

// flatten rewrites text so that no element nests deeper than limit: it
// follows the tags (an approximation of the HTML parser's stack; it counts
// high, never low, for the usual unclosed containers) and, where a start
// tag would open one level too many, first closes the innermost half of
// what is open. The unclosed cards of a broken template become groups of
// siblings instead of one 520-deep staircase. Everything else is kept.
func flatten(text []byte, limit int) []byte {
	z := html.NewTokenizer(bytes.NewReader(text))
	var out bytes.Buffer
	out.Grow(len(text) + len(text)/8)
	var stack []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() == io.EOF {
				break
			}
			out.Write(z.Raw())
			break
		}
		raw := z.Raw()
		switch tt {
		case html.StartTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if voidTags[tag] {
				break
			}
			if len(stack) >= limit {
				keep := limit / 2
				for i := len(stack) - 1; i >= keep; i-- {
					out.WriteString("</" + stack[i] + ">")
				}
				stack = stack[:keep]
			}
			stack = append(stack, tag)
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i] == tag {
					stack = stack[:i]
					break
				}
			}
		}
		out.Write(raw)
	}
	return out.Bytes()
}

// parseDeep parses text; a page nested past the parser's limit is parsed
// again flattened (flatten), with deep reporting that it was.
func parseDeep(text []byte) (doc *html.Node, deep bool, err error) {
	doc, err = html.Parse(bytes.NewReader(text))
	if !errTooDeep(err) {
		return doc, false, err
	}
	for _, limit := range []int{400, 200, 100} {
		doc, err = html.Parse(bytes.NewReader(flatten(text, limit)))
		if !errTooDeep(err) {
			return doc, true, err
		}
	}
	return nil, true, errors.New("the page nests elements deeper than 512 even with its unclosed elements closed; close the tags in the template")
}
