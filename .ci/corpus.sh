#!/usr/bin/env bash
# Unpacks the real third-party HTML corpora the tests run over (Debian's
# PostgreSQL and Python manuals) into DIR (default build/corpus), without
# installing anything: `apt-get download` of whatever versions the
# distribution offers (the newest postgresql-doc-N and python3.N-doc), then
# `dpkg-deb -x`. No system package is installed or upgraded. Tests find the
# manuals through NIMBUS_CORPUS_ROOT=DIR (internal/corpus) and skip, with a
# line saying so, where they are missing: on a machine without apt, or when
# the archive cannot be reached, this script says so and exits 0.
#
#   .ci/corpus.sh [DIR]
set -euo pipefail

DIR=${1:-build/corpus}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
APT_OPTS=(-q -o DPkg::Lock::Timeout=600)

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
	echo "corpus: no apt-get/dpkg-deb here; the corpus tests will skip" >&2
	exit 0
fi

# newest NAME: the package with the highest version number in its name
# among those matching the regexp, from the local package lists.
newest() { { apt-cache search --names-only "$1" 2>/dev/null || true; } | awk '{ print $1 }' | sort -V | tail -n 1; }

pg=$(newest '^postgresql-doc-[0-9]+$')
py=$(newest '^python3\.[0-9]+-doc$')
if [ -z "$pg" ] || [ -z "$py" ]; then
	# Fresh machine: no package lists yet.
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
			echo "corpus: no package lists and no root to update them; the corpus tests will skip" >&2
			exit 0
		fi
	fi
	$sudo apt-get "${APT_OPTS[@]}" update >&2 || true
	pg=$(newest '^postgresql-doc-[0-9]+$')
	py=$(newest '^python3\.[0-9]+-doc$')
fi

for pkg in $pg $py; do
	ver=$({ apt-cache policy "$pkg" 2>/dev/null || true; } | awk '/Candidate:/ { print $2 }')
	stamp="$DIR/.$pkg.unpacked"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ver" ]; then
		echo "corpus: $pkg $ver already unpacked in $DIR" >&2
		continue
	fi
	debs="$DIR/.debs"
	rm -rf "$debs" && mkdir -p "$debs"
	# apt-get download writes into the current folder; as root it warns that
	# the _apt sandbox user cannot write there, which is harmless.
	if ! (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2); then
		# Stale package lists name versions the archive no longer has:
		# update them once (as root) and try again.
		if [ "$(id -u)" = 0 ] && [ -z "${updated:-}" ]; then
			updated=1
			apt-get "${APT_OPTS[@]}" update >&2 || true
			ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
		fi
		if ! (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2); then
			echo "corpus: could not download $pkg; the tests that use it will skip" >&2
			continue
		fi
	fi
	dpkg-deb -x "$debs"/*.deb "$DIR"
	rm -rf "$debs"
	echo "$ver" >"$stamp"
	echo "corpus: $pkg $ver unpacked in $DIR" >&2
done
[ -n "$pg$py" ] || echo "corpus: the distribution offers no postgresql-doc-N or python3.N-doc; the corpus tests will skip" >&2
