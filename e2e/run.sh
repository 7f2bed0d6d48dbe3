#!/usr/bin/env bash
# End to end with the real CLI on workerd (DESIGN.md section 8, tier 4):
# start the local stack; nimbus setup; import a fixture site of 200 pages;
# submit; trigger the Worker's processor until the batch completes; pull;
# `nimbus status --json` shows every page terminal; accept all suggestions of
# one dimension (`nimbus review accept --dimension brand=rolex`, with
# `nimbus review list` beside it); `nimbus export` produces a site where
# exactly those blocks changed and every other byte is identical
# (e2e/exportcheck); `wrangler kv key list --local` over the persisted state
# lists the keys the desktop wrote. The stack is stopped whatever happens.
#
#   e2e/run.sh [--ai-fail-rate R]     (R=0.5: half the AI calls fail; then
#                                      pages that exhaust retries must be
#                                      `failed` with a code, nothing lost)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FAIL_RATE=0
PAGES=${E2E_PAGES:-200}
DIMENSION=${E2E_DIMENSION:-brand=rolex}
while [ $# -gt 0 ]; do
	case "$1" in
	--ai-fail-rate) FAIL_RATE=$2; shift 2 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-e2e.XXXXXX")
STACK_PID=""
cleanup() {
	rc=$?
	if [ -n "$STACK_PID" ]; then
		kill -TERM -- "-$STACK_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$STACK_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL -- "-$STACK_PID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ]; then
		echo "run.sh: FAILED (rc $rc); stack log:" >&2
		tail -n 40 "$WORK/stack.log" >&2 2>/dev/null || true
		echo "run.sh: work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT INT TERM

step() { echo "== $*" >&2; }

# NIMBUS_BIN: a nimbus binary already built (make test-e2e passes
# build/nimbus, so the two runs do not link it again); else it is built here.
if [ -n "${NIMBUS_BIN:-}" ]; then
	step "nimbus: $NIMBUS_BIN; build the checker"
	NIMBUS=$NIMBUS_BIN
	(cd "$ROOT" && go build -o "$WORK/exportcheck" ./e2e/exportcheck)
else
	step "build nimbus and the checker"
	(cd "$ROOT" && go build -o "$WORK/nimbus" . && go build -o "$WORK/exportcheck" ./e2e/exportcheck)
	NIMBUS="$WORK/nimbus"
fi
HELP=$("$NIMBUS" help 2>/dev/null || true)
for c in setup import submit push pull status "review list" "review accept" export; do
	if ! grep -q "nimbus $c" <<<"$HELP"; then
		echo "run.sh: 'nimbus $c' is not available in this build" >&2
		exit 3
	fi
done

step "start the local stack (AI fail rate $FAIL_RATE)"
mkdir -p "$WORK/state"
# setsid: the stack and its workerd get their own process group, stopped as one.
setsid node "$ROOT/worker/dev/stack.mjs" --persist "$WORK/state" --ai-fail-rate "$FAIL_RATE" \
	--max-pages-per-run 100 >"$WORK/stack.out" 2>"$WORK/stack.log" &
STACK_PID=$!
for _ in $(seq 1 300); do
	grep -q '^NIMBUS_STACK_PERSIST=' "$WORK/stack.out" 2>/dev/null && break
	kill -0 "$STACK_PID" 2>/dev/null || { echo "run.sh: the stack exited" >&2; exit 1; }
	sleep 0.2
done
set -a
# shellcheck disable=SC1091
. "$WORK/stack.out"
set +a
export NIMBUS_STORE="$WORK/nimbus.db"
# Fyne (linked into the binary) complains about the C locale on stderr.
export LANG=en_US.UTF-8

step "fixture site: $PAGES pages"
mkdir -p "$WORK/site/dist"
(cd "$ROOT/testdata/site/dist" && find local -name '*.html' | LC_ALL=C sort | sed -n "1,${PAGES}p" |
	while read -r f; do mkdir -p "$WORK/site/dist/$(dirname "$f")"; cp "$f" "$WORK/site/dist/$f"; done)
[ "$(find "$WORK/site/dist" -name '*.html' | wc -l)" -eq "$PAGES" ]

step "project, setup, import, submit, push"
"$NIMBUS" project create --name e2e.example.com --tone premium --ai-model gpt-fake >/dev/null
PROJECT=$("$NIMBUS" --json project show | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).project_id))')
"$NIMBUS" setup
# an API key too, so NIMBUS_KEYS and apikeys: travel (the key itself is
# printed once and never stored)
"$NIMBUS" key create --name e2e >/dev/null 2>&1
"$NIMBUS" import "$WORK/site/dist"
"$NIMBUS" submit
"$NIMBUS" push

step "process until the queue is empty"
for run in $(seq 1 40); do
	rep=$(curl -fsS -X POST -H "X-Nimbus-Process-Secret: $NIMBUS_PROCESS_SECRET" "$NIMBUS_WORKER_URL/__process?project=$PROJECT")
	remaining=$(node -e 'console.log(JSON.parse(process.argv[1]).projects[0].remaining)' "$rep")
	echo "   run $run: $(node -e 'const r=JSON.parse(process.argv[1]),p=r.projects[0];console.log(`${p.done} done, ${p.failed} failed, ${p.retried} retried, ${p.remaining} remaining; ${r.kv.reads+r.kv.writes} KV operations in the cron run, highest of any invocation ${Math.max(r.kv.reads+r.kv.writes,...Object.values(r.invocations??{}).map(i=>i.max_kv_ops))} (limit 1,000)`)' "$rep")" >&2
	[ "$remaining" = 0 ] && break
done
[ "$remaining" = 0 ] || { echo "run.sh: queue not drained" >&2; exit 1; }

step "pull and status"
"$NIMBUS" pull
"$NIMBUS" --json status >"$WORK/status.json"
node - "$WORK/status.json" "$PAGES" "$FAIL_RATE" <<'JS'
// `nimbus status --json` must account for every page: all done with a
// healthy AI; with a failing AI, done + failed = all. (exportcheck checks
// from the mirror that every failed page has an error code.)
const fs = require("fs");
const [file, pages, rate] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const s = JSON.parse(fs.readFileSync(file, "utf8"));
const done = s.counts?.done ?? 0, failed = s.counts?.failed ?? 0;
console.error(`   status: ${done} done, ${failed} failed of ${s.pages}; batches ${JSON.stringify(s.batches.map((b) => [b.status, b.summary]))}`);
if (s.pages !== pages) throw new Error(`status --json: ${s.pages} pages, want ${pages}`);
if (rate === 0 && done !== pages) throw new Error(`status --json: ${done} done, want ${pages}`);
if (rate > 0 && done + failed !== pages) throw new Error(`status --json: done ${done} + failed ${failed} != ${pages}`);
if (rate > 0 && failed === 0) throw new Error("status --json: with half the AI calls failing, expected some pages to exhaust their retries");
if (!s.batches.every((b) => b.status === "completed")) throw new Error("status --json: a batch is not completed");
JS
step "bad remote data: malformed keys and a corrupt copy of the project record"
# As wrangler or a broken tool might leave them: a key without a kind, a
# user key with an empty id (no metadata), and the project record replaced
# by bytes that are not JSON (with a metadata hash of those bytes). The pull
# must go on, refuse each once, and the next push must repair the project.
api="$NIMBUS_CF_API_BASE""accounts/$CLOUDFLARE_ACCOUNT_ID/storage/kv/namespaces"
nsid() { curl -fsS -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" "$api?per_page=100" |
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).result.find(n=>n.title===process.argv[1]).id))' "$1"; }
users=$(nsid NIMBUS_USERS)
projects=$(nsid NIMBUS_PROJECTS)
badhash=$(printf '%s' '{not json' | sha256sum | cut -d' ' -f1)
curl -fsS -X PUT -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" -H 'content-type: application/json' "$api/$users/bulk" \
	-d '[{"key":"garbage-key","value":"{}"},{"key":"user:","value":"{}"}]' >/dev/null
curl -fsS -X PUT -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" -H 'content-type: application/json' "$api/$projects/bulk" \
	-d "[{\"key\":\"project:$PROJECT\",\"value\":\"{not json\",\"metadata\":{\"h\":\"$badhash\"}}]" >/dev/null
# And a valid user record another tool wrote with the metadata of another
# value (its hash is not the hash of its bytes): the desktop must read it,
# keep it, and write it back with its true metadata.
kvjs() { # kvjs plant|check KEYFILE: REST calls on NIMBUS_USERS through fetch
	node -e '
const [mode, nsID, keyFile] = process.argv.slice(1);
const api = process.env.NIMBUS_CF_API_BASE + "accounts/" + process.env.CLOUDFLARE_ACCOUNT_ID + "/storage/kv/namespaces/" + nsID;
const h = { Authorization: "Bearer " + process.env.CLOUDFLARE_API_TOKEN };
const sha = (s) => require("crypto").createHash("sha256").update(s).digest("hex");
const fs = require("fs");
(async () => {
  const list = await (await fetch(api + "/keys?limit=1000&prefix=user:", { headers: h })).json();
  if (mode === "plant") {
    const k = list.result.find((x) => x.metadata && x.metadata.h && x.name !== "user:");
    const v = JSON.parse(await (await fetch(api + "/values/" + encodeURIComponent(k.name), { headers: h })).text());
    v.user_id = "user_00000000e2e0";
    v.email = "other-editor@example.com";
    const name = "user:" + v.user_id;
    const body = JSON.stringify([{ key: name, value: JSON.stringify(v), metadata: { h: k.metadata.h } }]);
    const r = await fetch(api + "/bulk", { method: "PUT", headers: { ...h, "content-type": "application/json" }, body });
    if (!r.ok) throw new Error("plant: " + r.status);
    fs.writeFileSync(keyFile, name);
  } else {
    const name = fs.readFileSync(keyFile, "utf8");
    const k = list.result.find((x) => x.name === name);
    const bytes = await (await fetch(api + "/values/" + encodeURIComponent(name), { headers: h })).text();
    if (!k || !k.metadata || k.metadata.h !== sha(bytes)) {
      console.error("remote", name, "metadata", k && k.metadata, "bytes hash", sha(bytes));
      process.exit(1);
    }
  }
})().catch((e) => { console.error(e); process.exit(1); });' "$1" "$users" "$2"
}
kvjs plant "$WORK/lying-key"
"$NIMBUS" pull 2>"$WORK/pull-bad.err"
grep -q "garbage-key" "$WORK/pull-bad.err" || { cat "$WORK/pull-bad.err" >&2; echo "run.sh: the refused key was not reported" >&2; exit 1; }
"$NIMBUS" pull 2>"$WORK/pull-bad2.err"
if grep -q "garbage-key" "$WORK/pull-bad2.err"; then echo "run.sh: the refused key was refused again on the next pull" >&2; exit 1; fi
echo "   pull went on past 2 malformed keys and a corrupt project record (refused once each)" >&2

step "review $DIMENSION and export"
"$NIMBUS" review list --dimension "$DIMENSION" >"$WORK/review-list.txt"
[ -s "$WORK/review-list.txt" ]
"$NIMBUS" review accept --dimension "$DIMENSION"
# the decisions go to KV like everything else the editor does
"$NIMBUS" push
"$NIMBUS" export --out "$WORK/out"
"$WORK/exportcheck" -store "$NIMBUS_STORE" -project "$PROJECT" -src "$WORK/site" -out "$WORK/out" -min-changed 1 -min-head 1

step "the corrupt project record was repaired by the push"
remote_project=$(curl -fsS -H "Authorization: Bearer $CLOUDFLARE_API_TOKEN" "$api/$projects/values/project:$PROJECT")
"$NIMBUS" --json kv get NIMBUS_PROJECTS "project:$PROJECT" >"$WORK/local-project.json"
node -e 'const a=JSON.parse(process.argv[1]),b=JSON.parse(require("fs").readFileSync(process.argv[2],"utf8"));const v=b.value??b;if(JSON.stringify(a)!==JSON.stringify(v)){console.error("remote",a,"local",v);process.exit(1)}' \
	"$remote_project" "$WORK/local-project.json" || { echo "run.sh: the remote project record is not the desktop's after the push" >&2; exit 1; }
echo "   project:$PROJECT on the remote is the desktop's again" >&2
"$NIMBUS" --json kv get NIMBUS_USERS "$(cat "$WORK/lying-key")" >/dev/null || { echo "run.sh: $(cat "$WORK/lying-key") did not arrive" >&2; exit 1; }
kvjs check "$WORK/lying-key" || { echo "run.sh: $(cat "$WORK/lying-key") still has metadata that does not match its bytes" >&2; exit 1; }
echo "   $(cat "$WORK/lying-key") arrived and went back with metadata that matches its bytes" >&2

step "wrangler kv key list --local sees the keys the desktop wrote"
# Every namespace the desktop mirrors both ways holds the same keys on both
# sides after the pull (NIMBUS_CACHE is the Worker's, fetched on demand).
for binding in NIMBUS_USERS NIMBUS_PROJECTS NIMBUS_KEYS NIMBUS_EMAILS NIMBUS_SESSIONS \
	NIMBUS_PAGES NIMBUS_BATCHES NIMBUS_QUEUE NIMBUS_STATUS NIMBUS_LOGS; do
	(cd "$ROOT/worker" && npx wrangler kv key list --local --persist-to "$WORK/state" --binding "$binding" 2>/dev/null) |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const k of JSON.parse(s.slice(s.indexOf("["))))console.log(k.name)})' |
		grep -vxF -e 'garbage-key' -e 'user:' | LC_ALL=C sort >"$WORK/wrangler-$binding.txt" # the refused keys stay remote only
	"$NIMBUS" --json kv list "$binding" |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);for(const k of (Array.isArray(v)?v:v.keys))console.log(typeof k==="string"?k:k.key??k.name)})' |
		LC_ALL=C sort >"$WORK/local-$binding.txt"
	diff -u "$WORK/local-$binding.txt" "$WORK/wrangler-$binding.txt" >&2
	echo "  $binding: $(wc -l <"$WORK/local-$binding.txt") keys on both sides" >&2
done
step "ok"
