// Package kvfake is an in-process fake of the Cloudflare Workers KV REST API
// for tests: the same paths under /client/v4/accounts/{id}/storage/kv/
// namespaces, the same envelope, cursor paging, metadata, bulk endpoints,
// error codes and platform limits, plus fault injection (429 with
// Retry-After, 10046, 413, 524, 5xx, connection resets, timeouts, partial
// bulk failures), eventual consistency (reads and lists lag writes) on an
// injectable clock, and request counters by kind so tests can assert costs.
// Tests drive it through the real cloudflare-go client, never around it.
package kvfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Platform limits the fake enforces (KV-REST.md).
const (
	MaxKeyBytes   = 512
	MaxMetaBytes  = 1024
	MaxValueBytes = 25 << 20
	MaxBulkPairs  = 10000
	MaxBulkBytes  = 100 << 20
	MaxBulkGet    = 100
)

// Error codes the fake answers with. 10009, 10013, 10014, 10046, 10000 and
// 971 are Cloudflare's; the limit codes are the fake's own choice (the
// engine checks limits before sending and must never see them).
const (
	CodeAuth          = 10000
	CodeKeyNotFound   = 10009
	CodeNSNotFound    = 10013
	CodeTitleExists   = 10014
	CodeTooManyBulk   = 10046
	CodeRateLimited   = 971
	CodeInternal      = 10001
	CodeKeyTooLong    = 10033
	CodeMetaTooLarge  = 10032
	CodeValueTooLarge = 10034
	CodeBadRequest    = 10026
)

// Fault is an injectable failure.
type Fault string

const (
	FaultNone    Fault = ""
	Fault429     Fault = "429"     // HTTP 429, code 971, Retry-After
	Fault10046   Fault = "10046"   // HTTP 429, code 10046 (bulk ops only)
	Fault413     Fault = "413"     // request too large (bulk put only)
	Fault524     Fault = "524"     // edge timeout, HTML body
	Fault500     Fault = "500"     // internal error envelope
	FaultReset   Fault = "reset"   // connection closed without a response
	FaultTimeout Fault = "timeout" // no answer until the client gives up
	FaultPartial Fault = "partial" // bulk put: some keys unsuccessful
)

// Op kinds counted by the fake.
const (
	OpList       = "list"
	OpBulkGet    = "bulk_get"
	OpBulkPut    = "bulk_put"
	OpBulkDelete = "bulk_delete"
	OpGet        = "get"
	OpPut        = "put"
	OpMetadata   = "metadata"
	OpNSList     = "ns_list"
	OpNSCreate   = "ns_create"
)

// Config sets up a fake.
type Config struct {
	AccountID string
	// Token, when set, must come as "Authorization: Bearer <token>".
	Token string
	// Now is the clock (default time.Now); staleness and the budget window
	// are measured on it.
	Now func() time.Time
	// Staleness is how far reads and lists lag writes; with StaleRandom each
	// read lags by a random amount in [0, Staleness].
	Staleness   time.Duration
	StaleRandom bool
	// FaultRate is the probability that a request fails, with a fault drawn
	// from Faults (default: all kinds). Seed makes it reproducible.
	FaultRate float64
	Faults    []Fault
	Seed      uint64
	// RetryAfter is sent with 429s (whole seconds, default 1).
	RetryAfter int
	// TimeoutHang caps how long a timeout fault holds the request (default 10 s).
	TimeoutHang time.Duration
	// ApplyBeforeFail is the probability that a write hit by a reset, timeout
	// or 500 was applied anyway (the response was lost), as happens for real.
	ApplyBeforeFail float64
	// EmptyFirstPage answers a listing without a cursor with an empty page
	// and a non-empty cursor, as real KV sometimes does (the SDK's
	// ListAutoPaging stops there).
	EmptyFirstPage bool
	// IgnoreWithMetadata answers bulk gets with bare values, as Miniflare's
	// local explorer does.
	IgnoreWithMetadata bool
	// MaxBulkPairs lowers the bulk limit: larger requests get a 413 (to test
	// halving). 0 means the platform's 10,000.
	MaxBulkPairs int
}

type version struct {
	at    time.Time
	value []byte
	meta  json.RawMessage
}

type namespace struct {
	id, title string
	keys      map[string][]version
}

// Fake is the server.
type Fake struct {
	Server *httptest.Server
	cfg    Config

	mu       sync.Mutex
	rng      *rand.Rand
	ns       map[string]*namespace
	order    []string
	counts   map[string]int
	countsNS map[string]map[string]int
	faulted  map[Fault]int
	times    []time.Time
	keysPut  int
	script   []Fault
	nextNSID int
}

// New starts a fake on a loopback httptest server.
func New(cfg Config) *Fake {
	if cfg.AccountID == "" {
		cfg.AccountID = "acct0000"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 1
	}
	if cfg.TimeoutHang <= 0 {
		cfg.TimeoutHang = 10 * time.Second
	}
	if len(cfg.Faults) == 0 {
		cfg.Faults = []Fault{Fault429, Fault10046, Fault413, Fault524, Fault500, FaultReset, FaultTimeout, FaultPartial}
	}
	f := &Fake{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1)),
		ns:       map[string]*namespace{},
		counts:   map[string]int{},
		countsNS: map[string]map[string]int{},
		faulted:  map[Fault]int{},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.Server.Close() }

// BaseURL is what NIMBUS_CF_API_BASE / option.WithBaseURL should be.
func (f *Fake) BaseURL() string { return f.Server.URL + "/client/v4/" }

// AccountID is the fake's account.
func (f *Fake) AccountID() string { return f.cfg.AccountID }

// SetFaultRate changes the random fault rate (e.g. 0 to let things settle).
func (f *Fake) SetFaultRate(r float64) {
	f.mu.Lock()
	f.cfg.FaultRate = r
	f.mu.Unlock()
}

// SetStaleness changes the lag of reads and lists.
func (f *Fake) SetStaleness(d time.Duration) {
	f.mu.Lock()
	f.cfg.Staleness = d
	f.mu.Unlock()
}

// FailNext makes the next requests fail with the given faults, in order
// (before any random fault).
func (f *Fake) FailNext(faults ...Fault) {
	f.mu.Lock()
	f.script = append(f.script, faults...)
	f.mu.Unlock()
}

// Counts returns requests received by op kind (faulted ones included).
func (f *Fake) Counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// CountsFor returns the requests received for one namespace by op kind.
func (f *Fake) CountsFor(nsID string) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.countsNS[nsID] {
		out[k] = v
	}
	return out
}

// Faulted returns how many requests each fault hit.
func (f *Fake) Faulted() map[Fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[Fault]int{}
	for k, v := range f.faulted {
		out[k] = v
	}
	return out
}

// ResetCounts zeroes the counters and the request log.
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	f.counts, f.faulted, f.times, f.keysPut = map[string]int{}, map[Fault]int{}, nil, 0
	f.countsNS = map[string]map[string]int{}
	f.mu.Unlock()
}

// KeysWritten is the number of key writes applied (the free plan's meter).
func (f *Fake) KeysWritten() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keysPut
}

// MaxInWindow is the most requests received within any window of length w
// (on the fake's clock): the REST budget is 1,200 per 5 minutes.
func (f *Fake) MaxInWindow(w time.Duration) int {
	f.mu.Lock()
	ts := append([]time.Time(nil), f.times...)
	f.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best = n
		}
	}
	return best
}

// CreateNamespace adds a namespace directly (test setup) and returns its ID.
func (f *Fake) CreateNamespace(title string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.createLocked(title)
}

func (f *Fake) createLocked(title string) string {
	f.nextNSID++
	id := fmt.Sprintf("%032x", f.nextNSID)
	f.ns[id] = &namespace{id: id, title: title, keys: map[string][]version{}}
	f.order = append(f.order, id)
	return id
}

// NamespaceID returns the ID of the namespace with that title.
func (f *Fake) NamespaceID(title string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range f.order {
		if f.ns[id].title == title {
			return id
		}
	}
	return ""
}

// Latest returns the newest value of a key, ignoring staleness (for asserts).
func (f *Fake) Latest(nsID, key string) (value []byte, meta json.RawMessage, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.ns[nsID]
	if n == nil {
		return nil, nil, false
	}
	vs := n.keys[key]
	if len(vs) == 0 {
		return nil, nil, false
	}
	v := vs[len(vs)-1]
	return append([]byte(nil), v.value...), v.meta, true
}

// LatestKeys returns every key of a namespace starting with prefix,
// ignoring staleness, sorted.
func (f *Fake) LatestKeys(nsID, prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.ns[nsID]
	if n == nil {
		return nil
	}
	var out []string
	for k := range n.keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Read is a stale read as a Worker's binding sees it (not counted).
func (f *Fake) Read(nsID, key string) ([]byte, json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.ns[nsID]
	if n == nil {
		return nil, nil, false
	}
	v, ok := f.visibleLocked(n, key)
	if !ok {
		return nil, nil, false
	}
	return append([]byte(nil), v.value...), v.meta, true
}

// Write stores a value as a Worker's binding would (not counted).
func (f *Fake) Write(nsID, key string, value []byte, meta json.RawMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.ns[nsID]; n != nil {
		f.putLocked(n, key, value, meta)
	}
}

// ListVisible is a stale list as a Worker's binding sees it (not counted).
func (f *Fake) ListVisible(nsID, prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.ns[nsID]
	if n == nil {
		return nil
	}
	var out []string
	for _, k := range f.sortedKeysLocked(n, prefix) {
		if _, ok := f.visibleLocked(n, k); ok {
			out = append(out, k)
		}
	}
	return out
}

func (f *Fake) lagLocked() time.Duration {
	if f.cfg.Staleness <= 0 {
		return 0
	}
	if f.cfg.StaleRandom {
		return time.Duration(f.rng.Int64N(int64(f.cfg.Staleness) + 1))
	}
	return f.cfg.Staleness
}

func (f *Fake) visibleLocked(n *namespace, key string) (version, bool) {
	vs := n.keys[key]
	if len(vs) == 0 {
		return version{}, false
	}
	cut := f.cfg.Now().Add(-f.lagLocked())
	for i := len(vs) - 1; i >= 0; i-- {
		if !vs[i].at.After(cut) {
			return vs[i], true
		}
	}
	return version{}, false
}

func (f *Fake) putLocked(n *namespace, key string, value []byte, meta json.RawMessage) {
	now := f.cfg.Now()
	vs := append(n.keys[key], version{at: now, value: append([]byte(nil), value...), meta: meta})
	// Keep only what some reader can still see: versions newer than the
	// staleness horizon plus the newest one older than it.
	horizon := now.Add(-f.cfg.Staleness)
	drop := 0
	for i := 0; i+1 < len(vs); i++ {
		if !vs[i+1].at.After(horizon) {
			drop = i + 1
		}
	}
	n.keys[key] = vs[drop:]
	f.keysPut++
}

func (f *Fake) sortedKeysLocked(n *namespace, prefix string) []string {
	keys := make([]string, 0, len(n.keys))
	for k := range n.keys {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// ---- HTTP ----

type apiMsg struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type envelope struct {
	Success    bool     `json:"success"`
	Errors     []apiMsg `json:"errors"`
	Messages   []apiMsg `json:"messages"`
	Result     any      `json:"result"`
	ResultInfo any      `json:"result_info,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, result any, info any) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Errors: []apiMsg{}, Messages: []apiMsg{}, Result: result, ResultInfo: info})
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, envelope{Success: false, Errors: []apiMsg{{code, msg}}, Messages: []apiMsg{}, Result: nil})
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	// Route on the escaped path: keys in value/metadata URLs are
	// percent-encoded and may contain '/'.
	p := r.URL.EscapedPath()
	prefix := "/client/v4/accounts/"
	if !strings.HasPrefix(p, prefix) {
		fail(w, http.StatusNotFound, 7003, "No route for the URI")
		return
	}
	rest := strings.TrimPrefix(p, prefix)
	acct, rest, _ := strings.Cut(rest, "/")
	if !strings.HasPrefix(rest, "storage/kv/namespaces") {
		fail(w, http.StatusNotFound, 7003, "No route for the URI")
		return
	}
	rest = strings.TrimPrefix(strings.TrimPrefix(rest, "storage/kv/namespaces"), "/")
	segs := []string{}
	if rest != "" {
		segs = strings.SplitN(rest, "/", 3)
	}
	op := opOf(r.Method, segs)

	f.mu.Lock()
	f.counts[op]++
	if len(segs) > 0 {
		if f.countsNS[segs[0]] == nil {
			f.countsNS[segs[0]] = map[string]int{}
		}
		f.countsNS[segs[0]][op]++
	}
	f.times = append(f.times, f.cfg.Now())
	f.mu.Unlock()

	if r.Header.Get("X-Auth-Key") != "" || r.Header.Get("X-Auth-Email") != "" {
		// cloudflare.NewClient reads CLOUDFLARE_API_KEY/EMAIL from the
		// environment and sent both schemes; the real API refuses that.
		fail(w, http.StatusBadRequest, 6003, "Invalid request headers: more than one authentication scheme")
		return
	}
	if f.cfg.Token != "" && r.Header.Get("Authorization") != "Bearer "+f.cfg.Token {
		fail(w, http.StatusForbidden, CodeAuth, "Authentication error")
		return
	}
	if acct != f.cfg.AccountID {
		fail(w, http.StatusForbidden, CodeAuth, "Authentication error: unknown account")
		return
	}
	if op == "" {
		fail(w, http.StatusMethodNotAllowed, 7001, "method not allowed for this route")
		return
	}
	fault, applyAnyway := f.pickFault(op)
	switch fault {
	case Fault429:
		w.Header().Set("Retry-After", strconv.Itoa(f.cfg.RetryAfter))
		fail(w, http.StatusTooManyRequests, CodeRateLimited, "More than 1200 requests per 300 seconds reached. Please wait and consider throttling your request speed")
		return
	case Fault10046:
		fail(w, http.StatusTooManyRequests, CodeTooManyBulk, "Too many bulk operations already in progress")
		return
	case Fault413:
		fail(w, http.StatusRequestEntityTooLarge, 413, "Request entity too large")
		return
	case Fault524:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(524)
		_, _ = io.WriteString(w, "<html><body>error code: 524</body></html>")
		return
	case Fault500, FaultReset, FaultTimeout:
		if applyAnyway {
			rec := httptest.NewRecorder()
			f.handle(rec, r, op, segs, FaultNone)
		}
		switch fault {
		case Fault500:
			fail(w, http.StatusInternalServerError, CodeInternal, "Internal server error")
		case FaultReset:
			if hj, okh := w.(http.Hijacker); okh {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			fail(w, http.StatusBadGateway, CodeInternal, "connection reset")
		case FaultTimeout:
			// Drain the body first: the server only notices the client
			// hanging up once it reads from the connection again.
			_, _ = io.Copy(io.Discard, r.Body)
			t := time.NewTimer(f.cfg.TimeoutHang)
			defer t.Stop()
			select {
			case <-r.Context().Done():
			case <-t.C:
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(524)
		}
		return
	}
	f.handle(w, r, op, segs, fault)
}

func opOf(method string, segs []string) string {
	switch {
	case len(segs) == 0 && method == http.MethodGet:
		return OpNSList
	case len(segs) == 0 && method == http.MethodPost:
		return OpNSCreate
	case len(segs) == 2 && segs[1] == "keys" && method == http.MethodGet:
		return OpList
	case len(segs) == 2 && segs[1] == "bulk" && method == http.MethodPut:
		return OpBulkPut
	case len(segs) == 3 && segs[1] == "bulk" && segs[2] == "get" && method == http.MethodPost:
		return OpBulkGet
	case len(segs) == 3 && segs[1] == "bulk" && segs[2] == "delete" && method == http.MethodPost:
		return OpBulkDelete
	case len(segs) == 3 && segs[1] == "values" && method == http.MethodGet:
		return OpGet
	case len(segs) == 3 && segs[1] == "values" && method == http.MethodPut:
		return OpPut
	case len(segs) == 3 && segs[1] == "metadata" && method == http.MethodGet:
		return OpMetadata
	}
	return ""
}

func (f *Fake) pickFault(op string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fault Fault
	if len(f.script) > 0 {
		fault, f.script = f.script[0], f.script[1:]
	} else if f.cfg.FaultRate > 0 && f.rng.Float64() < f.cfg.FaultRate {
		fault = f.cfg.Faults[f.rng.IntN(len(f.cfg.Faults))]
	}
	bulkWrite := op == OpBulkPut || op == OpBulkDelete
	switch fault {
	case Fault10046, Fault413, FaultPartial:
		if !bulkWrite && fault != Fault10046 {
			fault = Fault500 // only bulk writes can be too large or partial
		}
		if fault == Fault10046 && !(bulkWrite || op == OpBulkGet) {
			fault = Fault429
		}
	}
	if fault != FaultNone {
		f.faulted[fault]++
	}
	apply := bulkWrite || op == OpPut || op == OpNSCreate
	return fault, apply && f.rng.Float64() < f.cfg.ApplyBeforeFail
}

func (f *Fake) nsFor(w http.ResponseWriter, id string) *namespace {
	n := f.ns[id]
	if n == nil {
		fail(w, http.StatusNotFound, CodeNSNotFound, "namespace not found")
	}
	return n
}

func (f *Fake) handle(w http.ResponseWriter, r *http.Request, op string, segs []string, fault Fault) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBulkBytes+1<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, CodeBadRequest, "read body: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case OpNSList:
		f.listNamespaces(w, r)
	case OpNSCreate:
		var req struct {
			Title string `json:"title"`
		}
		if json.Unmarshal(body, &req) != nil || req.Title == "" {
			fail(w, http.StatusBadRequest, CodeBadRequest, "title required")
			return
		}
		for _, id := range f.order {
			if f.ns[id].title == req.Title {
				fail(w, http.StatusBadRequest, CodeTitleExists, "a namespace with this account ID and title already exists")
				return
			}
		}
		id := f.createLocked(req.Title)
		ok(w, map[string]any{"id": id, "title": req.Title, "supports_url_encoding": true}, nil)
	case OpList:
		n := f.nsFor(w, segs[0])
		if n != nil {
			f.listKeys(w, r, n)
		}
	case OpBulkPut:
		n := f.nsFor(w, segs[0])
		if n != nil {
			f.bulkPut(w, n, body, fault)
		}
	case OpBulkGet:
		n := f.nsFor(w, segs[0])
		if n != nil {
			f.bulkGet(w, n, body)
		}
	case OpBulkDelete:
		n := f.nsFor(w, segs[0])
		if n == nil {
			return
		}
		var keys []string
		if json.Unmarshal(body, &keys) != nil {
			fail(w, http.StatusBadRequest, CodeBadRequest, "body must be a JSON array of keys")
			return
		}
		for _, k := range keys {
			delete(n.keys, k)
		}
		ok(w, map[string]any{"successful_key_count": len(keys), "unsuccessful_keys": []string{}}, nil)
	case OpGet, OpMetadata, OpPut:
		n := f.nsFor(w, segs[0])
		if n == nil {
			return
		}
		key, err := url.PathUnescape(segs[2])
		if err != nil {
			fail(w, http.StatusBadRequest, CodeBadRequest, "bad key escape")
			return
		}
		if len(key) > MaxKeyBytes {
			fail(w, http.StatusRequestURITooLong, CodeKeyTooLong, "key name too long")
			return
		}
		switch op {
		case OpGet:
			v, found := f.visibleLocked(n, key)
			if !found {
				fail(w, http.StatusNotFound, CodeKeyNotFound, "get: 'key not found'")
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(v.value)
		case OpMetadata:
			v, found := f.visibleLocked(n, key)
			if !found {
				fail(w, http.StatusNotFound, CodeKeyNotFound, "metadata: 'key not found'")
				return
			}
			var m any
			if len(v.meta) > 0 {
				_ = json.Unmarshal(v.meta, &m)
			}
			ok(w, m, nil)
		case OpPut:
			f.putValue(w, r, n, key, body)
		}
	}
}

func (f *Fake) listNamespaces(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 1000 {
		per = 20
	}
	type nsOut struct {
		ID                  string `json:"id"`
		Title               string `json:"title"`
		SupportsURLEncoding bool   `json:"supports_url_encoding"`
	}
	all := make([]nsOut, 0, len(f.order))
	for _, id := range f.order {
		all = append(all, nsOut{id, f.ns[id].title, true})
	}
	lo := min((page-1)*per, len(all))
	hi := min(lo+per, len(all))
	ok(w, all[lo:hi], map[string]any{"page": page, "per_page": per, "count": hi - lo, "total_count": len(all)})
}

type keyOut struct {
	Name     string          `json:"name"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

func (f *Fake) listKeys(w http.ResponseWriter, r *http.Request, n *namespace) {
	q := r.URL.Query()
	limit := 1000
	if s := q.Get("limit"); s != "" {
		l, err := strconv.Atoi(s)
		if err != nil || l < 10 || l > 1000 {
			fail(w, http.StatusBadRequest, CodeBadRequest, "limit must be between 10 and 1000")
			return
		}
		limit = l
	}
	after := ""
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) < 2 || string(b[:2]) != "k:" {
			fail(w, http.StatusBadRequest, CodeBadRequest, "invalid cursor")
			return
		}
		after = string(b[2:])
	} else if f.cfg.EmptyFirstPage {
		ok(w, []keyOut{}, map[string]any{"count": 0, "cursor": base64.RawURLEncoding.EncodeToString([]byte("k:"))})
		return
	}
	keys := f.sortedKeysLocked(n, q.Get("prefix"))
	start := sort.SearchStrings(keys, after)
	if after != "" && start < len(keys) && keys[start] == after {
		start++
	}
	out := []keyOut{}
	i := start
	for ; i < len(keys) && len(out) < limit; i++ {
		v, visible := f.visibleLocked(n, keys[i])
		if !visible {
			continue
		}
		out = append(out, keyOut{Name: keys[i], Metadata: v.meta})
	}
	cursor := ""
	if i < len(keys) {
		cursor = base64.RawURLEncoding.EncodeToString([]byte("k:" + keys[i-1]))
	}
	ok(w, out, map[string]any{"count": len(out), "cursor": cursor})
}

type bulkPair struct {
	Key      string          `json:"key"`
	Value    string          `json:"value"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Base64   bool            `json:"base64,omitempty"`
}

func (f *Fake) bulkPut(w http.ResponseWriter, n *namespace, body []byte, fault Fault) {
	if len(body) > MaxBulkBytes {
		fail(w, http.StatusRequestEntityTooLarge, 413, "request body over 100 MB")
		return
	}
	var pairs []bulkPair
	if err := json.Unmarshal(body, &pairs); err != nil {
		fail(w, http.StatusBadRequest, CodeBadRequest, "body must be a JSON array of {key, value, metadata}: "+err.Error())
		return
	}
	maxPairs := MaxBulkPairs
	if f.cfg.MaxBulkPairs > 0 {
		maxPairs = f.cfg.MaxBulkPairs
	}
	if len(pairs) > maxPairs {
		fail(w, http.StatusRequestEntityTooLarge, 413, fmt.Sprintf("%d pairs over the limit of %d", len(pairs), maxPairs))
		return
	}
	for _, p := range pairs {
		switch {
		case p.Key == "" || len(p.Key) > MaxKeyBytes:
			fail(w, http.StatusBadRequest, CodeKeyTooLong, fmt.Sprintf("key %.40q: must be 1..512 bytes", p.Key))
			return
		case len(p.Metadata) > MaxMetaBytes:
			fail(w, http.StatusBadRequest, CodeMetaTooLarge, fmt.Sprintf("key %q: metadata over 1024 bytes", p.Key))
			return
		case len(p.Value) > MaxValueBytes:
			fail(w, http.StatusRequestEntityTooLarge, CodeValueTooLarge, fmt.Sprintf("key %q: value over 25 MiB", p.Key))
			return
		}
	}
	unsuccessful := []string{}
	for _, p := range pairs {
		if fault == FaultPartial && f.rng.IntN(2) == 0 {
			unsuccessful = append(unsuccessful, p.Key)
			continue
		}
		v := []byte(p.Value)
		if p.Base64 {
			d, err := base64.StdEncoding.DecodeString(p.Value)
			if err != nil {
				unsuccessful = append(unsuccessful, p.Key)
				continue
			}
			v = d
		}
		meta := p.Metadata
		if string(meta) == "null" {
			meta = nil
		}
		f.putLocked(n, p.Key, v, meta)
	}
	ok(w, map[string]any{"successful_key_count": len(pairs) - len(unsuccessful), "unsuccessful_keys": unsuccessful}, nil)
}

func (f *Fake) bulkGet(w http.ResponseWriter, n *namespace, body []byte) {
	var req struct {
		Keys         []string `json:"keys"`
		Type         string   `json:"type"`
		WithMetadata bool     `json:"withMetadata"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, http.StatusBadRequest, CodeBadRequest, "bad bulk get body: "+err.Error())
		return
	}
	if len(req.Keys) == 0 || len(req.Keys) > MaxBulkGet {
		fail(w, http.StatusBadRequest, CodeBadRequest, "keys: 1..100 required")
		return
	}
	values := map[string]any{}
	for _, k := range req.Keys {
		v, found := f.visibleLocked(n, k)
		if !found {
			values[k] = nil
			continue
		}
		var val any = string(v.value)
		if req.Type == "json" {
			var j any
			if json.Unmarshal(v.value, &j) != nil {
				fail(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("key %q: value is not JSON", k))
				return
			}
			val = j
		}
		if req.WithMetadata && !f.cfg.IgnoreWithMetadata {
			var m any
			if len(v.meta) > 0 {
				_ = json.Unmarshal(v.meta, &m)
			}
			values[k] = map[string]any{"value": val, "metadata": m}
		} else {
			values[k] = val
		}
	}
	ok(w, map[string]any{"values": values}, nil)
}

func (f *Fake) putValue(w http.ResponseWriter, r *http.Request, n *namespace, key string, body []byte) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var value []byte
	var meta json.RawMessage
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(part)
			switch part.FormName() {
			case "value":
				value = b
			case "metadata":
				if !json.Valid(b) {
					fail(w, http.StatusBadRequest, CodeBadRequest, "metadata must be JSON")
					return
				}
				meta = b
			}
		}
	} else {
		value = body
	}
	if len(meta) > MaxMetaBytes {
		fail(w, http.StatusBadRequest, CodeMetaTooLarge, "metadata over 1024 bytes")
		return
	}
	if len(value) > MaxValueBytes {
		fail(w, http.StatusRequestEntityTooLarge, CodeValueTooLarge, "value over 25 MiB")
		return
	}
	f.putLocked(n, key, value, meta)
	ok(w, map[string]any{}, nil)
}
