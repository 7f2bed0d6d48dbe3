package extract

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/andybalholm/cascadia"

	"github.com/nimbus-desktop/nimbus/model"
)

// Defaults of the extraction settings (DESIGN.md section 6).
const (
	DefaultMainSelector   = "main"
	DefaultAboveFoldUntil = "h2"
	DefaultAboveFoldMax   = 8
	DefaultMaxFileBytes   = 10 << 20
)

// DefaultDimensionSources is the precedence of dimension sources when a
// project sets none: later ones override earlier ones, because a path
// pattern such as {brand}-{service} is ambiguous when names contain hyphens
// while data-* and <meta> values are explicit.
var DefaultDimensionSources = []string{"path", "data", "meta", "css"}

// mainFallback is the chain tried after the configured main selector.
var mainFallback = []string{"main", "[role=main]", "article", "#content", "body"}

// Options are the extraction settings for one page.
type Options struct {
	// SourcePath is the page's source_path (e.g. "dist/local/a/b.html"); the
	// path pattern is matched against it and the audit compares it with the
	// canonical URL.
	SourcePath string
	// MainSelector is tried first; "" means DefaultMainSelector.
	MainSelector string
	// AboveFoldUntil is a CSS selector for the element that ends the fold
	// ("" means "h2"); AboveFoldMax caps the above-the-fold blocks (0 means 8).
	AboveFoldUntil string
	AboveFoldMax   int
	// DimensionSources lists "path", "data", "meta", "css" in precedence
	// order (later override earlier); nil means DefaultDimensionSources.
	DimensionSources []string
	// PathPattern such as "local/{location}/{brand}-{service}.html".
	PathPattern string
	// CSSExtractors maps a dimension name to a CSS selector; the first match's
	// text (or content attribute) is the value.
	CSSExtractors map[string]string
	// MaxBytes is the size limit (0 means DefaultMaxFileBytes).
	MaxBytes int64
	// Domain is the site's domain; when set the audit checks the canonical
	// URL's host against it.
	Domain string
}

// OptionsFromSettings builds Options from a project's settings.
func OptionsFromSettings(s model.ProjectSettings, sourcePath string) Options {
	return Options{
		SourcePath:       sourcePath,
		MainSelector:     s.MainSelector,
		AboveFoldUntil:   s.AboveFoldUntil,
		AboveFoldMax:     s.AboveFoldMax,
		DimensionSources: s.DimensionSources,
		PathPattern:      s.PathPattern,
		CSSExtractors:    s.CSSExtractors,
		MaxBytes:         s.MaxFileBytes,
		Domain:           s.Domain,
	}
}

// compiled holds the parsed form of Options; compiling once per scan keeps
// per-page work to the page itself.
type compiled struct {
	opts      Options
	mainSels  []string
	mainComp  []cascadia.Selector
	until     cascadia.Selector
	untilTag  string // set when the fold selector is a bare tag name
	foldMax   int
	sources   []string
	pathRe    *regexp.Regexp
	pathNames []string
	cssNames  []string
	cssSels   []cascadia.Selector
	maxBytes  int64
}

var tagNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

var placeholderRe = regexp.MustCompile(`\{([A-Za-z0-9_-]+)\}`)

// CheckOptions reports whether opts compile (selectors, path pattern,
// fold element); the error names the setting and what is wrong.
func CheckOptions(opts Options) error {
	_, err := compile(opts)
	return err
}

// compile validates opts; errors name the setting and what is wrong.
func compile(opts Options) (*compiled, error) {
	c := &compiled{opts: opts, foldMax: opts.AboveFoldMax, maxBytes: opts.MaxBytes}
	if c.foldMax <= 0 {
		c.foldMax = DefaultAboveFoldMax
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxFileBytes
	}
	main := strings.TrimSpace(opts.MainSelector)
	if main == "" {
		main = DefaultMainSelector
	}
	c.mainSels = append(c.mainSels, main)
	for _, s := range mainFallback {
		if s != main {
			c.mainSels = append(c.mainSels, s)
		}
	}
	for _, s := range c.mainSels {
		sel, err := cascadia.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("main_selector %q: %w", s, err)
		}
		c.mainComp = append(c.mainComp, sel)
	}
	until := strings.TrimSpace(opts.AboveFoldUntil)
	if until == "" {
		until = DefaultAboveFoldUntil
	}
	sel, err := cascadia.Compile(until)
	if err != nil {
		return nil, fmt.Errorf("above_fold_until %q: %w", until, err)
	}
	c.until = sel
	if tagNameRe.MatchString(until) {
		c.untilTag = strings.ToLower(until)
	}
	c.sources = opts.DimensionSources
	if len(c.sources) == 0 {
		c.sources = DefaultDimensionSources
	}
	for _, s := range c.sources {
		switch s {
		case "path", "data", "meta", "css":
		default:
			return nil, fmt.Errorf("dimension_sources: %q is not one of path|data|meta|css", s)
		}
	}
	if p := strings.Trim(strings.TrimSpace(opts.PathPattern), "/"); p != "" {
		var re strings.Builder
		re.WriteString(`(?:^|/)`)
		last := 0
		for _, m := range placeholderRe.FindAllStringSubmatchIndex(p, -1) {
			re.WriteString(regexp.QuoteMeta(p[last:m[0]]))
			re.WriteString(`([^/]+?)`)
			c.pathNames = append(c.pathNames, p[m[2]:m[3]])
			last = m[1]
		}
		re.WriteString(regexp.QuoteMeta(p[last:]))
		re.WriteString(`$`)
		if len(c.pathNames) == 0 {
			return nil, fmt.Errorf("path_pattern %q: has no {dimension} placeholder", opts.PathPattern)
		}
		c.pathRe, err = regexp.Compile(re.String())
		if err != nil {
			return nil, fmt.Errorf("path_pattern %q: %w", opts.PathPattern, err)
		}
	}
	for name := range opts.CSSExtractors {
		c.cssNames = append(c.cssNames, name)
	}
	sort.Strings(c.cssNames)
	for _, name := range c.cssNames {
		s := opts.CSSExtractors[name]
		sel, err := cascadia.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("css_extractors[%s] %q: %w", name, s, err)
		}
		c.cssSels = append(c.cssSels, sel)
	}
	return c, nil
}
