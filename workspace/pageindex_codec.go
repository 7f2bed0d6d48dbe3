package workspace

// The binary form of a page summary. Lists and filters decode every
// summary of a project, so the form is what decodes fastest: a version
// byte, then fields in a fixed order, strings as uvarint length + bytes,
// maps as a count + pairs in key order (the encoding is deterministic, so
// equal summaries have equal bytes). JSON took 9 µs a summary, most of a
// 10,000-page listing.

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"github.com/nimbus-desktop/nimbus/model"
)

const summaryFormat = 1

var errSummaryForm = errors.New("not a page summary record")

type enc struct{ b []byte }

func (e *enc) uint(n uint64)   { e.b = binary.AppendUvarint(e.b, n) }
func (e *enc) int(n int)       { e.b = binary.AppendVarint(e.b, int64(n)) }
func (e *enc) str(s string)    { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) bool(v bool)     { e.b = append(e.b, boolByte(v)) }
func (e *enc) float(f float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// dims is a count, then the pairs in name order.
func (e *enc) dims(ds Dims) {
	e.uint(uint64(len(ds)))
	for _, x := range ds {
		e.str(x.Name)
		e.str(x.Value)
	}
}

func (e *enc) intMap(m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.uint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.int(m[k])
	}
}

type dec struct {
	b      []byte
	err    error
	intern map[string]string // nil: no interning
	lean   bool              // a listing's read: States is skipped
	lists  *issueLists       // a listing's shared issue lists (nil: none)
}

// issueLists shares equal issue lists (codes and severities, no message)
// among the rows of one listing: most pages of a generated site carry one
// of a few dozen lists, and 100,000 separate copies are 30 MB.
type issueLists struct {
	m       map[string][]model.AuditIssue
	key     []byte
	scratch []model.AuditIssue
}

// shared is a list equal to l that the rows can share (l itself when it
// has messages or the table is full). The lists are read-only: a row that
// changes its issues replaces the slice.
func (t *issueLists) shared(l []model.AuditIssue) []model.AuditIssue {
	if len(l) == 0 {
		return nil
	}
	if t.m == nil {
		t.m = map[string][]model.AuditIssue{}
	}
	t.key = t.key[:0]
	for _, is := range l {
		if is.Message != "" {
			return slices.Clip(slices.Clone(l))
		}
		t.key = append(append(append(append(t.key, is.Code...), 0), is.Severity...), 0)
	}
	if got, ok := t.m[string(t.key)]; ok { // no allocation for the lookup
		return got
	}
	c := slices.Clip(slices.Clone(l)) // clipped: an append copies
	if len(t.m) < 1<<14 {
		t.m[string(t.key)] = c
	}
	return c
}

// istr is str for a value many summaries share (a dimension, a status, a
// batch ID, an issue code): a listing of 100,000 pages keeps one copy.
func (d *dec) istr() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	raw := d.b[:n]
	d.b = d.b[n:]
	if d.intern == nil {
		return string(raw)
	}
	if s, ok := d.intern[string(raw)]; ok { // no allocation for the lookup
		return s
	}
	s := string(raw)
	if len(d.intern) < 1<<16 {
		d.intern[s] = s
	}
	return s
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errSummaryForm
	}
	d.b = nil
}

func (d *dec) uint() uint64 {
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *dec) int() int {
	n, k := binary.Varint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

func (d *dec) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) skipStr() {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return
	}
	d.b = d.b[n:]
}

func (d *dec) bool() bool {
	if len(d.b) < 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *dec) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *dec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) { // every entry takes at least a byte
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) dims() Dims {
	n := d.count()
	if n == 0 {
		return nil
	}
	ds := make(Dims, n)
	for i := 0; i < n && d.err == nil; i++ {
		ds[i] = Dim{d.istr(), d.istr()}
	}
	return ds
}

func (d *dec) intMap() map[string]int {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]int, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.istr()
		m[k] = d.int()
	}
	return m
}

func (d *dec) skipIntMap() {
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		d.skipStr()
		d.int()
	}
}

// encodeSummary is the binary form of s.
func encodeSummary(s *pageSummaryRec) []byte {
	e := enc{b: make([]byte, 0, 256)}
	e.b = append(e.b, summaryFormat)
	e.str(s.PageID)
	e.str(s.SourcePath)
	e.str(s.Title)
	e.dims(s.Dimensions)
	e.bool(s.Missing)
	e.uint(uint64(len(s.Issues)))
	for _, is := range s.Issues {
		e.str(is.Code)
		e.str(is.Severity)
		e.str(is.Message)
	}
	e.str(s.Description)
	e.str(s.Canonical)
	e.str(s.H1)
	e.bool(s.Status != nil)
	if st := s.Status; st != nil {
		e.str(st.Status)
		e.str(st.BatchID)
		e.str(st.Updated)
		e.bool(st.Processing != nil)
		if p := st.Processing; p != nil {
			e.str(p.Started)
			e.str(p.CurrentStep)
			e.int(p.Progress)
		}
		e.bool(st.Result != nil)
		if r := st.Result; r != nil {
			e.str(r.Completed)
			e.bool(r.Success)
			e.int(r.Changes)
			e.float(r.Confidence)
		}
		e.bool(st.Error != nil)
		if er := st.Error; er != nil {
			e.str(er.Message)
			e.str(er.Code)
			e.str(er.Timestamp)
		}
	}
	e.int(s.Blocks)
	e.int(s.Proposals)
	e.int(s.Decided)
	e.int(s.Proposing)
	e.intMap(s.States)
	e.str(s.Broken)
	return e.b
}

// decodeSummary reads the binary form.
func decodeSummary(b []byte, s *pageSummaryRec) error { return decodeSummaryWith(dec{b: b}, s) }

// decodeSummaryLean is decodeSummary for a listing: strings many summaries
// hold are shared through intern, Issues through lists (read-only), and
// States is skipped (left nil): no listing needs it, and a map per page is
// 25 MB of garbage at 100,000 pages.
func decodeSummaryLean(b []byte, s *pageSummaryRec, intern map[string]string, lists *issueLists) error {
	return decodeSummaryWith(dec{b: b, intern: intern, lean: true, lists: lists}, s)
}

func decodeSummaryWith(d dec, s *pageSummaryRec) error {
	if len(d.b) == 0 || d.b[0] != summaryFormat {
		return errSummaryForm
	}
	d.b = d.b[1:]
	*s = pageSummaryRec{}
	s.PageID = d.str()
	s.SourcePath = d.str()
	s.Title = d.str()
	s.Dimensions = d.dims()
	s.Missing = d.bool()
	if n := d.count(); n > 0 && d.lists != nil {
		l := d.lists.scratch[:0]
		for i := 0; i < n && d.err == nil; i++ {
			l = append(l, model.AuditIssue{Code: d.istr(), Severity: d.istr(), Message: d.str()})
		}
		d.lists.scratch = l
		s.Issues = d.lists.shared(l)
	} else if n > 0 {
		s.Issues = make([]model.AuditIssue, n)
		for i := range s.Issues {
			s.Issues[i] = model.AuditIssue{Code: d.istr(), Severity: d.istr(), Message: d.str()}
		}
	}
	s.Description = d.str()
	s.Canonical = d.str()
	s.H1 = d.str()
	if d.bool() {
		st := &model.StatusData{Status: d.istr(), BatchID: d.istr(), Updated: d.istr()}
		if d.bool() {
			st.Processing = &model.ProcessingInfo{Started: d.str(), CurrentStep: d.str(), Progress: d.int()}
		}
		if d.bool() {
			st.Result = &model.StatusResult{Completed: d.str(), Success: d.bool(), Changes: d.int(), Confidence: d.float()}
		}
		if d.bool() {
			st.Error = &model.StatusError{Message: d.istr(), Code: d.istr(), Timestamp: d.str()}
		}
		s.Status = st
	}
	s.Blocks = d.int()
	s.Proposals = d.int()
	s.Decided = d.int()
	s.Proposing = d.int()
	if d.lean {
		d.skipIntMap()
	} else {
		s.States = d.intMap()
	}
	s.Broken = d.str()
	if d.err == nil && len(d.b) != 0 {
		d.err = errSummaryForm
	}
	return d.err
}
