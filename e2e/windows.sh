#!/usr/bin/env bash
# The Windows build under wine (make test-windows): unzips the package,
# then runs its console nimbus.exe as a Windows user would from cmd:
#   version; project create; import of the fixture site (311 pages);
#   pages --json (every page listed); export, byte-identical to the source
#   (no decisions yet), and the Linux exportcheck reads the store the
#   Windows binary wrote; setup --token-stdin against the local stack: the
#   token lands in the Windows Credential Manager (go-keyring's wincred; wine
#   keeps it in its registry), never in the store; then sync with the token
#   read back from there (no token in the environment) pushes every page.
#
#   e2e/windows.sh build/nimbus-windows-amd64.zip
#
# wine runs headless (no DISPLAY is needed for the CLI); its own start-up
# (wineboot) takes 10-30 s the first time in a new prefix.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZIP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WINE=${WINE:-}
for w in wine64 /usr/lib/wine/wine64 wine; do
	[ -n "$WINE" ] && break
	if command -v "$w" >/dev/null; then WINE=$(command -v "$w"); fi
done
[ -n "$WINE" ] || { echo "windows.sh: wine64 is missing (apt-get install wine64)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-win.XXXXXX")
STACK_PID=""
XVFB_PID=""
cleanup() {
	rc=$?
	[ -z "$XVFB_PID" ] || kill "$XVFB_PID" 2>/dev/null || true
	if [ -n "$STACK_PID" ]; then
		kill -TERM -- "-$STACK_PID" 2>/dev/null || true
		sleep 1
		kill -KILL -- "-$STACK_PID" 2>/dev/null || true
	fi
	for p in "$WORK/prefix" "$WORK/gprefix"; do
		[ -d "$p" ] && { WINEPREFIX="$p" "${WINE%wine64}wineserver" -k 2>/dev/null || WINEPREFIX="$p" wineserver -k 2>/dev/null || true; }
	done
	if [ $rc -ne 0 ]; then echo "windows.sh: FAILED (rc $rc); work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
	exit $rc
}
trap cleanup EXIT INT TERM
step() { echo "== $*" >&2; }

export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
export LANG=en_US.UTF-8
# The Windows program sees the Linux file system as drive Z:. A path given
# as /tmp/x is Z:\tmp\x to it, the same file.
nimbus() { "$WINE" "$WORK/pkg/nimbus.exe" --store "$WORK/nimbus.db" "$@"; }

step "unzip $ZIP"
mkdir -p "$WORK/pkg"
(cd "$WORK/pkg" && unzip -q "$ZIP")
for f in "Nimbus Desktop.exe" nimbus.exe nimbus.png; do
	[ -s "$WORK/pkg/$f" ] || { echo "windows.sh: $f missing from the zip" >&2; exit 1; }
done
if command -v file >/dev/null; then file "$WORK/pkg/nimbus.exe" "$WORK/pkg/Nimbus Desktop.exe" | sed 's/^/   /' >&2; fi

# newprefix: a new wine prefix ("C: drive and registry") in $WINEPREFIX.
# Debian 12's wine 8.0 lacks bcryptprimitives.dll (ProcessPrng), which every
# Go 1.22+ program loads from system32 at start; Windows 10 and 11 have it.
# The test gives wine a stand-in (e2e/winshim); the zip does not hold it.
newprefix() {
	"${WINE}" wineboot --init >/dev/null 2>&1 || true
	"${WIN_CC:-x86_64-w64-mingw32-gcc}" -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
		"$ROOT/e2e/winshim/bcryptprimitives.c" -lbcrypt
}

step "wine: nimbus.exe version"
newprefix
echo "   wine prefix made, bcryptprimitives.dll stand-in installed" >&2
ver=$(nimbus version | tr -d '\r')
echo "   $ver" >&2
grep -q "windows/amd64" <<<"$ver" || { echo "windows.sh: version does not say windows/amd64: $ver" >&2; exit 1; }

step "project create, import the fixture site"
mkdir -p "$WORK/site"
cp -r "$ROOT/testdata/site/dist" "$WORK/site/dist"
want=$(find "$WORK/site/dist" -name '*.html' | wc -l)
nimbus project create --name windows.example.com --tone premium >/dev/null
nimbus import "$WORK/site/dist" 2>"$WORK/import.err" | tr -d '\r' | sed 's/^/   /' >&2

step "pages --json lists every page"
nimbus --json pages | tr -d '\r' >"$WORK/pages.json"
got=$(node -e 'const v=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const a=Array.isArray(v)?v:v.pages;console.log(a.length)' "$WORK/pages.json")
echo "   $got pages listed, $want HTML files" >&2
[ "$got" = "$want" ] || { echo "windows.sh: pages --json lists $got pages, the site has $want" >&2; exit 1; }

step "export: byte-identical without decisions"
nimbus export --out "$WORK/out" 2>&1 | tr -d '\r' | tail -n 2 | sed 's/^/   /' >&2
exported=$(find "$WORK/out" -type f | wc -l)
if [ -d "$WORK/out/dist" ]; then outsite="$WORK/out/dist"; else outsite="$WORK/out"; fi
diff -r "$WORK/site/dist" "$outsite" >&2
echo "   $exported files, identical to the source" >&2
PROJECT=$(nimbus --json project show | tr -d '\r' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).project_id))')
(cd "$ROOT" && go build -o "$WORK/exportcheck" ./e2e/exportcheck)
"$WORK/exportcheck" -store "$WORK/nimbus.db" -project "$PROJECT" -src "$WORK/site" -out "$WORK/out" -min-changed 0 -any-status >&2

step "the app's window under wine: opens, draws, quits by Ctrl+Q with exit 0"
if command -v Xvfb >/dev/null && command -v xdotool >/dev/null && command -v import >/dev/null; then
	d=70
	while [ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ]; do d=$((d + 1)); done
	Xvfb ":$d" -screen 0 1240x800x24 -nolisten tcp >/dev/null 2>&1 &
	XVFB_PID=$!
	for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$d" ] && break; sleep 0.1; done
	# A prefix made with a display: one made headless has no window
	# resources ("Failed to create helper window").
	WINEPREFIX="$WORK/gprefix" DISPLAY=":$d" newprefix
	WINEPREFIX="$WORK/gprefix" DISPLAY=":$d" "$WINE" "$WORK/pkg/Nimbus Desktop.exe" --store "$WORK/gui.db" >"$WORK/gui.log" 2>&1 &
	gui=$!
	for _ in $(seq 600); do grep -q "window ready" "$WORK/gui.log" 2>/dev/null && break; kill -0 "$gui" 2>/dev/null || break; sleep 0.1; done
	grep -q "window ready" "$WORK/gui.log" || { cat "$WORK/gui.log" >&2; echo "windows.sh: the window did not open" >&2; exit 1; }
	sleep 2 # the first frames
	mkdir -p "$ROOT/build"
	shot="$ROOT/build/screenshot-windows.png"
	DISPLAY=":$d" import -window root "$shot"
	colours=$(identify -format '%k' "$shot")
	[ "$colours" -ge 16 ] || { echo "windows.sh: $shot looks blank ($colours colours)" >&2; exit 1; }
	# wine has no window manager here: a click gives the window the focus,
	# then the key goes through XTEST as a person's would.
	DISPLAY=":$d" xdotool mousemove 400 300 click 1
	sleep 0.5
	DISPLAY=":$d" xdotool key ctrl+q
	for _ in $(seq 200); do kill -0 "$gui" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$gui" 2>/dev/null; then kill -KILL "$gui"; echo "windows.sh: the app did not quit on Ctrl+Q" >&2; exit 1; fi
	grc=0
	wait "$gui" || grc=$?
	kill "$XVFB_PID" 2>/dev/null || true
	if [ "$grc" != 0 ] || grep -q '^panic:' "$WORK/gui.log"; then cat "$WORK/gui.log" >&2; echo "windows.sh: the app exited $grc" >&2; exit 1; fi
	echo "   window drawn ($colours colours, $shot), quit by Ctrl+Q, exit 0" >&2
else
	echo "   skipped: Xvfb, xdotool or ImageMagick missing (make deps installs them)" >&2
fi

step "setup --token-stdin on the local stack: the token goes to the Credential Manager"
mkdir -p "$WORK/state"
setsid node "$ROOT/worker/dev/stack.mjs" --persist "$WORK/state" >"$WORK/stack.out" 2>"$WORK/stack.log" &
STACK_PID=$!
for _ in $(seq 1 300); do
	grep -q '^NIMBUS_STACK_PERSIST=' "$WORK/stack.out" 2>/dev/null && break
	kill -0 "$STACK_PID" 2>/dev/null || { cat "$WORK/stack.log" >&2; echo "windows.sh: the stack exited" >&2; exit 1; }
	sleep 0.2
done
api=$(sed -n 's/^NIMBUS_CF_API_BASE=//p' "$WORK/stack.out")
acct=$(sed -n 's/^CLOUDFLARE_ACCOUNT_ID=//p' "$WORK/stack.out")
token="wine-secret-$(date +%s%N)"
out=$(printf '%s\n' "$token" | NIMBUS_CF_API_BASE="$api" nimbus setup --account "$acct" --token-stdin | tr -d '\r')
echo "$out" | sed 's/^/   /' >&2
grep -q "token saved (keyring)" <<<"$out" || { echo "windows.sh: the token did not go to the Credential Manager" >&2; exit 1; }
if grep -rqa "$token" "$WORK/nimbus.db" "$WORK/prefix/drive_c/users" 2>/dev/null; then
	echo "windows.sh: the token is in plain text in the store or the user's files" >&2
	exit 1
fi

step "submit and sync with the token read back from the Credential Manager"
nimbus submit 2>&1 | tr -d '\r' | sed 's/^/   /' >&2
NIMBUS_CF_API_BASE="$api" nimbus sync 2>&1 | tr -d '\r' | sed 's/^/   /' >&2
remote=$(cd "$ROOT/worker" && npx wrangler kv key list --local --persist-to "$WORK/state" --binding NIMBUS_PAGES 2>/dev/null |
	node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s.slice(s.indexOf("["))).length))')
echo "   $remote pages in the local stack's NIMBUS_PAGES" >&2
[ "$remote" = "$want" ] || { echo "windows.sh: $remote pages pushed, want $want" >&2; exit 1; }
step "ok: the Windows build passes under wine"
