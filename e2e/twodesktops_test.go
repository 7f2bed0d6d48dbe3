//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-desktop/nimbus/localstore"
	"github.com/nimbus-desktop/nimbus/model"
	nsync "github.com/nimbus-desktop/nimbus/sync"
)

// Two desktops for real (issue 10): two nimbus processes, the real binary,
// each with its own store, config dir and API token (two machines, two
// locations to KV), on one project, against the local stack with its
// limits on, read staleness on (--kv-stale-seconds) and a slow fake AI.
//
//  1. Desktop A creates the project, sets up and syncs. Desktop B joins as a
//     second machine would: setup with its own token from stdin, pull,
//     project use.
//  2. Each imports its copy of the site, overlapping in 8 pages, and submits
//     it, before either has seen the other's pages.
//  3. Both run `sync --watch` while the Worker's cron ticks, until both
//     batches are terminal in KV; then a few syncs on both sides past the
//     staleness window.
//  4. Both review: accept, reject, edit and undo blocks of their own pages,
//     decide some blocks of the shared pages differently, and A accepts all
//     rolex proposals in bulk without having pulled B's decisions.
//  5. Quiescence again; then every key of all eleven namespaces is compared,
//     value bytes, between KV and both mirrors, every value is checked
//     with the desktop's own rules, every page is done with an optimization
//     of its content, both batches completed, the queue empty, and every
//     decision of both editors is in KV: per block the one decided last
//     (DESIGN.md section 4, model.MergeReviewData), any other one superseded
//     by a later one.

const twoStale = 5 // seconds of KV read staleness

func TestTwoDesktops(t *testing.T) {
	needStack(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := nimbusBinary(t)
	s := StartStack(t, "--kv-stale-seconds", fmt.Sprint(twoStale), "--ai-latency-ms", "300", "--process-every", "2")
	work := t.TempDir()
	account := s.Env["CLOUDFLARE_ACCOUNT_ID"]
	a := newCLIDesktop(t, bin, s, filepath.Join(work, "a"), "a@example.com")
	b := newCLIDesktop(t, bin, s, filepath.Join(work, "b"), "b@example.com")
	// A keeps its credentials in wrangler's variables; B saves its own token
	// with setup --token-stdin, as on a machine set up by hand.
	a.env = append(a.env, "CLOUDFLARE_ACCOUNT_ID="+account, "CLOUDFLARE_API_TOKEN=token-desktop-a")
	// B mirrors all of NIMBUS_CACHE (the engine's sync.cache_full switch), so
	// its mirror can equal KV in all eleven namespaces; A fetches cache
	// entries on demand (the default).
	b.setMeta("sync.cache_full", "true")

	files := fixtureFiles(t)
	const aFrom, aTo, bFrom, bTo = 0, 24, 16, 40 // pages 16..23 in both
	siteA := copySite(t, filepath.Join(a.dir, "site"), files[aFrom:aTo])
	siteB := copySite(t, filepath.Join(b.dir, "site"), files[bFrom:bTo])

	// 1. A creates the project; B joins it.
	a.run("project", "create", "--name", "two.example.com", "--tone", "premium", "--ai-model", "gpt-fake")
	a.run("setup", "--rate", "4")
	a.run("sync")
	var proj model.ProjectData
	a.json(&proj, "project", "show")
	pid := proj.ProjectID
	b.runIn("token-desktop-b\n", "setup", "--account", account, "--token-stdin", "--rate", "4")
	b.run("pull")
	var listed []struct {
		ProjectID string `json:"project_id"`
		Name      string `json:"name"`
	}
	b.json(&listed, "project", "list")
	if len(listed) != 1 || listed[0].ProjectID != pid || listed[0].Name != "two.example.com" {
		t.Fatalf("B's project list after setup and pull: %+v, want %s", listed, pid)
	}
	b.run("project", "use", pid)
	var joined model.ProjectData
	b.json(&joined, "project", "show")
	if !bytes.Equal(model.Canonical(joined), model.Canonical(proj)) {
		t.Fatalf("B's copy of the project differs from A's:\n A %s\n B %s", model.Canonical(proj), model.Canonical(joined))
	}
	t.Logf("%s: B joined project %s (setup --token-stdin, pull, project use)", since(began), pid)

	// 2. Offline work: both import and submit before seeing each other's pages.
	type submitted struct {
		Batches []string `json:"batches"`
		Pages   int      `json:"pages"`
	}
	var subA, subB submitted
	a.run("import", siteA)
	a.json(&subA, "submit")
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // batch IDs have one-second resolution
	b.run("import", siteB)
	b.json(&subB, "submit")
	if len(subA.Batches) != 1 || len(subB.Batches) != 1 || subA.Pages != 24 || subB.Pages != 24 || subA.Batches[0] == subB.Batches[0] {
		t.Fatalf("submissions: A %+v, B %+v", subA, subB)
	}
	batchA, batchB := subA.Batches[0], subB.Batches[0]

	// 3. sync --watch on both while the Worker runs.
	obs := newObserver(t, ctx, s)
	wa := a.start("sync", "--watch", "--fast", "1s", "--slow", "5s")
	wb := b.start("sync", "--watch", "--fast", "1s", "--slow", "5s")
	deadline := time.Now().Add(4 * time.Minute)
	for {
		snap := obs.snapshot(model.NSBatches)
		ok := true
		var states []string
		for _, id := range []string{batchA, batchB} {
			var bd model.BatchData
			if v, found := snap[model.BatchKey(pid, id)]; !found || json.Unmarshal(v, &bd) != nil {
				ok = false
				states = append(states, id+" not in KV")
				continue
			}
			states = append(states, fmt.Sprintf("%s %s %+v", id, bd.Status, bd.Summary))
			ok = ok && bd.Summary.Pending == 0 && (bd.Status == model.BatchCompleted || bd.Status == model.BatchFailed)
		}
		if ok {
			t.Logf("%s: both batches terminal in KV: %s", since(began), strings.Join(states, "; "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batches not terminal after 4 minutes: %s\nA's watch:\n%s\nB's watch:\n%s", strings.Join(states, "; "), wa.output(), wb.output())
		}
		time.Sleep(2 * time.Second)
	}
	wa.stop()
	wb.stop()
	rounds := quiesce(t, a, b)
	t.Logf("%s: quiet after %d rounds of syncs", since(began), rounds)

	// 4. Review. Pages by source path; the fixture's files in sorted order.
	pageOf := func(i int) string { return model.PageID(pid, "dist/"+files[i]) }
	var dec decisions
	pick := func(d *cliDesktop, page string, nth int) string {
		t.Helper()
		var blocks []struct {
			BlockID string `json:"block_id"`
			State   string `json:"state"`
			QA      []struct {
				Severity string `json:"severity"`
			} `json:"qa"`
		}
		d.json(&blocks, "review", "list", "--page", page, "--state", "suggested")
		n := 0
		for _, bl := range blocks {
			clean := true
			for _, q := range bl.QA {
				clean = clean && q.Severity != "error"
			}
			if clean {
				if n == nth {
					return bl.BlockID
				}
				n++
			}
		}
		t.Fatalf("%s: page %s has no %d-th acceptable suggestion (%d suggested)", d.name, page, nth, len(blocks))
		return ""
	}
	decide := func(d *cliDesktop, args ...string) {
		t.Helper()
		before := d.reviews(pid)
		d.run(append([]string{"review"}, args...)...)
		dec.record(t, d.name, before, d.reviews(pid))
	}
	pA1, pA2, pA3 := pageOf(0), pageOf(1), pageOf(2)
	pB1, pB2, pB3 := pageOf(26), pageOf(27), pageOf(28)
	o1, o2, o3, o4, o5, r1 := pageOf(16), pageOf(17), pageOf(18), pageOf(19), pageOf(20), pageOf(21)
	x1, x2, x3a, x3b, x4, x5, xr := pick(a, o1, 0), pick(a, o2, 0), pick(a, o3, 0), pick(a, o3, 1), pick(a, o4, 0), pick(a, o5, 0), pick(a, r1, 0)

	decide(a, "accept", "--page", pA1, "--block", pick(a, pA1, 0))
	decide(a, "reject", "--page", pA2, "--block", pick(a, pA2, 0))
	decide(a, "edit", "--page", pA3, "--block", pick(a, pA3, 0), "--text", "Editor A rewrote this line.")
	decide(a, "accept", "--page", o1, "--block", x1)
	decide(a, "reject", "--page", o3, "--block", x3a)
	decide(a, "edit", "--page", o4, "--block", x4, "--text", "Editor A's words.")
	a.run("sync")
	decide(b, "accept", "--page", pB1, "--block", pick(b, pB1, 0))
	decide(b, "reject", "--page", pB2, "--block", pick(b, pB2, 0))
	decide(b, "edit", "--page", pB3, "--block", pick(b, pB3, 0), "--text", "Editor B rewrote this line.")
	decide(b, "reject", "--page", o1, "--block", x1)                              // after A's accept: B's reject is the later decision
	decide(b, "edit", "--page", o2, "--block", x2, "--text", "Editor B's draft.") // A accepts it later
	decide(b, "accept", "--page", o3, "--block", x3b)                             // another block of the page A decided on
	decide(b, "edit", "--page", o4, "--block", x4, "--text", "Editor B's words.") // after A's edit
	decide(b, "accept", "--page", o5, "--block", x5)
	decide(b, "undo", "--page", o5, "--block", x5)
	decide(b, "reject", "--page", r1, "--block", xr) // A's bulk accept below has not seen it
	b.run("sync")
	// A has not synced since: its view of o2 and of the rolex pages is the Worker's suggestions.
	decide(a, "accept", "--page", o2, "--block", x2)
	decide(a, "accept", "--dimension", "brand=rolex")
	if len(dec.by["a"]) < 8 || len(dec.by["b"]) < 10 {
		t.Fatalf("decisions recorded: A %d, B %d", len(dec.by["a"]), len(dec.by["b"]))
	}

	// 5. Quiescence, then the comparison.
	rounds = quiesce(t, a, b)
	t.Logf("%s: quiet after %d rounds of syncs", since(began), rounds)
	remote := obs.all()
	keys := 0
	for _, ns := range model.Namespaces {
		keys += len(remote[ns])
	}
	for _, d := range []*cliDesktop{a, b} {
		local := d.mirror()
		for _, ns := range model.Namespaces {
			if ns == model.NSCache && d == a {
				// fetched on demand: what A holds must be KV's bytes
				for k, v := range local[ns] {
					if !bytes.Equal(v, remote[ns][k]) {
						t.Errorf("%s %s %s: mirror %.200s, KV %.200s", d.name, ns, k, v, remote[ns][k])
					}
				}
				continue
			}
			compareNamespace(t, d.name, ns, local[ns], remote[ns])
		}
	}
	for ns, kv := range remote {
		for k, v := range kv {
			rec, err := model.DecodeValue(k, v)
			if err != nil {
				t.Errorf("KV %s %s: %v", ns, k, err)
				continue
			}
			if !bytes.Equal(model.Canonical(rec), v) {
				t.Errorf("KV %s %s is not canonical: %.200s", ns, k, v)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every page done, with an optimization of its content; both batches
	// completed; nothing left in the queue.
	union, shared := map[string]bool{}, map[string]bool{}
	for i := aFrom; i < bTo; i++ {
		union[pageOf(i)] = true
		shared[pageOf(i)] = i >= bFrom && i < aTo
	}
	for id := range union {
		var st model.StatusData
		var pg model.PageData
		mustDecode(t, remote[model.NSStatus][model.StatusKey(pid, id)], &st)
		mustDecode(t, remote[model.NSPages][model.PageKey(pid, id)], &pg)
		if st.Status != model.StatusDone || st.BatchID == "" {
			t.Errorf("page %s (%s): status %s in %s", id, pg.SourcePath, st.Status, st.BatchID)
		}
		if pg.Optimization == nil || pg.Optimization.SourceHash != pg.ContentHash {
			t.Errorf("page %s (%s): no optimization of its content", id, pg.SourcePath)
		}
	}
	superseded := 0
	for _, id := range []string{batchA, batchB} {
		var bd model.BatchData
		mustDecode(t, remote[model.NSBatches][model.BatchKey(pid, id)], &bd)
		if bd.Status != model.BatchCompleted || bd.Summary != model.BatchSummaryOf(bd.Pages) || bd.Summary.Pending != 0 {
			t.Errorf("batch %s: %s %+v", id, bd.Status, bd.Summary)
		}
		for pageID, e := range bd.Pages {
			if e.Status == model.StatusFailed {
				// Only a shared page can be superseded, and only in the older batch.
				if !strings.HasPrefix(e.Error, "SUPERSEDED") || id != batchA || !shared[pageID] {
					t.Errorf("batch %s page %s failed: %s", id, pageID, e.Error)
				}
				superseded++
			}
		}
	}
	var q model.QueueData
	mustDecode(t, remote[model.NSQueue][model.QueueKey(pid)], &q)
	if len(q.Items) != 0 {
		t.Errorf("queue still holds %d items: %+v", len(q.Items), q.Items)
	}

	// Every decision of both editors: per block the one decided last.
	final := map[string]model.ReviewDecision{}
	for k, v := range remote[model.NSPages] {
		if !strings.HasPrefix(k, "review:") {
			continue
		}
		var r model.ReviewData
		mustDecode(t, v, &r)
		for blk, d := range r.Blocks {
			final[r.PageID+"/"+blk] = d
		}
	}
	kept, overridden := dec.check(t, final)
	for _, c := range []struct {
		what, block, state, text string
	}{
		{"A accepted, then B rejected", o1 + "/" + x1, model.ReviewRejected, ""},
		{"B edited, then A accepted", o2 + "/" + x2, model.ReviewAccepted, ""},
		{"A rejected one block, B accepted another: A's", o3 + "/" + x3a, model.ReviewRejected, ""},
		{"A rejected one block, B accepted another: B's", o3 + "/" + x3b, model.ReviewAccepted, ""},
		{"A edited, then B edited", o4 + "/" + x4, model.ReviewEdited, "Editor B's words."},
		{"B accepted, then undid", o5 + "/" + x5, model.ReviewOriginal, ""},
		// DESIGN.md section 4's rule (the later decision wins) overrides B's
		// explicit decision with a bulk action that had not seen it; section
		// 7 wants bulk actions to touch undecided blocks only, which a
		// machine that has not pulled cannot know.
		{"B rejected, then A's bulk accept that had not seen it", r1 + "/" + xr, model.ReviewAccepted, ""},
	} {
		got, ok := final[c.block]
		if !ok || got.State != c.state || (c.text != "" && got.Text != c.text) {
			t.Errorf("%s (%s): KV holds %+v, want state %s %q", c.what, c.block, got, c.state, c.text)
		}
	}
	st := obs.stackStale()
	if st.REST.Stale == 0 {
		t.Errorf("no REST read was served stale: the run did not meet KV's eventual consistency")
	}
	t.Logf("%s: %d keys in 11 namespaces equal in KV and both mirrors (A's cache: on demand); %d decisions (A %d, B %d), %d in KV, %d overridden by a later one; %d superseded pages failed in A's batch; REST reads served stale %d times (oldest %d ms), the Worker's %d",
		since(began), keys, len(dec.all), len(dec.by["a"]), len(dec.by["b"]), kept, overridden, superseded, st.REST.Stale, st.REST.OldestMs, st.Worker.Stale)
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

func mustDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if b == nil {
		t.Fatalf("missing record for %T", v)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %T: %v: %.200s", v, err, b)
	}
}

func compareNamespace(t *testing.T, who string, ns model.Namespace, local, remote map[string][]byte) {
	t.Helper()
	for k, v := range remote {
		lv, ok := local[k]
		switch {
		case !ok:
			t.Errorf("%s %s: %s is in KV, not in the mirror", who, ns, k)
		case !bytes.Equal(lv, v):
			t.Errorf("%s %s %s differs:\n mirror %.300s\n KV     %.300s", who, ns, k, lv, v)
		}
	}
	for k := range local {
		if _, ok := remote[k]; !ok {
			t.Errorf("%s %s: %s is in the mirror, not in KV", who, ns, k)
		}
	}
}

// quiesce syncs A then B, round after round, until two rounds in a row
// wrote and pulled nothing and the staleness window has passed since
// anything moved. It fails when that never happens.
func quiesce(t *testing.T, a, b *cliDesktop) int {
	t.Helper()
	quiet := 0
	lastMove := time.Now()
	var log []string
	for round := 1; round <= 20; round++ {
		if quiet == 0 {
			// A round counts only once every read is fresh: the staleness
			// window after the last change seen.
			time.Sleep(time.Until(lastMove.Add(twoStale * time.Second)))
		}
		moved := false
		for _, d := range []*cliDesktop{a, b} {
			var out struct {
				Stats nsync.Stats `json:"stats"`
			}
			d.json(&out, "sync")
			st := out.Stats
			log = append(log, fmt.Sprintf("round %d %s: written %d pulled %d merged %d repairs %d", round, d.name, st.Written, st.Pulled, st.Merged, st.Repairs))
			if st.Written+st.Pulled+st.Repairs > 0 {
				moved = true
			}
		}
		if moved {
			quiet = 0
			lastMove = time.Now()
			continue
		}
		if quiet++; quiet >= 2 {
			t.Logf("syncs until quiet: %s", strings.Join(log, "; "))
			return round
		}
	}
	t.Fatalf("the mirrors never settled in 20 rounds of syncs:\n%s", strings.Join(log, "\n"))
	return 0
}

// decisions records every decision each editor made, as its own store held
// it right after the command.
type decisions struct {
	all []madeDecision
	by  map[string][]madeDecision
}

type madeDecision struct {
	who   string
	block string // page_id/block-N
	d     model.ReviewDecision
}

func (ds *decisions) record(t *testing.T, who string, before, after map[string]model.ReviewDecision) {
	t.Helper()
	n := 0
	for k, d := range after {
		if prev, ok := before[k]; ok && prev == d {
			continue
		}
		md := madeDecision{who: who, block: k, d: d}
		ds.all = append(ds.all, md)
		if ds.by == nil {
			ds.by = map[string][]madeDecision{}
		}
		ds.by[who] = append(ds.by[who], md)
		n++
	}
	if n == 0 {
		t.Fatalf("%s's review command recorded no decision", who)
	}
}

// check compares KV's decisions with what both editors decided: each block
// holds its latest decision (later `decided` wins), and every decision is
// either that one or older than it. It returns how many decisions are in
// KV and how many a later one overrode.
func (ds *decisions) check(t *testing.T, final map[string]model.ReviewDecision) (kept, overridden int) {
	t.Helper()
	latest := map[string]madeDecision{}
	for _, md := range ds.all {
		cur, ok := latest[md.block]
		if ok && cur.d.Decided == md.d.Decided && cur.d != md.d {
			t.Fatalf("two different decisions on %s with the same stamp: %+v and %+v", md.block, cur, md)
		}
		if !ok || md.d.Decided > cur.d.Decided {
			latest[md.block] = md
		}
	}
	for blk, want := range latest {
		if got := final[blk]; got != want.d {
			t.Errorf("%s: KV holds %+v, the latest decision is %s's %+v", blk, got, want.who, want.d)
		}
	}
	for _, md := range ds.all {
		switch got := final[md.block]; {
		case got == md.d:
			kept++
		case got.Decided > md.d.Decided:
			overridden++
		default:
			t.Errorf("%s's decision on %s (%+v) is lost: KV holds %+v", md.who, md.block, md.d, got)
		}
	}
	for blk := range final {
		if _, ok := latest[blk]; !ok {
			t.Errorf("%s: KV holds a decision %+v no editor made", blk, final[blk])
		}
	}
	return kept, overridden
}

// cliDesktop is one machine: the real nimbus binary with its own store,
// config and data dirs, and its own token (its own location to KV).
type cliDesktop struct {
	t     *testing.T
	name  string
	bin   string
	dir   string
	store string
	env   []string
}

func newCLIDesktop(t *testing.T, bin string, s *Stack, dir, email string) *cliDesktop {
	t.Helper()
	for _, sub := range []string{"config", "data", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	store := filepath.Join(dir, "data", "nimbus", "nimbus.db")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"NIMBUS_NO_KEYRING=1",
		"NIMBUS_EMAIL=" + email,
		"NIMBUS_CF_API_BASE=" + s.Env["NIMBUS_CF_API_BASE"],
		"LANG=en_US.UTF-8",
	}
	return &cliDesktop{t: t, name: strings.Split(email, "@")[0], bin: bin, dir: dir, store: store, env: env}
}

func (d *cliDesktop) command(stdin string, args ...string) *exec.Cmd {
	cmd := exec.Command(d.bin, args...)
	cmd.Env = d.env
	cmd.Dir = d.dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	return cmd
}

func (d *cliDesktop) runIn(stdin string, args ...string) string {
	d.t.Helper()
	cmd := d.command(stdin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("%s: nimbus %s: %v\n%s%s", d.name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func (d *cliDesktop) run(args ...string) string { d.t.Helper(); return d.runIn("", args...) }

func (d *cliDesktop) json(v any, args ...string) {
	d.t.Helper()
	out := d.run(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("%s: nimbus --json %s: %v\n%s", d.name, strings.Join(args, " "), err, out)
	}
}

// setMeta sets an engine switch in the store before the first command.
func (d *cliDesktop) setMeta(key, value string) {
	d.t.Helper()
	if err := os.MkdirAll(filepath.Dir(d.store), 0o755); err != nil {
		d.t.Fatal(err)
	}
	st, err := localstore.Open(d.store)
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetMeta(key, value); err != nil {
		d.t.Fatal(err)
	}
}

// mirror reads every namespace of the store (no nimbus process holds it).
func (d *cliDesktop) mirror() map[model.Namespace]map[string][]byte {
	d.t.Helper()
	st, err := localstore.Open(d.store)
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	out := map[model.Namespace]map[string][]byte{}
	for _, ns := range model.Namespaces {
		out[ns] = map[string][]byte{}
		err := st.List(ns, "", func(k string, v []byte) error {
			out[ns][k] = bytes.Clone(v)
			return nil
		})
		if err != nil {
			d.t.Fatal(err)
		}
	}
	return out
}

// reviews reads the store's decisions: page_id/block -> decision.
func (d *cliDesktop) reviews(pid string) map[string]model.ReviewDecision {
	d.t.Helper()
	st, err := localstore.Open(d.store)
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	out := map[string]model.ReviewDecision{}
	err = st.List(model.NSPages, model.ProjectPrefix(model.KindReview, pid), func(k string, v []byte) error {
		var r model.ReviewData
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		for blk, dec := range r.Blocks {
			out[r.PageID+"/"+blk] = dec
		}
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

type watchProc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	mu   *gosync.Mutex
}

// start runs a long command (sync --watch) in the background; stop
// interrupts it as Ctrl-C would, and it must exit 0.
func (d *cliDesktop) start(args ...string) *watchProc {
	d.t.Helper()
	cmd := d.command("", args...)
	w := &watchProc{t: d.t, name: d.name, cmd: cmd, out: &bytes.Buffer{}, mu: &gosync.Mutex{}}
	cmd.Stdout, cmd.Stderr = lockedWriter{w}, lockedWriter{w}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return w
}

type lockedWriter struct{ w *watchProc }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	return l.w.out.Write(p)
}

func (w *watchProc) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.out.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

func (w *watchProc) stop() {
	w.t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			w.t.Fatalf("%s: sync --watch after Ctrl-C: %v\n%s", w.name, err, w.output())
		}
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
		w.t.Fatalf("%s: sync --watch still running 30 s after Ctrl-C\n%s", w.name, w.output())
	}
	if strings.Contains(w.output(), "sync failed") {
		w.t.Logf("%s's watch met errors (retried):\n%s", w.name, w.output())
	}
}

// observer reads KV as it is (each snapshot with a token no read has used,
// so no cached version of the stack's staleness stands in the way).
type observer struct {
	t    *testing.T
	ctx  context.Context
	s    *Stack
	ids  map[model.Namespace]string
	n    int
	base string
}

func newObserver(t *testing.T, ctx context.Context, s *Stack) *observer {
	o := &observer{t: t, ctx: ctx, s: s, base: s.Env["NIMBUS_CF_API_BASE"]}
	list, err := o.remote().ListNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.ids = map[model.Namespace]string{}
	for _, n := range list {
		if model.Namespace(n.Title).Valid() {
			o.ids[model.Namespace(n.Title)] = n.ID
		}
	}
	return o
}

func (o *observer) remote() *nsync.Cloudflare {
	o.n++
	r, err := nsync.NewCloudflare(nsync.CloudflareConfig{AccountID: o.s.Env["CLOUDFLARE_ACCOUNT_ID"], Token: fmt.Sprintf("observer-%d-%d", time.Now().UnixNano(), o.n), BaseURL: o.base})
	if err != nil {
		o.t.Fatal(err)
	}
	return r
}

func (o *observer) snapshot(ns model.Namespace) map[string][]byte {
	o.t.Helper()
	r := o.remote()
	var keys []string
	cursor := ""
	for {
		page, err := r.ListKeys(o.ctx, o.ids[ns], "", cursor)
		if err != nil {
			o.t.Fatalf("list %s: %v", ns, err)
		}
		for _, k := range page.Keys {
			keys = append(keys, k.Name)
		}
		if cursor = page.Cursor; cursor == "" {
			break
		}
	}
	sort.Strings(keys)
	out := map[string][]byte{}
	for i := 0; i < len(keys); i += nsync.MaxBulkGet {
		got, err := r.BulkGet(o.ctx, o.ids[ns], keys[i:min(i+nsync.MaxBulkGet, len(keys))])
		if err != nil {
			o.t.Fatalf("bulk get %s: %v", ns, err)
		}
		for k, it := range got {
			if it.Found {
				out[k] = it.Value
			}
		}
	}
	return out
}

func (o *observer) all() map[model.Namespace]map[string][]byte {
	out := map[model.Namespace]map[string][]byte{}
	for _, ns := range model.Namespaces {
		out[ns] = o.snapshot(ns)
	}
	return out
}

type staleFigures struct {
	REST struct {
		Stale    int `json:"stale"`
		OldestMs int `json:"oldest_stale_ms"`
	}
	Worker struct {
		Stale int `json:"stale"`
	}
}

// stackStale reads how often the stack served a stale read (REST side and
// the Worker's side).
func (o *observer) stackStale() staleFigures {
	var f staleFigures
	get := func(url string, hdr map[string]string, v any) {
		req, _ := http.NewRequestWithContext(o.ctx, http.MethodGet, url, nil)
		for k, val := range hdr {
			req.Header.Set(k, val)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			o.t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			o.t.Fatalf("GET %s: %v", url, err)
		}
	}
	get(strings.TrimSuffix(o.base, "/client/v4/")+"/__stack/stale", nil, &f.REST)
	var w struct {
		KVStale struct {
			Stale int `json:"stale"`
		} `json:"kv_stale"`
	}
	get(o.s.Env["NIMBUS_WORKER_URL"]+"/__stats", map[string]string{"X-Nimbus-Process-Secret": o.s.Env["NIMBUS_PROCESS_SECRET"]}, &w)
	f.Worker.Stale = w.KVStale.Stale
	return f
}

// fixtureFiles lists the fixture site's pages under dist/, sorted.
func fixtureFiles(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(repoRoot(t), "testdata", "site", "dist")
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "local"), func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".html") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// copySite copies files (relative to the fixture's dist/) into dir/dist and
// returns that folder.
func copySite(t *testing.T, dir string, files []string) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "testdata", "site", "dist")
	dst := filepath.Join(dir, "dist")
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

var (
	binOnce gosync.Once
	binPath string
	binErr  error
)

// nimbusBinary is $NIMBUS_BIN (make test-e2e passes build/nimbus), else a
// binary built once for the package's tests.
func nimbusBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NIMBUS_BIN"); p != "" {
		return p
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nimbus-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "nimbus")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
