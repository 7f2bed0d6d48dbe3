package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is matched (errors.Is) by every validation error, so callers
// can tell a bad record (quarantine it) from an I/O failure (retry).
var ErrInvalid = errors.New("invalid record")

// ValidationError lists every problem found in one record, each naming the
// field path (`pages["page_abc"].status: ...`). All problems are reported at
// once so an editor fixing a record does not have to iterate.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// Is makes errors.Is(err, ErrInvalid) true for validation errors.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// The ID formats. The fixed-shape ones are matched by hand: every record
// written is validated, and regexp matching was most of a page's
// validation time.
var (
	reProjectID = fixedFormat{"proj_", "x12"}                 // ^proj_[0-9a-f]{12}$
	rePageID    = fixedFormat{"page_", "x12"}                 // ^page_[0-9a-f]{12}$
	reBatchID   = fixedFormat{"batch_", "d8_d6"}              // ^batch_[0-9]{8}_[0-9]{6}$
	reKeyHash   = fixedFormat{"sha256:", "x64"}               // ^sha256:[0-9a-f]{64}$
	reHex64     = fixedFormat{"", "x64"}                      // ^[0-9a-f]{64}$
	reUserID    = regexp.MustCompile(`^user_[0-9A-Za-z_-]+$`) // free-form tail
)

// matcher is what format checks a value with.
type matcher interface{ MatchString(string) bool }

// fixedFormat matches prefix followed by runs described by shape: "x12"
// is 12 lowercase hex digits, "d8" 8 decimal digits, and any other byte
// matches itself ("d8_d6": 8 digits, '_', 6 digits).
type fixedFormat struct{ prefix, shape string }

func (f fixedFormat) MatchString(v string) bool {
	if !strings.HasPrefix(v, f.prefix) {
		return false
	}
	v = v[len(f.prefix):]
	shape := f.shape
	for shape != "" {
		c := shape[0]
		if c != 'x' && c != 'd' {
			if v == "" || v[0] != c {
				return false
			}
			v, shape = v[1:], shape[1:]
			continue
		}
		n, i := 0, 1
		for i < len(shape) && shape[i] >= '0' && shape[i] <= '9' {
			n = n*10 + int(shape[i]-'0')
			i++
		}
		shape = shape[i:]
		if len(v) < n {
			return false
		}
		for j := 0; j < n; j++ {
			b := v[j]
			if !(b >= '0' && b <= '9' || c == 'x' && b >= 'a' && b <= 'f') {
				return false
			}
		}
		v = v[n:]
	}
	return v == ""
}

// Enumerations, in rank order where a rank matters.
var (
	PageStatuses  = []string{StatusUploaded, StatusQueued, StatusProcessing, StatusDone, StatusFailed}
	BatchStatuses = []string{BatchUploading, BatchQueued, BatchProcessing, BatchCompleted, BatchFailed}
	Tones         = []string{"premium", "professional", "casual"}
	LogLevels     = []string{LevelInfo, LevelWarn, LevelError}
	ReviewStates  = []string{ReviewOriginal, ReviewSuggested, ReviewEdited, ReviewAccepted, ReviewRejected, ReviewStale}
	// DimensionSources are the allowed values of settings.dimension_sources.
	DimensionSources = []string{"path", "data", "meta", "css"}
	// AuditSeverities are the allowed values of an audit issue's severity.
	AuditSeverities = []string{"error", "warn", "info"}
)

// checker accumulates problems with their field paths.
type checker struct{ problems []string }

func (c *checker) addf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	c.problems = append(c.problems, msg)
}

func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: c.problems}
}

func (c *checker) required(path, v string) bool {
	if strings.TrimSpace(v) == "" {
		c.addf(path, "required")
		return false
	}
	return true
}

// timestamp checks an ISO 8601 stamp; an empty optional stamp is fine.
func (c *checker) timestamp(path, v string, required bool) {
	if v == "" {
		if required {
			c.addf(path, "required (ISO 8601 timestamp)")
		}
		return
	}
	if _, err := ParseTime(v); err != nil {
		c.addf(path, "%v", err)
	}
}

func (c *checker) enum(path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.addf(path, "%q is not one of %s", v, strings.Join(allowed, "|"))
}

func (c *checker) format(path, v string, re matcher, want string, required bool) {
	if v == "" {
		if required {
			c.addf(path, "required (%s)", want)
		}
		return
	}
	if !re.MatchString(v) {
		c.addf(path, "%q is not %s", v, want)
	}
}

func (c *checker) batchID(path, v string, required bool) {
	c.format(path, v, reBatchID, "batch_YYYYMMDD_HHMMSS", required)
	if reBatchID.MatchString(v) {
		if _, err := time.Parse("20060102_150405", strings.TrimPrefix(v, "batch_")); err != nil {
			c.addf(path, "%q is not a real UTC date and time", v)
		}
	}
}

func (c *checker) nonNegative(path string, v int64) {
	if v < 0 {
		c.addf(path, "%d is negative", v)
	}
}

func (c *checker) rangeInt(path string, v, lo, hi int64) {
	if v < lo || v > hi {
		c.addf(path, "%d is not within %d-%d", v, lo, hi)
	}
}

func (c *checker) equal(path, got, want, what string) {
	if got != want {
		c.addf(path, "%q does not match the key's %s %q", got, what, want)
	}
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

func index(prefix string, i int) string   { return prefix + "[" + strconv.Itoa(i) + "]" }
func mapKey(prefix, k string) string      { return prefix + "[" + strconv.Quote(k) + "]" }
func validateWith(f func(*checker)) error { c := &checker{}; f(c); return c.err() }

// Validate checks a user record.
func (u *UserData) Validate() error { return validateWith(u.check) }

func (u *UserData) check(c *checker) {
	c.format("user_id", u.UserID, reUserID, "user_<id>", true)
	checkEmail(c, "email", u.Email)
	c.timestamp("created", u.Created, true)
	c.timestamp("updated", u.Updated, false)
}

func checkEmail(c *checker, path, v string) {
	if !c.required(path, v) {
		return
	}
	local, domain, ok := strings.Cut(v, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(v, " \t\r\n") {
		c.addf(path, "%q is not an email address", v)
	}
}

// Validate checks a user's project list: every entry a project ID.
func (l ProjectsList) Validate() error {
	return validateWith(func(c *checker) {
		for i, id := range l {
			c.format(index("", i), id, reProjectID, "proj_ + 12 hex", true)
		}
	})
}

// Validate checks a user's API key list: every entry a "sha256:<hex>" hash.
func (l ApiKeysList) Validate() error {
	return validateWith(func(c *checker) {
		for i, h := range l {
			c.format(index("", i), h, reKeyHash, "sha256:<64 hex>", true)
		}
	})
}

// Validate checks a project record.
func (p *ProjectData) Validate() error { return validateWith(p.check) }

// Validate checks project settings alone (field paths start with settings.).
func (s ProjectSettings) Validate() error { return validateWith(s.check) }

func (s ProjectSettings) check(c *checker) {
	c.enum("settings.tone", s.Tone, Tones)
	if s.MaxPagesPerBatch <= 0 {
		c.addf("settings.max_pages_per_batch", "%d must be positive", s.MaxPagesPerBatch)
	}
	if s.DefaultConcurrency <= 0 {
		c.addf("settings.default_concurrency", "%d must be positive", s.DefaultConcurrency)
	}
	c.required("settings.ai_model", s.AIModel)
	c.nonNegative("settings.above_fold_max", int64(s.AboveFoldMax))
	c.nonNegative("settings.max_file_bytes", s.MaxFileBytes)
	for i, d := range s.DimensionSources {
		c.enum(index("settings.dimension_sources", i), d, DimensionSources)
	}
	for name, sel := range s.CSSExtractors {
		if name == "" {
			c.addf("settings.css_extractors", "empty dimension name")
		}
		c.required(mapKey("settings.css_extractors", name), sel)
	}
}

func (p *ProjectData) check(c *checker) {
	c.format("project_id", p.ProjectID, reProjectID, "proj_ + 12 hex", true)
	c.format("user_id", p.UserID, reUserID, "user_<id>", true)
	c.required("name", p.Name)
	c.timestamp("created", p.Created, true)
	c.timestamp("settings_updated", p.SettingsUpdated, false)
	p.Settings.check(c)
	c.nonNegative("usage.total_pages", int64(p.Usage.TotalPages))
	c.nonNegative("usage.total_batches", int64(p.Usage.TotalBatches))
	c.timestamp("usage.last_activity", p.Usage.LastActivity, false)
}

// Validate checks an API key record.
func (k *KeyData) Validate() error { return validateWith(k.check) }

func (k *KeyData) check(c *checker) {
	c.format("user_id", k.UserID, reUserID, "user_<id>", true)
	c.timestamp("created", k.Created, true)
	c.timestamp("last_used", k.LastUsed, false) // empty until first use
	c.nonNegative("usage.requests_today", k.Usage.RequestsToday)
	c.nonNegative("usage.requests_total", k.Usage.RequestsTotal)
}

// Validate checks an email index record.
func (e *EmailData) Validate() error {
	return validateWith(func(c *checker) {
		c.format("user_id", e.UserID, reUserID, "user_<id>", true)
		c.timestamp("created", e.Created, true)
	})
}

// Validate checks a cache record.
func (d *CacheData) Validate() error {
	return validateWith(func(c *checker) {
		if len(d.Data) == 0 {
			c.addf("data", "required")
		}
		c.timestamp("created", d.Created, true)
		c.timestamp("expires", d.Expires, true)
		c.required("type", d.Type)
	})
}

// Validate checks a session record.
func (s *SessionData) Validate() error {
	return validateWith(func(c *checker) {
		c.format("user_id", s.UserID, reUserID, "user_<id>", true)
		checkEmail(c, "email", s.Email)
		c.timestamp("created", s.Created, true)
		c.timestamp("expires", s.Expires, true)
	})
}

func checkBlocks(c *checker, path string, blocks []Block) {
	for i, b := range blocks {
		if strings.TrimSpace(b.ID) != "" && strings.TrimSpace(b.Type) != "" {
			continue // the common case builds no field paths
		}
		p := index(path, i)
		c.required(join(p, "id"), b.ID)
		c.required(join(p, "type"), b.Type)
	}
}

// Validate checks a page record. page_id must be the one the md5 rule gives
// for (project_id, source_path): two editors must agree on it.
func (p *PageData) Validate() error { return validateWith(p.check) }

func (p *PageData) check(c *checker) {
	c.format("page_id", p.PageID, rePageID, "page_ + 12 hex", true)
	c.format("project_id", p.ProjectID, reProjectID, "proj_ + 12 hex", true)
	// batch_id is empty until the page is first submitted.
	c.batchID("batch_id", p.BatchID, false)
	if c.required("source_path", p.SourcePath) {
		if n := NormalizeSourcePath(p.SourcePath); n != p.SourcePath {
			c.addf("source_path", "%q is not normalised (want %q)", p.SourcePath, n)
		}
		if p.ProjectID != "" && p.PageID != "" {
			if want := PageID(p.ProjectID, p.SourcePath); want != p.PageID {
				c.addf("page_id", "%q is not md5(project_id+source_path) = %q", p.PageID, want)
			}
		}
	}
	c.timestamp("uploaded", p.Uploaded, true)
	e := p.Extraction
	c.required("extraction.engine", e.Engine)
	checkBlocks(c, "extraction.above_fold_blocks", e.AboveFoldBlocks)
	checkBlocks(c, "extraction.rest_of_page_blocks", e.RestOfPageBlocks)
	c.format("content_hash", p.ContentHash, reHex64, "64 hex (sha256)", false)
	if o := p.Optimization; o != nil {
		c.timestamp("optimization.completed", o.Completed, true)
		c.required("optimization.model", o.Model)
		if o.Confidence < 0 || o.Confidence > 1 {
			c.addf("optimization.confidence", "%v is not within 0-1", o.Confidence)
		}
		c.nonNegative("optimization.changes", int64(o.Changes))
		checkBlocks(c, "optimization.optimized_blocks", o.OptimizedBlocks)
		c.format("optimization.source_hash", o.SourceHash, reHex64, "64 hex (sha256)", false)
	}
	if a := p.Audit; a != nil {
		c.nonNegative("audit.title_length", int64(a.TitleLength))
		c.nonNegative("audit.description_length", int64(a.DescriptionLength))
		c.nonNegative("audit.h1_count", int64(a.H1Count))
		c.nonNegative("audit.word_count", int64(a.WordCount))
		for i, is := range a.Issues {
			p := index("audit.issues", i)
			c.required(join(p, "code"), is.Code)
			c.enum(join(p, "severity"), is.Severity, AuditSeverities)
		}
	}
	c.timestamp("source_missing", p.SourceMissing, false)
}

// Validate checks a review record.
func (r *ReviewData) Validate() error { return validateWith(r.check) }

func (r *ReviewData) check(c *checker) {
	c.format("page_id", r.PageID, rePageID, "page_ + 12 hex", true)
	c.format("project_id", r.ProjectID, reProjectID, "proj_ + 12 hex", true)
	for id, d := range r.Blocks {
		p := mapKey("blocks", id)
		if id == "" {
			c.addf("blocks", "empty block id")
		}
		c.enum(join(p, "state"), d.State, ReviewStates)
		c.timestamp(join(p, "decided"), d.Decided, true)
		c.format(join(p, "original_hash"), d.OriginalHash, reHex64, "64 hex (sha256)", false)
	}
	c.timestamp("updated", r.Updated, true)
}

// Validate checks a batch record.
func (b *BatchData) Validate() error { return validateWith(b.check) }

func (b *BatchData) check(c *checker) {
	c.batchID("batch_id", b.BatchID, true)
	c.format("project_id", b.ProjectID, reProjectID, "proj_ + 12 hex", true)
	c.timestamp("created", b.Created, true)
	c.nonNegative("page_count", int64(b.PageCount))
	c.enum("status", b.Status, BatchStatuses)
	for id, pg := range b.Pages {
		p := mapKey("pages", id)
		if !rePageID.MatchString(id) {
			c.addf(p, "page id %q is not page_ + 12 hex", id)
		}
		c.enum(join(p, "status"), pg.Status, PageStatuses)
		c.timestamp(join(p, "uploaded"), pg.Uploaded, true)
		c.timestamp(join(p, "started"), pg.Started, false)
		c.timestamp(join(p, "completed"), pg.Completed, false)
	}
	c.nonNegative("summary.completed", int64(b.Summary.Completed))
	c.nonNegative("summary.failed", int64(b.Summary.Failed))
	c.nonNegative("summary.pending", int64(b.Summary.Pending))
	c.nonNegative("summary.average_time_ms", b.Summary.AverageTimeMs)
}

// Validate checks a queue record.
func (q *QueueData) Validate() error { return validateWith(q.check) }

func (q *QueueData) check(c *checker) {
	for i, it := range q.Items {
		p := index("items", i)
		c.format(join(p, "page_id"), it.PageID, rePageID, "page_ + 12 hex", true)
		c.batchID(join(p, "batch_id"), it.BatchID, true)
		c.rangeInt(join(p, "priority"), int64(it.Priority), 1, 10)
		c.timestamp(join(p, "queued_at"), it.QueuedAt, true)
		c.nonNegative(join(p, "attempts"), int64(it.Attempts))
	}
	c.timestamp("last_processed", q.LastProcessed, false) // empty until the Worker first runs
}

// Validate checks a status record.
func (s *StatusData) Validate() error { return validateWith(s.check) }

func (s *StatusData) check(c *checker) {
	c.enum("status", s.Status, PageStatuses)
	c.batchID("batch_id", s.BatchID, true)
	c.timestamp("updated", s.Updated, true)
	if p := s.Processing; p != nil {
		c.timestamp("processing.started", p.Started, true)
		c.rangeInt("processing.progress", int64(p.Progress), 0, 100)
	}
	if r := s.Result; r != nil {
		c.timestamp("result.completed", r.Completed, true)
		c.nonNegative("result.changes", int64(r.Changes))
		if r.Confidence < 0 || r.Confidence > 1 {
			c.addf("result.confidence", "%v is not within 0-1", r.Confidence)
		}
	}
	if e := s.Error; e != nil {
		c.required("error.message", e.Message)
		c.timestamp("error.timestamp", e.Timestamp, true)
	}
}

// Validate checks a log record. page_id may be empty (a log about a file
// that never became a page), else it is a page ID.
func (l *LogData) Validate() error { return validateWith(l.check) }

func (l *LogData) check(c *checker) {
	c.format("page_id", l.PageID, rePageID, "page_ + 12 hex", false)
	if len(l.Entries) > MaxLogEntries {
		c.addf("entries", "%d entries, at most %d are kept", len(l.Entries), MaxLogEntries)
	}
	for i, e := range l.Entries {
		p := index("entries", i)
		c.timestamp(join(p, "timestamp"), e.Timestamp, true)
		c.enum(join(p, "level"), e.Level, LogLevels)
		c.required(join(p, "message"), e.Message)
		if e.DurationMs != nil {
			c.nonNegative(join(p, "duration_ms"), *e.DurationMs)
		}
	}
}

// newRecord returns a pointer to a zero record of the key's kind.
func newRecord(k Kind) (any, error) {
	switch k {
	case KindUser:
		return new(UserData), nil
	case KindProjects:
		return new(ProjectsList), nil
	case KindAPIKeys:
		return new(ApiKeysList), nil
	case KindProject:
		return new(ProjectData), nil
	case KindAPIKey:
		return new(KeyData), nil
	case KindEmail:
		return new(EmailData), nil
	case KindCache:
		return new(CacheData), nil
	case KindSession:
		return new(SessionData), nil
	case KindPage:
		return new(PageData), nil
	case KindReview:
		return new(ReviewData), nil
	case KindBatch:
		return new(BatchData), nil
	case KindQueue:
		return new(QueueData), nil
	case KindStatus:
		return new(StatusData), nil
	case KindLogs:
		return new(LogData), nil
	}
	return nil, fmt.Errorf("unknown key kind %q", k)
}

// DecodeValue decodes a KV value by its key's kind into the matching record
// type (a pointer: *PageData for page:..., *ProjectsList for projects:...)
// and validates it, including that the IDs in the key and in the record
// agree. It never panics, whatever the bytes.
func DecodeValue(key string, value []byte) (any, error) {
	k, err := ParseKey(key)
	if err != nil {
		return nil, err
	}
	rec, err := newRecord(k.Kind)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", key, err)
	}
	if err := json.Unmarshal(value, rec); err != nil {
		return nil, fmt.Errorf("value of %s is not valid %s JSON: %w", key, k.Kind, err)
	}
	if err := validateRecord(k, rec); err != nil {
		return nil, fmt.Errorf("value of %s: %w", key, err)
	}
	return rec, nil
}

// ErrRecordType is returned by ValidateRecord for a record whose Go type is
// not the one of the key's kind.
var ErrRecordType = errors.New("record type does not match the key")

// ValidateRecord runs on a typed record (a pointer to the model type of
// key's kind) the same checks DecodeValue runs after decoding, so a caller
// that already holds the record need not decode its JSON again.
func ValidateRecord(key string, rec any) error {
	k, err := ParseKey(key)
	if err != nil {
		return err
	}
	want, err := newRecord(k.Kind)
	if err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	if reflect.TypeOf(want) != reflect.TypeOf(rec) {
		return fmt.Errorf("key %q holds %T records, not %T: %w", key, want, rec, ErrRecordType)
	}
	if err := validateRecord(k, rec); err != nil {
		return fmt.Errorf("value of %s: %w", key, err)
	}
	return nil
}

// ValidateValue is DecodeValue without the result.
func ValidateValue(key string, value []byte) error {
	_, err := DecodeValue(key, value)
	return err
}

// validateRecord runs the record's own checks plus the key agreement checks.
func validateRecord(k Key, rec any) error {
	c := &checker{}
	switch r := rec.(type) {
	case *UserData:
		r.check(c)
		c.equal("user_id", r.UserID, k.ID, "user id")
	case *ProjectsList:
		if *r == nil {
			c.addf("", "null, want a JSON array")
		}
		appendErr(c, r.Validate())
		c.format("key", k.ID, reUserID, "user_<id>", true)
	case *ApiKeysList:
		if *r == nil {
			c.addf("", "null, want a JSON array")
		}
		appendErr(c, r.Validate())
		c.format("key", k.ID, reUserID, "user_<id>", true)
	case *ProjectData:
		r.check(c)
		c.equal("project_id", r.ProjectID, k.ID, "project id")
	case *KeyData:
		r.check(c)
		c.format("key", k.ID, reKeyHash, "sha256:<64 hex>", true)
	case *EmailData:
		appendErr(c, r.Validate())
		checkEmail(c, "key", k.ID)
	case *CacheData:
		appendErr(c, r.Validate())
	case *SessionData:
		appendErr(c, r.Validate())
	case *PageData:
		r.check(c)
		c.format("key", k.ID, reProjectID, "page:{proj_ + 12 hex}:...", true)
		c.equal("project_id", r.ProjectID, k.ID, "project id")
		c.equal("page_id", r.PageID, k.Secondary, "page id")
	case *ReviewData:
		r.check(c)
		c.equal("project_id", r.ProjectID, k.ID, "project id")
		c.equal("page_id", r.PageID, k.Secondary, "page id")
	case *BatchData:
		r.check(c)
		c.equal("project_id", r.ProjectID, k.ID, "project id")
		c.equal("batch_id", r.BatchID, k.Secondary, "batch id")
	case *QueueData:
		r.check(c)
		c.format("key", k.ID, reProjectID, "queue:{proj_ + 12 hex}", true)
	case *StatusData:
		r.check(c)
		c.format("key", k.ID, reProjectID, "status:{proj_ + 12 hex}:...", true)
		c.format("key", k.Secondary, rePageID, "status:...:{page_ + 12 hex}", true)
	case *LogData:
		r.check(c)
		c.format("key", k.ID, reProjectID, "logs:{proj_ + 12 hex}:...", true)
		if r.PageID != "" {
			c.equal("page_id", r.PageID, k.Secondary, "page id")
		}
	default:
		return fmt.Errorf("no validation for %T", rec)
	}
	return c.err()
}

func appendErr(c *checker, err error) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		c.problems = append(c.problems, ve.Problems...)
	} else if err != nil {
		c.addf("", "%v", err)
	}
}
