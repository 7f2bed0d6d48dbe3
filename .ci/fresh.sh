#!/usr/bin/env bash
# make test-fresh: what a new machine meets. Clones this checkout's HEAD
# (committed work only) into a temporary folder and runs .ci/run there as CI
# does (CI=true, no standard input) with empty Go module, Go build and npm
# caches and empty XDG config/data/cache folders. System packages are not
# removed: apt installs are checked by `make deps` on what is there.
# The folder is removed when the run passes and kept (its path printed) when
# it fails.
#
#   .ci/fresh.sh            (KEEP=1 keeps the folder either way)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-fresh.XXXXXX")
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
	echo "test-fresh: note: uncommitted changes in $ROOT are not part of the run (it clones HEAD)" >&2
fi
git clone -q --no-local "$ROOT" "$TMP/repo"
mkdir -p "$TMP/gomod" "$TMP/gocache" "$TMP/npm" "$TMP/xdg/config" "$TMP/xdg/data" "$TMP/xdg/cache"
echo "test-fresh: $(git -C "$TMP/repo" log -1 --format='%h %s') in $TMP/repo" >&2

start=$(date +%s)
rc=0
(
	cd "$TMP/repo"
	export GOMODCACHE="$TMP/gomod" GOCACHE="$TMP/gocache" GOFLAGS=-modcacherw
	export npm_config_cache="$TMP/npm"
	export XDG_CONFIG_HOME="$TMP/xdg/config" XDG_DATA_HOME="$TMP/xdg/data" XDG_CACHE_HOME="$TMP/xdg/cache"
	export CI=true
	bash .ci/run </dev/null
) 2>&1 | tee "$TMP/run.log" || rc=$?
elapsed=$(($(date +%s) - start))
echo "test-fresh: .ci/run exited $rc after $((elapsed / 60))m$((elapsed % 60))s; log: $TMP/run.log" >&2
if [ "$rc" = 0 ] && [ -z "${KEEP:-}" ]; then
	rm -rf "$TMP"
else
	echo "test-fresh: kept $TMP" >&2
fi
exit "$rc"
