package ui

import (
	"image/color"
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/nimbus-desktop/nimbus/workspace"
)

// diffText draws a word diff (workspace.ReadableDiff) that wraps at words
// like a wrapped Label: unchanged text plain, deleted text in the error
// colour with a line through it, inserted text in the success colour
// underlined. The line and the underline carry the meaning without colour
// (Fyne's RichText has no strikethrough, and its custom segments do not
// wrap). A space separates a deletion from an insertion right after it.
type diffText struct {
	widget.BaseWidget
	ops         []workspace.DiffOp
	placeholder string // drawn in the placeholder colour when ops is empty
}

func newDiffText() *diffText {
	d := &diffText{}
	d.ExtendBaseWidget(d)
	return d
}

// SetDiff shows ops, or placeholder when there are none.
func (d *diffText) SetDiff(ops []workspace.DiffOp, placeholder string) {
	d.ops, d.placeholder = ops, placeholder
	d.Refresh()
}

// String is the text as drawn, the separating spaces included.
func (d *diffText) String() string {
	var b strings.Builder
	for _, t := range d.tokens() {
		b.WriteString(t.text)
	}
	return b.String()
}

func (d *diffText) CreateRenderer() fyne.WidgetRenderer {
	return &diffTextRenderer{d: d, width: -1}
}

// diffToken is a word, a run of spaces or a line break, with its operation.
type diffToken struct {
	op   int
	text string
}

// tokens splits the runs into words, spaces and line breaks, with a space
// between a deletion and an insertion that touch ("PiguetAP" read as one
// word).
func (d *diffText) tokens() []diffToken {
	var out []diffToken
	if len(d.ops) == 0 && d.placeholder != "" {
		return []diffToken{{op: diffPlaceholder, text: d.placeholder}}
	}
	for i, op := range d.ops {
		if i > 0 && op.Op != workspace.DiffEqual && d.ops[i-1].Op != workspace.DiffEqual && op.Op != d.ops[i-1].Op {
			prev := d.ops[i-1].Text
			if r, _ := utf8.DecodeLastRuneInString(prev); !unicode.IsSpace(r) {
				if r, _ := utf8.DecodeRuneInString(op.Text); !unicode.IsSpace(r) {
					out = append(out, diffToken{op: workspace.DiffEqual, text: " "})
				}
			}
		}
		s := op.Text
		for s != "" {
			r, _ := utf8.DecodeRuneInString(s)
			var n int
			switch {
			case r == '\n':
				n = 1
			case unicode.IsSpace(r):
				n = strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) || r == '\n' })
			default:
				n = strings.IndexFunc(s, unicode.IsSpace)
			}
			if n < 0 {
				n = len(s)
			}
			tok := s[:n]
			if r != '\n' && unicode.IsSpace(r) {
				// tabs, carriage returns, no-break spaces: drawn as spaces
				// (a font may draw a tab as a box)
				tok = strings.Repeat(" ", utf8.RuneCountInString(strings.ReplaceAll(tok, "\r", "")))
				if tok == "" {
					s = s[n:]
					continue
				}
			}
			out = append(out, diffToken{op: op.Op, text: tok})
			s = s[n:]
		}
	}
	return out
}

// diffPlaceholder marks the placeholder's token.
const diffPlaceholder = 2

// diffRun is what one canvas.Text draws: consecutive tokens of one
// operation on one line.
type diffRun struct {
	op   int
	text string
	x    float32
	line int
}

type diffTextRenderer struct {
	d       *diffText
	width   float32 // the width runs were laid out for (-1: none yet)
	runs    []diffRun
	lines   int
	hard    []int // the lines that begin after a line break (not a wrap)
	objects []fyne.CanvasObject
}

func (r *diffTextRenderer) textSize() float32 { return r.d.Theme().Size(theme.SizeNameText) }

func (r *diffTextRenderer) measure(s string) float32 {
	return fyne.MeasureText(s, r.textSize(), fyne.TextStyle{}).Width
}

// layoutRuns breaks the tokens into lines no wider than width (0: no
// limit), at spaces, and inside a word only when it is wider than a line.
func (r *diffTextRenderer) layoutRuns(width float32) ([]diffRun, int, []int) {
	var runs []diffRun
	var hard []int
	line := 0
	var x float32
	add := func(op int, s string, w float32) {
		if k := len(runs); k > 0 && runs[k-1].line == line && runs[k-1].op == op {
			runs[k-1].text += s
		} else {
			runs = append(runs, diffRun{op: op, text: s, x: x, line: line})
		}
		x += w
	}
	wrap := func() {
		// a line ends without its trailing spaces
		for k := len(runs) - 1; k >= 0 && runs[k].line == line; k-- {
			runs[k].text = strings.TrimRightFunc(runs[k].text, unicode.IsSpace)
			if runs[k].text != "" {
				break
			}
			runs = runs[:k]
		}
		line++
		x = 0
	}
	soft := false // the line began with a wrap, not a line break
	for _, t := range r.d.tokens() {
		switch {
		case t.text == "\n":
			wrap()
			hard = append(hard, line)
			soft = false
		case unicode.IsSpace([]rune(t.text)[0]):
			if x == 0 && soft {
				continue
			}
			add(t.op, t.text, r.measure(t.text))
		default:
			s := t.text
			w := r.measure(s)
			if width > 0 && x > 0 && x+w > width {
				wrap()
				soft = true
			}
			for width > 0 && w > width && utf8.RuneCountInString(s) > 1 {
				// a word wider than the line: as much of it as fits
				rs := []rune(s)
				n := 1
				for n < len(rs) && r.measure(string(rs[:n+1])) <= width {
					n++
				}
				add(t.op, string(rs[:n]), r.measure(string(rs[:n])))
				wrap()
				soft = true
				s = string(rs[n:])
				w = r.measure(s)
			}
			add(t.op, s, w)
		}
	}
	// Positions from the runs as drawn (a run's text measured whole).
	for i := range runs {
		if i > 0 && runs[i].line == runs[i-1].line {
			runs[i].x = runs[i-1].x + r.measure(runs[i-1].text)
		} else {
			runs[i].x = 0
		}
	}
	return runs, line + 1, hard
}

// lineTop is where line i begins below the top padding: lines of a
// paragraph follow each other like a Label's, paragraphs are line spacing
// apart.
func (r *diffTextRenderer) lineTop(i int) float32 {
	gaps := 0
	for _, h := range r.hard {
		if h <= i {
			gaps++
		}
	}
	return float32(i)*r.lineHeight() + float32(gaps)*r.d.Theme().Size(theme.SizeNameLineSpacing)
}

func (r *diffTextRenderer) lineHeight() float32 {
	return fyne.MeasureText("M", r.textSize(), fyne.TextStyle{}).Height
}

func (r *diffTextRenderer) update(width float32) {
	pad := r.d.Theme().Size(theme.SizeNameInnerPadding)
	inner := width - 2*pad
	if width <= 0 {
		inner = 0 // not laid out yet: one line per paragraph
	} else if inner < 1 {
		inner = 1
	}
	r.width = width
	r.runs, r.lines, r.hard = r.layoutRuns(inner)
	r.build()
}

// build makes the canvas objects of the runs: a text each, and a line
// through a deletion's words or under an insertion's.
func (r *diffTextRenderer) build() {
	th := r.d.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	pad := th.Size(theme.SizeNameInnerPadding)
	size := r.textSize()
	lh := r.lineHeight()
	_, baseline := fyne.CurrentApp().Driver().RenderedTextSize("M", size, fyne.TextStyle{}, nil)
	stroke := max(1, size/10)
	r.objects = make([]fyne.CanvasObject, 0, 2*len(r.runs))
	for _, run := range r.runs {
		var c color.Color
		switch run.op {
		case workspace.DiffDelete:
			c = th.Color(theme.ColorNameError, v)
		case workspace.DiffInsert:
			c = th.Color(theme.ColorNameSuccess, v)
		case diffPlaceholder:
			c = th.Color(theme.ColorNamePlaceHolder, v)
		default:
			c = th.Color(theme.ColorNameForeground, v)
		}
		x := pad + run.x
		y := pad + r.lineTop(run.line)
		t := canvas.NewText(run.text, c)
		t.TextSize = size
		t.Move(fyne.NewPos(x, y))
		t.Resize(fyne.NewSize(r.measure(run.text), lh))
		r.objects = append(r.objects, t)
		if run.op != workspace.DiffDelete && run.op != workspace.DiffInsert {
			continue
		}
		words := strings.TrimSpace(run.text)
		if words == "" {
			continue
		}
		lead := r.measure(run.text[:len(run.text)-len(strings.TrimLeftFunc(run.text, unicode.IsSpace))])
		ly := y + baseline - 0.3*size // through the middle of lower-case letters
		if run.op == workspace.DiffInsert {
			ly = y + baseline + 0.15*size // under the baseline
		}
		l := canvas.NewLine(c)
		l.StrokeWidth = stroke
		l.Position1 = fyne.NewPos(x+lead, ly)
		l.Position2 = fyne.NewPos(x+lead+r.measure(words), ly)
		r.objects = append(r.objects, l)
	}
}

func (r *diffTextRenderer) Layout(size fyne.Size) {
	if size.Width != r.width {
		r.update(size.Width)
	}
}

func (r *diffTextRenderer) MinSize() fyne.Size {
	th := r.d.Theme()
	pad := th.Size(theme.SizeNameInnerPadding)
	if w := r.d.Size().Width; w != r.width {
		r.update(w)
	}
	h := r.lineTop(r.lines-1) + r.lineHeight()
	// As narrow as a wrapped Label: the pane decides the width.
	return fyne.NewSize(2*pad+r.measure("wwww"), 2*pad+h)
}

func (r *diffTextRenderer) Refresh() {
	r.update(r.d.Size().Width)
	canvas.Refresh(r.d)
}

func (r *diffTextRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *diffTextRenderer) Destroy() {}
