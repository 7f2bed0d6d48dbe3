package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	cloudflare "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"
)

// DefaultAPIBase is Cloudflare's REST API; NIMBUS_CF_API_BASE overrides it
// (the local dev stack, test servers).
const DefaultAPIBase = "https://api.cloudflare.com/client/v4/"

// EnvAPIBase names the variable that points the client at another base URL.
const EnvAPIBase = "NIMBUS_CF_API_BASE"

// CloudflareConfig configures the Cloudflare remote. The token is only ever
// handed to option.WithAPIToken; it is never logged or formatted.
type CloudflareConfig struct {
	AccountID string
	Token     string
	// BaseURL defaults to $NIMBUS_CF_API_BASE, else DefaultAPIBase.
	BaseURL string
	// HTTPClient defaults to a client with sane transport timeouts.
	HTTPClient *http.Client
	// RequestTimeout bounds one request (default 60 s); a timeout is
	// retryable and asks for a smaller bulk chunk.
	RequestTimeout time.Duration
}

// Cloudflare is the Remote on cloudflare-go v6's kv package. It is built with
// explicit options only: cloudflare.NewClient would also read CLOUDFLARE_*
// variables (two auth schemes were sent with CLOUDFLARE_API_KEY set), and the
// SDK's own retries are off (they obey Retry-After uncapped and can block for
// minutes); the Pacer retries instead.
type Cloudflare struct {
	account string
	timeout time.Duration
	ns      *kv.NamespaceService
}

// BaseURLFromEnv returns $NIMBUS_CF_API_BASE or the default API base.
func BaseURLFromEnv() string {
	if b := strings.TrimSpace(osGetenv(EnvAPIBase)); b != "" {
		return b
	}
	return DefaultAPIBase
}

// NewCloudflare builds the remote.
func NewCloudflare(cfg CloudflareConfig) (*Cloudflare, error) {
	if cfg.AccountID == "" {
		return nil, errors.New("cloudflare remote: no account ID (set CLOUDFLARE_ACCOUNT_ID or the account in settings)")
	}
	if cfg.Token == "" {
		return nil, errors.New("cloudflare remote: no API token (set CLOUDFLARE_API_TOKEN or save one in settings)")
	}
	if err := checkToken(cfg.Token); err != nil {
		return nil, err
	}
	base := cfg.BaseURL
	if base == "" {
		base = BaseURLFromEnv()
	}
	if _, err := url.Parse(base); err != nil {
		return nil, fmt.Errorf("cloudflare remote: base URL %q: %w", base, err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}}
	}
	hc = noReplayClient(hc)
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	svc := kv.NewNamespaceService(
		option.WithAPIToken(cfg.Token),
		option.WithBaseURL(base),
		option.WithMaxRetries(0),
		option.WithHTTPClient(hc),
	)
	return &Cloudflare{account: cfg.AccountID, timeout: timeout, ns: svc}, nil
}

func (c *Cloudflare) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// ListKeys lists one page by hand: ListAutoPaging stops at an empty page even
// when the cursor is not empty.
func (c *Cloudflare) ListKeys(ctx context.Context, nsID, prefix, cursor string) (KeyPage, error) {
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	params := kv.NamespaceKeyListParams{
		AccountID: cloudflare.F(c.account),
		Limit:     cloudflare.F(float64(MaxListLimit)),
	}
	if prefix != "" {
		params.Prefix = cloudflare.F(prefix)
	}
	if cursor != "" {
		params.Cursor = cloudflare.F(cursor)
	}
	var raw *http.Response
	res, err := c.ns.Keys.List(rctx, nsID, params, option.WithResponseInto(&raw))
	if err != nil {
		return KeyPage{}, classify(ctx, "list", nsID, raw, err)
	}
	page := KeyPage{Cursor: res.ResultInfo.Cursor, Keys: make([]KeyInfo, 0, len(res.Result))}
	for _, k := range res.Result {
		page.Keys = append(page.Keys, KeyInfo{Name: k.Name, Meta: metaFromAny(k.Metadata)})
	}
	return page, nil
}

// metaFromAny turns the SDK's decoded metadata back into Meta. Foreign
// metadata (not ours) yields an empty Meta, which the engine treats as
// "unknown: fetch it".
func metaFromAny(v any) Meta {
	if v == nil {
		return Meta{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Meta{}
	}
	var m Meta
	if json.Unmarshal(b, &m) != nil {
		return Meta{}
	}
	return m
}

// bulkGetEnvelope is decoded by hand: the SDK's typed result is empty when
// any requested key is missing and never picks the with-metadata variant.
type bulkGetEnvelope struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result struct {
		Values map[string]json.RawMessage `json:"values"`
	} `json:"result"`
}

// BulkGet fetches up to 100 keys with metadata.
func (c *Cloudflare) BulkGet(ctx context.Context, nsID string, keys []string) (map[string]Item, error) {
	if len(keys) == 0 {
		return map[string]Item{}, nil
	}
	if len(keys) > MaxBulkGet {
		return nil, fmt.Errorf("kv bulk get: %d keys > %d a request", len(keys), MaxBulkGet)
	}
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	var raw *http.Response
	var body []byte
	_, err := c.ns.BulkGet(rctx, nsID, kv.NamespaceBulkGetParams{
		AccountID:    cloudflare.F(c.account),
		Keys:         cloudflare.F(keys),
		Type:         cloudflare.F(kv.NamespaceBulkGetParamsTypeText),
		WithMetadata: cloudflare.F(true),
	}, option.WithResponseInto(&raw), option.WithResponseBodyInto(&body))
	if err != nil {
		return nil, classify(ctx, "bulk_get", nsID, raw, err)
	}
	return decodeBulkGet(nsID, body, keys)
}

// decodeBulkGet decodes a bulk get response body (untrusted input).
func decodeBulkGet(nsID string, body []byte, keys []string) (map[string]Item, error) {
	var env bulkGetEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, &Error{Op: "bulk_get", NS: nsID, Status: 200, Retryable: true, Err: fmt.Errorf("decode response: %w", err)}
	}
	if !env.Success {
		e := &Error{Op: "bulk_get", NS: nsID, Status: 200, Retryable: true, Err: errors.New("success=false")}
		if len(env.Errors) > 0 {
			e.Code, e.Err = env.Errors[0].Code, errors.New(env.Errors[0].Message)
		}
		return nil, e
	}
	out := make(map[string]Item, len(keys))
	for _, k := range keys {
		rv, ok := env.Result.Values[k]
		if !ok || string(rv) == "null" || len(rv) == 0 {
			out[k] = Item{}
			continue
		}
		// Two shapes: {value, metadata} when the server honours
		// withMetadata, or the bare value (Miniflare's local explorer
		// ignores withMetadata). The engine hashes the value itself, so
		// missing metadata costs nothing but a re-read.
		var s string
		var m Meta
		if rv[0] == '"' {
			if err := json.Unmarshal(rv, &s); err != nil {
				return nil, &Error{Op: "bulk_get", NS: nsID, Status: 200, Err: fmt.Errorf("key %q: undecodable value: %v", k, err)}
			}
		} else {
			var wm struct {
				Value    json.RawMessage `json:"value"`
				Metadata json.RawMessage `json:"metadata"`
			}
			if err := json.Unmarshal(rv, &wm); err != nil || wm.Value == nil {
				return nil, &Error{Op: "bulk_get", NS: nsID, Status: 200, Err: fmt.Errorf("key %q: unexpected value shape %.80s", k, rv)}
			}
			if err := json.Unmarshal(wm.Value, &s); err != nil {
				// type=text returns strings; anything else is a value written
				// by someone else in a form we cannot mirror byte for byte.
				s = string(wm.Value)
			}
			if len(wm.Metadata) > 0 && string(wm.Metadata) != "null" {
				_ = json.Unmarshal(wm.Metadata, &m) // foreign metadata: empty Meta
			}
		}
		out[k] = Item{Value: []byte(s), Meta: m, Found: true}
	}
	return out, nil
}

// BulkPut writes through the bulk endpoint (even for one key: Values.Update
// flattens a Go map of metadata into form fields). Metadata goes as JSON.
func (c *Cloudflare) BulkPut(ctx context.Context, nsID string, kvs []KV) ([]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	type pair struct {
		Key      string `json:"key"`
		Value    string `json:"value"`
		Metadata Meta   `json:"metadata"`
	}
	pairs := make([]pair, 0, len(kvs))
	for _, p := range kvs {
		mb, _ := json.Marshal(p.Meta)
		if err := CheckKV(p, mb); err != nil {
			return nil, err
		}
		pairs = append(pairs, pair{Key: p.Key, Value: string(p.Value), Metadata: p.Meta})
	}
	// The body is encoded here, not by the SDK: its encoder rebuilds the
	// JSON array element by element (quadratic: 1,000 page records took
	// seconds of CPU). The SDK still builds the request, sends the token
	// and decodes the envelope.
	body, err := json.Marshal(pairs)
	if err != nil {
		return nil, fmt.Errorf("kv bulk put: encode %d pairs: %w", len(pairs), err)
	}
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	var raw *http.Response
	res, err := c.ns.BulkUpdate(rctx, nsID, kv.NamespaceBulkUpdateParams{
		AccountID: cloudflare.F(c.account),
	}, option.WithRequestBody("application/json", body), option.WithResponseInto(&raw))
	if err != nil {
		return nil, classify(ctx, "bulk_put", nsID, raw, err)
	}
	return res.UnsuccessfulKeys, nil
}

// Get reads one raw value. Keys are path-escaped: the SDK puts them into the
// URL unescaped, so "a/b" or "q?x" would address something else.
func (c *Cloudflare) Get(ctx context.Context, nsID, key string) ([]byte, bool, error) {
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	var raw *http.Response
	res, err := c.ns.Values.Get(rctx, nsID, url.PathEscape(key), kv.NamespaceValueGetParams{
		AccountID: cloudflare.F(c.account),
	}, option.WithResponseInto(&raw))
	if err != nil {
		e := classify(ctx, "get", nsID, raw, err)
		var re *Error
		if errors.As(e, &re) && (re.Code == CodeKeyNotFound || (re.Status == http.StatusNotFound && re.Code == 0)) {
			return nil, false, nil
		}
		return nil, false, e
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxValueBytes+1))
	if err != nil {
		return nil, false, classify(ctx, "get", nsID, nil, err)
	}
	return b, true, nil
}

// ListNamespaces lists every namespace of the account (paged).
func (c *Cloudflare) ListNamespaces(ctx context.Context) ([]NamespaceInfo, error) {
	const perPage = 100
	var out []NamespaceInfo
	for page := 1; ; page++ {
		rctx, cancel := c.reqCtx(ctx)
		var raw *http.Response
		res, err := c.ns.List(rctx, kv.NamespaceListParams{
			AccountID: cloudflare.F(c.account),
			Page:      cloudflare.F(float64(page)),
			PerPage:   cloudflare.F(float64(perPage)),
		}, option.WithResponseInto(&raw))
		cancel()
		if err != nil {
			return nil, classify(ctx, "ns_list", "", raw, err)
		}
		for _, n := range res.Result {
			out = append(out, NamespaceInfo{ID: n.ID, Title: n.Title})
		}
		if len(res.Result) < perPage {
			return out, nil
		}
	}
}

// CreateNamespace creates a namespace; an existing title fails with code
// 10014 (not retryable).
func (c *Cloudflare) CreateNamespace(ctx context.Context, title string) (NamespaceInfo, error) {
	rctx, cancel := c.reqCtx(ctx)
	defer cancel()
	var raw *http.Response
	res, err := c.ns.New(rctx, kv.NamespaceNewParams{
		AccountID: cloudflare.F(c.account),
		Title:     cloudflare.F(title),
	}, option.WithResponseInto(&raw))
	if err != nil {
		return NamespaceInfo{}, classify(ctx, "ns_create", "", raw, err)
	}
	return NamespaceInfo{ID: res.ID, Title: res.Title}, nil
}

// checkToken refuses a token no HTTP request can carry (Go's client would
// refuse each request before sending it, which looked like being offline):
// a control character, a space or a non-ASCII byte, usually pasted with it.
// The message names the position, never the token.
func checkToken(t string) error {
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("cloudflare remote: the API token has a character that cannot be sent (byte %d of %d: %s); paste it again without spaces or line breaks",
				i+1, len(t), describeByte(c))
		}
	}
	return nil
}

func describeByte(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c == '\n' || c == '\r':
		return "a line break"
	case c == '\t':
		return "a tab"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("control character 0x%02x", c)
	default:
		return "a non-ASCII character"
	}
}

// classify turns an SDK/transport error into *Error. The raw response is
// captured with option.WithResponseInto because the SDK fails to build its
// API error when the body is not JSON (a 524 from the edge is an HTML page).
func classify(parent context.Context, op, ns string, raw *http.Response, err error) error {
	if pe := parent.Err(); pe != nil {
		// The caller gave up: not a remote failure, never retried.
		return fmt.Errorf("kv %s: %w", op, pe)
	}
	e := &Error{Op: op, NS: ns, Err: err}
	var apiErr *kv.Error
	if errors.As(err, &apiErr) {
		e.Status = apiErr.StatusCode
		if len(apiErr.Errors) > 0 {
			e.Code = int(apiErr.Errors[0].Code)
			e.Err = errors.New(apiErr.Errors[0].Message)
		} else {
			e.Err = errors.New(http.StatusText(apiErr.StatusCode))
		}
		if apiErr.Response != nil {
			e.RetryAfter = parseRetryAfter(apiErr.Response.Header.Get("Retry-After"))
		}
	} else if raw != nil && raw.StatusCode >= 400 {
		e.Status = raw.StatusCode
		e.RetryAfter = parseRetryAfter(raw.Header.Get("Retry-After"))
		e.Err = fmt.Errorf("%s (undecodable error body)", http.StatusText(raw.StatusCode))
	}
	switch {
	case e.Status == 0 && isRequestInvalid(err):
		// Refused by our own client before sending (an invalid header):
		// no retry will change it.
		e.Retryable = false
	case e.Status == 0:
		// Network error, reset, or our per-request timeout.
		e.Retryable = true
		e.Unreachable = isDialError(err)
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			e.Shrink = true
		}
	case e.Status == http.StatusTooManyRequests || e.Code == CodeRateLimited:
		e.Retryable = true
	case e.Code == CodeTooManyBulkOps:
		e.Retryable = true
	case e.Status == http.StatusRequestEntityTooLarge || e.Status == 524:
		e.Retryable, e.Shrink = true, true
	case e.Status == http.StatusRequestTimeout || e.Status >= 500:
		e.Retryable = true
	}
	if e.Code == CodeDailyQuota || e.Code == CodeAuth || e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		e.Retryable = false
	}
	return e
}

// isDialError: the connection itself failed (refused, unreachable, DNS),
// as opposed to a reset or a timeout on a connection that was made.
func isDialError(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// isRequestInvalid: net/http refused to send the request as built.
func isRequestInvalid(err error) bool {
	return err != nil && strings.Contains(err.Error(), "net/http: invalid header field")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// noReplayClient returns a copy of hc whose requests net/http will not send
// twice. Go's transport re-sends a request on its own when a reused
// keep-alive connection turns out closed (GET and HEAD always, other methods
// with GetBody or an Idempotency-Key): 1-4 ms later, outside the pacer and
// uncounted, although the server may have counted the first one. Without
// GetBody and with a body that is not http.NoBody, a request is not
// replayable, so every attempt comes back to the pacer, which spaces and
// counts it. An empty body on a GET or HEAD is still sent as no body (the
// transport probes it and finds EOF at once).
func noReplayClient(hc *http.Client) *http.Client {
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(noReplay); !ok {
		c.Transport = noReplay{base: base}
	}
	return &c
}

type noReplay struct{ base http.RoundTripper }

// emptyBody is an empty request body that is not http.NoBody.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

func (t noReplay) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.GetBody = nil
	if r.Body == nil || r.Body == http.NoBody {
		r.Body, r.ContentLength = emptyBody{}, 0
	}
	return t.base.RoundTrip(r)
}
