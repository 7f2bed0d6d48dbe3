package sync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	nsync "github.com/nimbus-desktop/nimbus/sync"
	"github.com/nimbus-desktop/nimbus/sync/kvfake"
)

const testToken = "tok_test_1234567890abcdef"

func newRemote(t testing.TB, f *kvfake.Fake, timeout ...time.Duration) *nsync.Cloudflare {
	t.Helper()
	r, err := nsync.NewCloudflare(nsync.CloudflareConfig{
		AccountID: f.AccountID(), Token: testToken, BaseURL: f.BaseURL(),
		RequestTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(timeout) > 0 {
		r, _ = nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: f.AccountID(), Token: testToken, BaseURL: f.BaseURL(), RequestTimeout: timeout[0]})
	}
	return r
}

func TestCloudflareNamespaces(t *testing.T) {
	f := kvfake.New(kvfake.Config{Token: testToken})
	defer f.Close()
	r := newRemote(t, f)
	ctx := context.Background()
	for i := 0; i < 130; i++ { // more than one page of 100
		f.CreateNamespace(fmt.Sprintf("OTHER_%03d", i))
	}
	info, err := r.CreateNamespace(ctx, "NIMBUS_PAGES")
	if err != nil || info.ID == "" || info.Title != "NIMBUS_PAGES" {
		t.Fatalf("create: %+v %v", info, err)
	}
	_, err = r.CreateNamespace(ctx, "NIMBUS_PAGES")
	var re *nsync.Error
	if !errors.As(err, &re) || re.Code != nsync.CodeTitleExists || re.Retryable {
		t.Fatalf("duplicate title: want code 10014 not retryable, got %v", err)
	}
	all, err := r.ListNamespaces(ctx)
	if err != nil || len(all) != 131 {
		t.Fatalf("list: %d %v", len(all), err)
	}
	if all[130].ID != info.ID {
		t.Fatalf("last namespace %+v, want %+v", all[130], info)
	}
}

func TestCloudflareKeysRoundTrip(t *testing.T) {
	f := kvfake.New(kvfake.Config{Token: testToken})
	defer f.Close()
	r := newRemote(t, f)
	ctx := context.Background()
	ns := f.CreateNamespace("NIMBUS_STATUS")
	var kvs []nsync.KV
	for i := 0; i < 2500; i++ {
		v := fmt.Sprintf(`{"status":"queued","n":%d}`, i)
		kvs = append(kvs, nsync.KV{Key: fmt.Sprintf("status:p:%05d", i), Value: []byte(v), Meta: nsync.Meta{H: fmt.Sprint(i), U: "2026-01-01T00:00:00.000Z", S: "queued"}})
	}
	// Awkward keys: slash, question mark, percent, unicode.
	odd := []string{"status:p:a/b", "status:p:q?x=1", "status:p:100%", "status:p:zürich #1"}
	for _, k := range odd {
		kvs = append(kvs, nsync.KV{Key: k, Value: []byte(`"` + k + `"`), Meta: nsync.Meta{H: "odd"}})
	}
	for i := 0; i < len(kvs); i += 1000 {
		bad, err := r.BulkPut(ctx, ns, kvs[i:min(i+1000, len(kvs))])
		if err != nil || len(bad) != 0 {
			t.Fatalf("bulk put: %v %v", bad, err)
		}
	}
	var names []string
	pages, cursor := 0, ""
	for {
		p, err := r.ListKeys(ctx, ns, "status:p:", cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range p.Keys {
			names = append(names, k.Name)
			if k.Name == "status:p:00042" && (k.Meta.H != "42" || k.Meta.S != "queued" || k.Meta.U == "") {
				t.Fatalf("metadata lost in listing: %+v", k.Meta)
			}
		}
		if p.Cursor == "" {
			break
		}
		cursor = p.Cursor
	}
	if len(names) != len(kvs) || pages != 3 {
		t.Fatalf("listed %d keys in %d pages, want %d in 3", len(names), pages, len(kvs))
	}
	if !sort.StringsAreSorted(names) {
		t.Fatal("listing not in key order")
	}
	items, err := r.BulkGet(ctx, ns, []string{"status:p:00001", "status:p:missing", odd[0]})
	if err != nil {
		t.Fatal(err)
	}
	if it := items["status:p:00001"]; !it.Found || string(it.Value) != `{"status":"queued","n":1}` || it.Meta.H != "1" {
		t.Fatalf("bulk get value: %+v", it)
	}
	if items["status:p:missing"].Found {
		t.Fatal("missing key reported found")
	}
	if !items[odd[0]].Found {
		t.Fatal("found keys lost when another is missing (SDK typed-result trap)")
	}
	for _, k := range odd {
		v, found, err := r.Get(ctx, ns, k)
		if err != nil || !found || string(v) != `"`+k+`"` {
			t.Fatalf("get %q: %q %v %v", k, v, found, err)
		}
	}
	_, found, err := r.Get(ctx, ns, "status:p:nope")
	if err != nil || found {
		t.Fatalf("get missing: found=%v err=%v", found, err)
	}
}

func TestCloudflareErrorsAreTyped(t *testing.T) {
	f := kvfake.New(kvfake.Config{Token: testToken, RetryAfter: 7, TimeoutHang: 5 * time.Second})
	defer f.Close()
	r := newRemote(t, f, 500*time.Millisecond)
	ctx := context.Background()
	ns := f.CreateNamespace("NIMBUS_PAGES")
	put := func() error {
		_, err := r.BulkPut(ctx, ns, []nsync.KV{{Key: "page:p:x", Value: []byte(`{}`), Meta: nsync.Meta{H: "h"}}})
		return err
	}
	cases := []struct {
		fault     kvfake.Fault
		retryable bool
		shrink    bool
		status    int
	}{
		{kvfake.Fault429, true, false, 429},
		{kvfake.Fault10046, true, false, 429},
		{kvfake.Fault413, true, true, 413},
		{kvfake.Fault524, true, true, 524},
		{kvfake.Fault500, true, false, 500},
		{kvfake.FaultReset, true, false, 0},
		{kvfake.FaultTimeout, true, true, 0},
	}
	for _, c := range cases {
		f.FailNext(c.fault)
		err := put()
		var re *nsync.Error
		if !errors.As(err, &re) {
			t.Fatalf("%s: want *sync.Error, got %T %v", c.fault, err, err)
		}
		if re.Retryable != c.retryable || re.Shrink != c.shrink || re.Status != c.status {
			t.Errorf("%s: got retryable=%v shrink=%v status=%d (%v)", c.fault, re.Retryable, re.Shrink, re.Status, err)
		}
		if c.fault == kvfake.Fault429 && re.RetryAfter != 7*time.Second {
			t.Errorf("429: Retry-After %v, want 7s", re.RetryAfter)
		}
	}
	f.FailNext(kvfake.FaultPartial)
	bad, err := r.BulkPut(ctx, ns, []nsync.KV{
		{Key: "k1", Value: []byte("1"), Meta: nsync.Meta{H: "1"}}, {Key: "k2", Value: []byte("2"), Meta: nsync.Meta{H: "2"}},
		{Key: "k3", Value: []byte("3"), Meta: nsync.Meta{H: "3"}}, {Key: "k4", Value: []byte("4"), Meta: nsync.Meta{H: "4"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range bad {
		if _, _, ok := f.Latest(ns, k); ok {
			t.Errorf("key %s reported unsuccessful but stored", k)
		}
	}
	// Wrong token: not retryable, and the token is not in the message.
	bad2, _ := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: f.AccountID(), Token: "wrong-token-xyz", BaseURL: f.BaseURL()})
	_, err = bad2.ListKeys(ctx, ns, "", "")
	if err == nil || nsync.IsRetryable(err) {
		t.Fatalf("auth error must not be retryable: %v", err)
	}
	// Limits are checked before sending.
	long := make([]byte, 513)
	for i := range long {
		long[i] = 'k'
	}
	before := f.Counts()[kvfake.OpBulkPut]
	if _, err := r.BulkPut(ctx, ns, []nsync.KV{{Key: string(long), Value: []byte("1")}}); !errors.Is(err, nsync.ErrLimit) {
		t.Fatalf("513-byte key: want ErrLimit, got %v", err)
	}
	if f.Counts()[kvfake.OpBulkPut] != before {
		t.Fatal("an over-limit pair reached the server")
	}
}

// TestEnvironmentDoesNotLeakIntoTheClient: with CLOUDFLARE_API_KEY and
// CLOUDFLARE_EMAIL set (cloudflare.NewClient would send them too), the
// remote sends only the token it was given.
func TestEnvironmentDoesNotLeakIntoTheClient(t *testing.T) {
	t.Setenv("CLOUDFLARE_API_KEY", "legacy-global-key")
	t.Setenv("CLOUDFLARE_EMAIL", "someone@example.com")
	t.Setenv("CLOUDFLARE_API_TOKEN", "another-token")
	t.Setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:1/")
	f := kvfake.New(kvfake.Config{Token: testToken})
	defer f.Close()
	r := newRemote(t, f)
	ns := f.CreateNamespace("NIMBUS_USERS")
	if _, err := r.ListKeys(context.Background(), ns, "", ""); err != nil {
		t.Fatalf("request with CLOUDFLARE_* set in the environment: %v", err)
	}
}

// TestBulkGetWithoutMetadataShape: a server that ignores withMetadata (the
// local explorer) still works; values round-trip.
func TestBulkGetWithoutMetadataShape(t *testing.T) {
	f := kvfake.New(kvfake.Config{Token: testToken, IgnoreWithMetadata: true})
	defer f.Close()
	r := newRemote(t, f)
	ns := f.CreateNamespace("NIMBUS_PAGES")
	ctx := context.Background()
	if _, err := r.BulkPut(ctx, ns, []nsync.KV{{Key: "k", Value: []byte(`{"a":"é"}`), Meta: nsync.Meta{H: "x"}}}); err != nil {
		t.Fatal(err)
	}
	items, err := r.BulkGet(ctx, ns, []string{"k", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if it := items["k"]; !it.Found || string(it.Value) != `{"a":"é"}` || it.Meta.H != "" {
		t.Fatalf("bare-value bulk get: %+v", it)
	}
	if items["missing"].Found {
		t.Fatal("missing key found")
	}
}

// A token no request can carry (pasted with a line break, a tab, a space)
// is refused at once with the position and without the token, instead of
// eight "retryable" attempts reported as offline.
func TestTokenWithControlCharacterFailsAtOnce(t *testing.T) {
	for _, tok := range []string{"abc\ndef", "abc\tdef", "abc def", "abc\x01", "abc\x7f", "tökén"} {
		_, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: "0123456789abcdef0123456789abcdef", Token: tok, BaseURL: "http://127.0.0.1:1/client/v4/"})
		if err == nil {
			t.Errorf("token %q accepted", tok)
			continue
		}
		if strings.Contains(err.Error(), tok) || !strings.Contains(err.Error(), "byte ") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	if _, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: "0123456789abcdef0123456789abcdef", Token: "good-Token_123", BaseURL: "http://127.0.0.1:1/client/v4/"}); err != nil {
		t.Errorf("a plain token was refused: %v", err)
	}
}

// A remote that cannot be reached at all (connection refused) is reported
// after UnreachableAttempts tries, not after eight paced, backed-off ones
// (43-52 s of "Syncing..." before "Offline").
func TestUnreachableRemoteFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connections are refused
	r, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: "0123456789abcdef0123456789abcdef", Token: testToken, BaseURL: "http://" + addr + "/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	p := nsync.NewPacer(nsync.PacerConfig{Rate: 100, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	err = p.Do(context.Background(), func(ctx context.Context) error {
		_, err := r.ListNamespaces(ctx)
		return err
	})
	var re *nsync.Error
	if !errors.As(err, &re) || !re.Unreachable {
		t.Fatalf("want an unreachable error, got %v", err)
	}
	if got := p.Stats().Requests; got != nsync.UnreachableAttempts {
		t.Fatalf("%d tries, want %d", got, nsync.UnreachableAttempts)
	}
}

// A request net/http would replay by itself (a GET on a reused keep-alive
// connection the server closed after reading it) reaches the server once and
// comes back to the caller as an error, so that the pacer spaces and counts
// every attempt.
func TestTransportDoesNotReplayRequests(t *testing.T) {
	var mu gosync.Mutex
	seen := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		n := seen
		mu.Unlock()
		if n == 2 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // read the request, answer nothing
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"count":0,"cursor":""}}`)
	}))
	defer srv.Close()
	r, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: "acc", Token: testToken, BaseURL: srv.URL + "/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.ListKeys(ctx, "ns", "", ""); err != nil {
		t.Fatalf("first list: %v", err)
	}
	_, err = r.ListKeys(ctx, "ns", "", "") // on the kept-alive connection, which the server drops
	mu.Lock()
	got := seen
	mu.Unlock()
	if got != 2 {
		t.Fatalf("the server saw %d requests for 2 calls: the transport re-sent one outside the pacer", got)
	}
	var re *nsync.Error
	if !errors.As(err, &re) || !re.Retryable {
		t.Fatalf("a dropped connection should come back as a retryable error, got %v", err)
	}
	if _, err := r.ListKeys(ctx, "ns", "", ""); err != nil {
		t.Fatalf("third list: %v", err)
	}
}
