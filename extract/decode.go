package extract

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// Sentinel errors for input that is not an HTML page. Callers branch on them
// (errors.Is) to write a log entry with a precise reason.
var (
	ErrEmpty    = errors.New("the file is empty")
	ErrBinary   = errors.New("the file is binary, not HTML")
	ErrTooLarge = errors.New("the file is larger than the size limit")
)

// sourceEncoding is how a page's bytes are encoded.
type sourceEncoding struct {
	name string            // canonical name, e.g. "utf-8", "windows-1252"
	enc  encoding.Encoding // nil for UTF-8 (no conversion)
	bom  int               // bytes of a byte-order mark at the start
	// asciiCompatible is true when markup bytes (<, >, quotes, ASCII tag names)
	// mean the same in the raw bytes as in the decoded text, so the tokenizer
	// can run over the raw bytes and byte spans can be spliced.
	asciiCompatible bool
	// stray counts bytes that are not valid UTF-8 in a page read as UTF-8
	// anyway (no declared charset, and the rest is UTF-8): the extracted
	// text has U+FFFD for them.
	stray int
}

// utf8Strays counts the bytes of src that are not valid UTF-8 and the valid
// multi-byte characters.
func utf8Strays(src []byte) (invalid, multi int) {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			invalid++
		} else {
			multi++
		}
		i += size
	}
	return invalid, multi
}

// checkInput rejects empty and binary files before any parsing.
func checkInput(src []byte) error {
	if len(bytes.TrimSpace(src)) == 0 {
		return ErrEmpty
	}
	if bytes.HasPrefix(src, []byte{0xFE, 0xFF}) || bytes.HasPrefix(src, []byte{0xFF, 0xFE}) {
		return nil // UTF-16 has NULs in ASCII text; its BOM says it is text
	}
	head := src
	if len(head) > 8192 {
		head = head[:8192]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return fmt.Errorf("%w (it contains NUL bytes)", ErrBinary)
	}
	if utf8.Valid(head[:len(head)-utf8Tail(head)]) {
		return nil // text: binary formats are never valid UTF-8
	}
	ctl := 0
	for _, c := range head {
		if c < 0x09 || (c > 0x0D && c < 0x20 && c != 0x1B) {
			ctl++
		}
	}
	if ctl*100 > len(head) {
		return fmt.Errorf("%w (%d control bytes in the first %d)", ErrBinary, ctl, len(head))
	}
	return nil
}

// utf8Tail is how many bytes at the end of b may be a rune cut short by
// the 8 KB window.
func utf8Tail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

// detectEncoding decides how src is encoded. A byte-order mark wins; then
// bytes that are valid UTF-8 are UTF-8 (generated sites often declare a
// legacy charset but write UTF-8); otherwise the charset declared by a <meta>
// anywhere in the document (charset.DetermineEncoding only reads the first
// 1,024 bytes, which misjudges pages with long heads); otherwise the
// WHATWG-style guess.
func detectEncoding(src []byte) sourceEncoding {
	switch {
	case bytes.HasPrefix(src, []byte{0xEF, 0xBB, 0xBF}):
		return sourceEncoding{name: "utf-8", bom: 3, asciiCompatible: true}
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		return sourceEncoding{name: "utf-16be", enc: unicode.UTF16(unicode.BigEndian, unicode.UseBOM), bom: 0}
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return sourceEncoding{name: "utf-16le", enc: unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), bom: 0}
	}
	if utf8.Valid(src) {
		return sourceEncoding{name: "utf-8", asciiCompatible: true}
	}
	if label := declaredCharset(src); label != "" {
		if enc, name := charset.Lookup(label); enc != nil {
			return legacy(enc, name)
		}
	}
	// No charset declared: a page that is UTF-8 but for a few stray bytes
	// (a pasted character, a truncated one) is UTF-8, not windows-1252 (it
	// would read "cafÃ©", and an edit would be written back in cp1252).
	// A legacy page has no valid multi-byte sequences, or fewer than strays.
	if invalid, multi := utf8Strays(src); multi > 0 && invalid <= multi {
		return sourceEncoding{name: "utf-8", asciiCompatible: true, stray: invalid}
	}
	enc, name, _ := charset.DetermineEncoding(src, "text/html")
	return legacy(enc, name)
}

func legacy(enc encoding.Encoding, name string) sourceEncoding {
	if n, err := htmlindex.Name(enc); err == nil {
		name = n
	}
	if name == "utf-8" {
		return sourceEncoding{name: name, asciiCompatible: true}
	}
	ascii := !strings.HasPrefix(name, "utf-16") && name != "iso-2022-jp" && name != "replacement"
	return sourceEncoding{name: name, enc: enc, asciiCompatible: ascii}
}

// declaredCharset finds the first <meta charset> or <meta http-equiv
// content="...; charset=..."> in the whole document.
func declaredCharset(src []byte) string {
	z := html.NewTokenizer(bytes.NewReader(src))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "meta" || !hasAttr {
				continue
			}
			var cs, content string
			httpEquiv := false
			for {
				k, v, more := z.TagAttr()
				switch strings.ToLower(string(k)) {
				case "charset":
					cs = string(v)
				case "content":
					content = string(v)
				case "http-equiv":
					httpEquiv = strings.EqualFold(string(v), "content-type")
				}
				if !more {
					break
				}
			}
			if cs != "" {
				return strings.TrimSpace(cs)
			}
			if httpEquiv && content != "" {
				lc := strings.ToLower(content)
				if i := strings.Index(lc, "charset="); i >= 0 {
					v := strings.Trim(strings.TrimSpace(content[i+len("charset="):]), `"'`)
					if j := strings.IndexAny(v, "; "); j >= 0 {
						v = v[:j]
					}
					return v
				}
			}
		}
	}
}

// toUTF8 decodes src to UTF-8 text (without a byte-order mark).
func (e sourceEncoding) toUTF8(src []byte) ([]byte, error) {
	src = src[e.bom:]
	if e.enc == nil {
		return src, nil
	}
	out, err := e.enc.NewDecoder().Bytes(src)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.name, err)
	}
	return out, nil
}

// fromUTF8 encodes UTF-8 text into the page's encoding; characters the
// encoding cannot represent become numeric character references.
func (e sourceEncoding) fromUTF8(s string) ([]byte, error) {
	if e.enc == nil {
		return []byte(s), nil
	}
	out, err := encoding.HTMLEscapeUnsupported(e.enc.NewEncoder()).Bytes([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.name, err)
	}
	return out, nil
}
