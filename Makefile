# Nimbus Desktop. `make run` and `make test` work from a fresh clone on Debian
# or Ubuntu with only Go, gcc, node/npm and apt: `deps` installs what Fyne's
# cgo build and the GUI smoke tests need, and only what is missing.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
BUILD_DIR ?= build
BIN       := $(BUILD_DIR)/nimbus
# ARGS are passed to the app by `make run`, e.g. make run ARGS="--store /tmp/n.db"
ARGS      ?=
# VERSION overrides FyneApp.toml's version in the binary when set.
VERSION   ?=
LDFLAGS   := $(if $(VERSION),-X main.version=$(VERSION))
BENCHTIME ?= 1s

# Fyne (GLFW on X11) needs the GL and X11 headers for its cgo build; Xvfb runs
# the GUI where there is no display (CI, smoke tests) on mesa's software GL.
APT_PACKAGES := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev \
	libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev \
	xvfb xauth libgl1-mesa-dri imagemagick x11-utils xdotool bc

# Test tiers run by `make test`, in order. Other tiers append themselves:
#   TEST_TIERS += test-worker test-e2e
TEST_TIERS := test-go
TEST_TIERS += test-worker test-e2e
TEST_TIERS += test-gui-smoke
# Extraction fuzz targets, a short run each. The extract and workspace tests
# also run over Debian's HTML manuals, which `make test` unpacks (deps-corpus).
TEST_TIERS += test-fuzz
# The Windows build (mingw-w64) and its CLI and window under wine: about 5
# minutes on a fresh machine, inside the time goal.
TEST_TIERS += test-windows

.PHONY: deps deps-apt deps-go build run test vet test-go bench fmt clean test-fresh

# apt-get waits up to 10 minutes for the dpkg lock (on a freshly booted
# machine unattended-upgrades often holds it) instead of failing at once.
APT_OPTS := -q -o DPkg::Lock::Timeout=600

deps: deps-apt deps-go

# dpkg -s decides what is missing; apt-get runs only then (update once,
# non-interactive). Without root it uses passwordless sudo when there is one,
# else it names the command to run.
deps-apt:
	@if ! command -v dpkg >/dev/null; then \
		echo "deps: no dpkg here; install the equivalents of: $(APT_PACKAGES)"; exit 0; \
	fi; \
	missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "deps: installing$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "deps: missing apt packages:$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; fi; \
	$$sudo apt-get $(APT_OPTS) update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get $(APT_OPTS) install -y --no-install-recommends $$missing

deps-go:
	$(GO) mod download

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

# Starts the desktop app on the local store; under Xvfb when there is no
# display, so it also starts on a headless machine.
run: build
	@if [ -z "$${DISPLAY:-}" ] && [ -z "$${WAYLAND_DISPLAY:-}" ]; then \
		d=99; while [ -e /tmp/.X11-unix/X$$d ] || [ -e /tmp/.X$$d-lock ]; do d=$$((d + 1)); done; \
		Xvfb :$$d -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$$!; \
		trap 'kill $$xvfb 2>/dev/null' EXIT; \
		for _ in $$(seq 50); do [ -e /tmp/.X11-unix/X$$d ] && break; sleep 0.1; done; \
		echo "run: no display; the window is on Xvfb display :$$d (see it: DISPLAY=:$$d import -window root shot.png)"; \
		DISPLAY=:$$d LANG=en_US.UTF-8 $(BIN) $(ARGS); \
	else \
		LANG=en_US.UTF-8 $(BIN) $(ARGS); \
	fi

# Every tier runs in order and stops at the first that fails; the time of
# each is printed at the end either way.
test:
	@rc=0; table=""; passed=0; \
	for tier in deps deps-corpus vet $(TEST_TIERS); do \
		echo "== make $$tier" >&2; start=$$(date +%s); \
		if $(MAKE) --no-print-directory $$tier; then res=ok; passed=$$((passed + 1)); else res=FAILED; rc=1; fi; \
		table="$$table$$(printf '%-16s %6ss  %s' "$$tier" "$$(( $$(date +%s) - start ))" "$$res")\n"; \
		[ $$rc = 0 ] || break; \
	done; \
	printf '\nmake test: time of each tier\n%b' "$$table"; \
	echo "tiers: $$passed passed, $$rc failed"; \
	exit $$rc

# What a new machine meets: a clean clone of this checkout's HEAD in a
# temporary folder, with empty Go module, Go build and npm caches, running
# .ci/run (make test) there. Not part of make test.
test-fresh:
	.ci/fresh.sh

# staticcheck is pinned in go.mod (a tool directive) and fetched through the
# Go module proxy; any finding fails the tier.
vet:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The Debian manuals the corpus tests read (see .ci/corpus.sh).
CORPUS_DIR := $(abspath $(BUILD_DIR)/corpus)

test-go:
	NIMBUS_CORPUS_ROOT=$(CORPUS_DIR) $(GO) test -race -timeout 30m ./...
	# The command line builds and tests without cgo (no GL headers needed).
	CGO_ENABLED=0 $(GO) test -short -count=1 ./internal/cli/...

# The side-by-side figures first, pinned to one core (taskset -c 0: both
# sides of a ratio get the same CPU on a shared machine), at BENCH_N
# iterations each (medians): the Go extractor vs the cheerio baseline of the
# same contract (extract/dev/cheerio) on the fixture site and the PostgreSQL
# manual, extraction vs html.Parse (whole site, and one page of 1k/10k/40k
# siblings), import vs extraction alone. Then the import unpinned and every
# other benchmark.
BENCH_N ?= 10
CHEERIO_DIR := extract/dev/cheerio
PIN := $(shell command -v taskset >/dev/null && echo taskset -c 0)

.PHONY: bench-deps
bench-deps:
	@if [ ! -f $(CHEERIO_DIR)/node_modules/.package-lock.json ] || \
	   [ $(CHEERIO_DIR)/package-lock.json -nt $(CHEERIO_DIR)/node_modules/.package-lock.json ]; then \
		cd $(CHEERIO_DIR) && npm ci --no-audit --no-fund; \
	fi

SIDE_BY_SIDE := ^(BenchmarkVsCheerio|BenchmarkExtractVsParse|BenchmarkManySiblings|BenchmarkImport)$$

bench: deps bench-deps deps-corpus
	@[ -n "$(PIN)" ] || echo "bench: no taskset here; the ratios are measured unpinned" >&2
	NIMBUS_CORPUS_ROOT=$(CORPUS_DIR) $(PIN) $(GO) test -p 1 -run '^$$' -bench '$(SIDE_BY_SIDE)' -benchtime=$(BENCH_N)x -timeout 30m ./extract ./workspace
	@echo "bench: the import again, unpinned (parallel extraction feeding the one writer, as on the editor's machine)"
	NIMBUS_CORPUS_ROOT=$(CORPUS_DIR) $(GO) test -run '^$$' -bench '^BenchmarkImport$$' -benchtime=$(BENCH_N)x ./workspace
	$(GO) test -run '^$$' -skip '$(SIDE_BY_SIDE)|^BenchmarkInteractions$$|^BenchmarkSiteSize$$|^BenchmarkImportPeakRSS$$' -bench . -benchmem -benchtime=$(BENCHTIME) -timeout 30m ./...

# Issue 11's interaction benchmark (ui/interact_bench_test.go): a 100-page
# and a 10,000-page store side by side in the fyne test driver: open a page,
# dimension filters, switching to each screen, a bulk accept of 1,000 blocks
# (first progress, done, the longest gap between progress updates). Prints a
# table; about a minute. Not part of make test.
.PHONY: bench-ui
bench-ui: deps
	LANG=en_US.UTF-8 $(GO) test -run '^$$' -bench '^BenchmarkInteractions$$' -benchtime=1x -timeout 10m ./ui

# The views' costs on a 100-page and a 100,000-page store side by side
# (issue 14): Pages rows, first screen, review counts, Review filters and
# search, the Pages filters. The large store takes about 40 s to write;
# NIMBUS_BENCH_PAGES sets its size. Not part of make test.
.PHONY: bench-size
bench-size: deps
	LANG=en_US.UTF-8 $(GO) test -run '^$$' -bench '^BenchmarkSiteSize$$' -benchtime=1x -timeout 20m ./ui

# Issue 14's import figure: peak RSS of `nimbus import` of a 1,000- and a
# 100,000-page generated site, side by side (internal/cli
# BenchmarkImportPeakRSS, with the real binary; NIMBUS_BENCH_PAGES sets the
# large size). About three minutes and 1.5 GB of temp space. Not part of
# make test.
.PHONY: bench-import-rss
bench-import-rss: deps
	$(GO) build -o $(BUILD_DIR)/nimbus .
	NIMBUS_BIN=$(abspath $(BUILD_DIR)/nimbus) $(GO) test -run '^$$' -bench '^BenchmarkImportPeakRSS$$' -benchtime=1x -timeout 30m ./internal/cli

fmt:
	gofmt -s -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD_DIR)

# ---- The Nimbus Worker (worker/, TypeScript) and the local Cloudflare stack --
WORKER_DIR := worker
DEV_STATE  ?= $(BUILD_DIR)/dev-state
# Fixed loopback ports, so NIMBUS_CF_API_BASE stays the same across restarts.
DEV_ARGS   ?= --port 8787 --adapter-port 8788 --ai-port 8789 --process-every 5

.PHONY: worker-deps test-worker test-e2e dev bench-worker

# npm ci only when node_modules is missing or older than the lockfile.
worker-deps:
	@if [ ! -f $(WORKER_DIR)/node_modules/.package-lock.json ] || \
	   [ $(WORKER_DIR)/package-lock.json -nt $(WORKER_DIR)/node_modules/.package-lock.json ]; then \
		cd $(WORKER_DIR) && npm ci --no-audit --no-fund; \
	fi

# vitest inside workerd (processor, provider, API, merge vectors) + the stack smoke test.
test-worker: worker-deps
	cd $(WORKER_DIR) && npm test

# Miniflare + KV REST adapter + fake AI; state persisted in DEV_STATE; the
# processor runs every 5 s (the cron). Prints NIMBUS_CF_API_BASE & co.
dev: worker-deps
	mkdir -p $(DEV_STATE)
	cd $(WORKER_DIR) && node dev/stack.mjs --persist $(abspath $(DEV_STATE)) $(DEV_ARGS)

# Throughput of the old cron processor and of the fan-out on Queues, side by
# side in one run, on the local stack with the limits on and a fake AI
# answering after 500 ms: 2,000 pages, pages/minute of both, the ratio, and
# the new design's pages/minute over its AI request budget. Not part of
# make test (about 3 minutes). BENCH_WORKER_ARGS="--pages 500" for a quick one.
BENCH_WORKER_ARGS ?= --pages 2000 --latency-ms 500 --budget 1500 --old-runs 3
bench-worker: worker-deps
	cd $(WORKER_DIR) && node dev/bench.mjs $(BENCH_WORKER_ARGS)

# End to end on workerd: 200 pages pushed through the KV REST adapter (by a
# Node client, then by the desktop's own sync engine and cloudflare-go
# client), processed by the Worker (healthy AI, then AI failing half its
# calls), pulled back; wrangler kv key list --local must see the same keys.
# e2e/run.sh does it all with the nimbus CLI (setup, import, submit, pull,
# status --json, review accept --dimension, export checked byte by byte).
# The Go tests include two CLI desktops on one project with KV's read
# staleness on (e2e/twodesktops_test.go, the built binary).
test-e2e: worker-deps build
	node --test e2e/
	NIMBUS_E2E=1 NIMBUS_BIN=$(abspath $(BIN)) $(GO) test -count=1 -timeout 15m ./e2e/...
	NIMBUS_BIN=$(abspath $(BIN)) e2e/run.sh
	NIMBUS_BIN=$(abspath $(BIN)) e2e/run.sh --ai-fail-rate 0.5

# The real binary under Xvfb on an empty store and on 10,000 fixture pages:
# screenshots under build/, startup time and memory side by side (ui/smoke).
.PHONY: test-gui-smoke
test-gui-smoke:
	ui/smoke/smoke.sh

# A Linux bundle (binary, icon, .desktop file) from FyneApp.toml with the
# fyne tool, run at a pinned version through the module proxy.
FYNE_TOOL ?= fyne.io/tools/cmd/fyne@v1.7.4
.PHONY: package
package: deps
	mkdir -p $(BUILD_DIR)
	# the fyne tool bumps Build in FyneApp.toml; packaging must not edit tracked files
	cp FyneApp.toml $(BUILD_DIR)/FyneApp.toml.orig
	$(GO) run $(FYNE_TOOL) package -os linux --release || { cp $(BUILD_DIR)/FyneApp.toml.orig FyneApp.toml; exit 1; }
	cp $(BUILD_DIR)/FyneApp.toml.orig FyneApp.toml
	mv "Nimbus Desktop.tar.xz" $(BUILD_DIR)/nimbus-linux.tar.xz
	@echo "package: $(BUILD_DIR)/nimbus-linux.tar.xz"

.PHONY: test-fuzz deps-corpus
test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzPage$$' -fuzztime 10s ./extract
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime 10s ./extract

# Unpacked under build/corpus, never installed: nothing on the system is
# upgraded for them.
deps-corpus:
	.ci/corpus.sh $(CORPUS_DIR)

# ---- Windows: cross-compiled with mingw-w64, checked under wine ------------
# build/nimbus-windows-amd64.zip holds:
#   Nimbus Desktop.exe  the app with its icon (GUI subsystem: no console window)
#   nimbus.exe          the same program marked for the console subsystem
#                       (internal/tools/pesubsystem): the CLI in cmd or
#                       PowerShell (without arguments it opens the window too)
#   nimbus.png          the icon
# The token goes to the Windows Credential Manager (go-keyring's wincred).
WIN_CC      ?= x86_64-w64-mingw32-gcc
WIN_ZIP     := $(BUILD_DIR)/nimbus-windows-amd64.zip
WIN_DIR     := $(BUILD_DIR)/windows
FYNE_BIN    := $(BUILD_DIR)/tools/fyne
WIN_ENV     := CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(WIN_CC)
.PHONY: package-windows test-windows deps-windows

deps-windows: deps-go
	$(MAKE) --no-print-directory deps-apt APT_PACKAGES="gcc-mingw-w64-x86-64 zip unzip"

$(FYNE_BIN):
	mkdir -p $(dir $@)
	GOBIN=$(abspath $(dir $@)) $(GO) install $(FYNE_TOOL)

package-windows: deps-windows $(FYNE_BIN)
	rm -rf $(WIN_DIR) && mkdir -p $(WIN_DIR)
	cp FyneApp.toml $(BUILD_DIR)/FyneApp.toml.orig
	$(WIN_ENV) $(FYNE_BIN) package -os windows --release --name "Nimbus Desktop" \
		|| { cp $(BUILD_DIR)/FyneApp.toml.orig FyneApp.toml; exit 1; }
	cp $(BUILD_DIR)/FyneApp.toml.orig FyneApp.toml
	mv "Nimbus Desktop.exe" $(WIN_DIR)/
	$(GO) run ./internal/tools/pesubsystem -in "$(WIN_DIR)/Nimbus Desktop.exe" -out $(WIN_DIR)/nimbus.exe -subsystem console
	cp assets/icon.png $(WIN_DIR)/nimbus.png
	rm -f $(WIN_ZIP) && cd $(WIN_DIR) && zip -q -9 $(abspath $(WIN_ZIP)) "Nimbus Desktop.exe" nimbus.exe nimbus.png
	@echo "package-windows: $(WIN_ZIP)"

# The Windows CLI under wine: version, project create, import of the fixture
# site, pages --json, export byte-identical, the token in the Credential
# Manager (e2e/windows.sh); the app's window drawn and quit under wine.
test-windows: deps worker-deps package-windows
	$(MAKE) --no-print-directory deps-apt APT_PACKAGES="wine64"
	e2e/windows.sh $(WIN_ZIP)
