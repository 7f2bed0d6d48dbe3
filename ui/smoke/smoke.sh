#!/usr/bin/env bash
# GUI smoke run: builds the real binary, starts it under Xvfb on an empty
# store and on a fixture store of 10,000 pages, waits for the window, saves
# a screenshot of each under build/ and checks it is not blank, and prints
# startup time and peak memory of both runs side by side.
#
#   ui/smoke/smoke.sh            (from the repository root; `make test-gui-smoke`)
#
# Environment: PAGES (default 10000), SMOKE_DIR (default build/smoke),
# SMOKE_TIMEOUT seconds to wait for the window (default 60), RUNS per store
# (default 3; the medians are compared).
set -euo pipefail

PAGES=${PAGES:-10000}
DIR=${SMOKE_DIR:-build/smoke}
TIMEOUT=${SMOKE_TIMEOUT:-60}
RUNS=${RUNS:-3}
BIN=build/nimbus
export LANG=en_US.UTF-8 # silences Fyne's locale error under Xvfb

for tool in Xvfb import identify xwininfo; do
	command -v "$tool" >/dev/null || { echo "smoke: $tool is missing (apt-get install xvfb imagemagick x11-utils)" >&2; exit 1; }
done

mkdir -p "$DIR"
go build -o "$BIN" .

fixture="$DIR/fixture-$PAGES.db"
if [ ! -s "$fixture" ]; then
	go run ./ui/smoke/genstore -store "$fixture.tmp" -pages "$PAGES"
	mv "$fixture.tmp" "$fixture"
fi

# A display nobody uses.
disp=90
while [ -e "/tmp/.X11-unix/X$disp" ] || [ -e "/tmp/.X$disp-lock" ]; do disp=$((disp + 1)); done
Xvfb ":$disp" -screen 0 1600x1000x24 -nolisten tcp >"$DIR/xvfb.log" 2>&1 &
xvfb=$!
app=""
cleanup() {
	if [ -n "$app" ]; then kill "$app" 2>/dev/null || true; fi
	kill "$xvfb" 2>/dev/null || true
}
trap cleanup EXIT
export DISPLAY=":$disp"
for _ in $(seq 50); do LC_ALL=C xwininfo -root >/dev/null 2>&1 && break; sleep 0.1; done

# run NAME STORE: prints "startup_ms peak_rss_kb" for one run.
run() {
	local name=$1 store=$2 log="$DIR/$1.log" start now ms hwm
	rm -f "$log"
	start=$(date +%s%N)
	NIMBUS_STORE="$store" "$BIN" >"$log" 2>&1 &
	app=$!
	# Ready = the first screen has its data (the app logs it) and the
	# window is mapped on the X server.
	while ! { grep -q "window ready" "$log" 2>/dev/null && LC_ALL=C xwininfo -root -tree 2>/dev/null | grep -q '"Nimbus"'; }; do
		if ! kill -0 "$app" 2>/dev/null; then
			echo "smoke: $name: the app exited before its window was ready:" >&2
			cat "$log" >&2
			exit 1
		fi
		now=$(date +%s%N)
		if [ $(((now - start) / 1000000000)) -ge "$TIMEOUT" ]; then
			echo "smoke: $name: no window within ${TIMEOUT}s" >&2
			exit 1
		fi
		sleep 0.02
	done
	now=$(date +%s%N)
	ms=$(((now - start) / 1000000))
	sleep 1.5 # let the first frames paint
	local shot="build/screenshot-$name.png"
	import -window root -crop 1240x800+0+0 "$shot" # the window's default size
	# Non-blank: a UI has many colours and real contrast.
	local colours stddev
	colours=$(identify -format '%k' "$shot")
	stddev=$(identify -format '%[fx:standard_deviation]' "$shot")
	if [ "$colours" -lt 16 ] || awk -v s="$stddev" 'BEGIN { exit !(s < 0.02) }'; then
		echo "smoke: $name: screenshot $shot looks blank ($colours colours, stddev $stddev)" >&2
		exit 1
	fi
	# Peak memory of the start, before the extra screens load more.
	if ! hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$app/status" 2>/dev/null) || [ -z "$hwm" ]; then
		local gone=0
		wait "$app" 2>/dev/null || gone=$?
		echo "smoke: $name: the app exited by itself (exit $gone) after its window was ready; its log:" >&2
		cat "$log" >&2
		app=""
		# Seen once in many runs and not reproduced: start it once more
		# (said above, so the log keeps it), and fail if it happens again.
		if [ -z "${RETRIED:-}" ]; then
			echo "smoke: $name: WARNING: starting it once more" >&2
			RETRIED=1 run "$@"
			return
		fi
		exit 1
	fi
	if [ "$name" != empty ] && [ "${SHOTS:-1}" = 1 ] && command -v xdotool >/dev/null; then
		more_shots "$name" >&2
	fi
	# Quit as a person does (Ctrl+Q) on the first run of each store when
	# xdotool is there, else as the session manager does (SIGTERM); either
	# way the app must exit 0 with no panic in its log (there is no D-Bus
	# session here, so no system tray).
	local how=SIGTERM rc=0
	if [ "${QUIT_KEY:-0}" = 1 ] && command -v xdotool >/dev/null; then
		how=Ctrl+Q
		xdotool mousemove 560 20 click 1 # an empty spot of the top bar: the focus
		sleep 0.2
		xdotool key ctrl+q
	else
		kill "$app"
	fi
	local waited=0
	while kill -0 "$app" 2>/dev/null && [ $waited -lt 200 ]; do sleep 0.05; waited=$((waited + 1)); done
	if kill -0 "$app" 2>/dev/null; then
		echo "smoke: $name: the app did not exit within 10 s of $how" >&2
		kill -KILL "$app" 2>/dev/null || true
		exit 1
	fi
	wait "$app" 2>/dev/null || rc=$?
	app=""
	# A widget touched off the Fyne goroutine is logged, not fatal: it fails
	# the run too.
	if [ "$rc" != 0 ] || grep -q '^panic:\|^fatal error:\|Error in Fyne call thread' "$log"; then
		echo "smoke: $name: the app exited $rc after $how:" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
	echo "smoke: $name: quit by $how, exit 0" >&2
	echo "$ms $hwm $shot $colours"
}

# more_shots NAME: with xdotool, the other main screens of the running app
# (page detail, Review, Batches), composed into build/screenshot-main.png.
# There is no window manager on this Xvfb: the window sits at the origin,
# a click gives it the focus, and keys go through XTEST to the focused
# window as a person's would (xdotool key --window sends synthetic events to
# a window id, which can be stale: BadWindow).
more_shots() {
	xdotool mousemove 330 250 click 1 # a page row: opens its detail
	sleep 1
	import -window root -crop 1240x800+0+0 "build/screenshot-$1-detail.png"
	xdotool key ctrl+3 # Review: reads every page's blocks
	sleep 4
	import -window root -crop 1240x800+0+0 "build/screenshot-$1-review.png"
	xdotool key ctrl+2
	sleep 0.5
	xdotool mousemove 300 110 click 1 # the newest batch
	sleep 1
	import -window root -crop 1240x800+0+0 "build/screenshot-$1-batches.png"
	convert "build/screenshot-$1-detail.png" \( "build/screenshot-$1-review.png" "build/screenshot-$1-batches.png" -resize 50% +append \) \
		-append build/screenshot-main.png
	xdotool key ctrl+1
}

# gallery: with xdotool, the real app on the fixture store in each theme
# (FYNE_THEME, as "System" follows it) at the smallest supported window and
# a large one: Pages, Review on a proposal with a QA message, Batches with a
# batch open (the fixture's has failed pages), the shortcut sheet (F1), as
# build/gallery/SCREEN-WxH-THEME.png; each checked not blank.
gallery() {
	mkdir -p build/gallery
	local variant size w h log="$DIR/gallery.log" f
	for variant in light dark; do
		for size in 1024x700 1600x1000; do
			w=${size%x*} h=${size#*x}
			rm -f "$log"
			FYNE_THEME=$variant NIMBUS_STORE="$fixture" "$BIN" >"$log" 2>&1 &
			app=$!
			for _ in $(seq 1 $((TIMEOUT * 10))); do grep -q "window ready" "$log" 2>/dev/null && break; sleep 0.1; done
			grep -q "window ready" "$log" || { echo "smoke: gallery: no window ($variant $size):" >&2; cat "$log" >&2; exit 1; }
			sleep 1
			xdotool search --name '^Nimbus$' windowsize "$w" "$h" >/dev/null 2>&1 || true
			xdotool mousemove 560 20 click 1 # an empty spot of the top bar: the focus
			sleep 1
			import -window root -crop "${w}x${h}+0+0" "build/gallery/pages-$size-$variant.png"
			xdotool key ctrl+3
			sleep 4
			# the fixture's fifth proposal is a title over 60 characters: QA blocks it
			xdotool key j j j j
			sleep 1
			import -window root -crop "${w}x${h}+0+0" "build/gallery/review-$size-$variant.png"
			xdotool key ctrl+2
			sleep 0.5
			xdotool mousemove 300 110 click 1 # the newest batch
			sleep 1
			import -window root -crop "${w}x${h}+0+0" "build/gallery/batches-$size-$variant.png"
			xdotool key F1
			sleep 1
			import -window root -crop "${w}x${h}+0+0" "build/gallery/shortcuts-$size-$variant.png"
			xdotool key Escape
			kill "$app"
			wait "$app" 2>/dev/null || true
			app=""
		done
	done
	for f in build/gallery/*.png; do
		if [ "$(identify -format '%k' "$f")" -lt 16 ]; then
			echo "smoke: gallery: $f looks blank" >&2
			exit 1
		fi
	done
	echo "gallery: $(ls build/gallery/*.png | wc -l) screenshots in build/gallery (light and dark, 1024x700 and 1600x1000)"
}

empty_store="$DIR/empty.db"
rm -f "$empty_store"
# The machine may be busy: each store runs RUNS times (alternating) and the
# median startup and median peak memory are compared.
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
e_all_ms="" e_all_kb="" f_all_ms="" f_all_kb=""
for i in $(seq "$RUNS"); do
	rm -f "$empty_store"
	# run is called in this shell (not in a process substitution), so its
	# exit 1 ends the script.
	if [ "$i" = 1 ]; then QUIT_KEY=1 run empty "$empty_store" >"$DIR/result"; else run empty "$empty_store" >"$DIR/result"; fi
	read -r ms kb e_shot e_col <"$DIR/result"
	e_all_ms="$e_all_ms $ms" e_all_kb="$e_all_kb $kb"
	if [ "$i" = 1 ]; then
		QUIT_KEY=1 run "pages-$PAGES" "$fixture" >"$DIR/result"
	else
		SHOTS=0 run "pages-$PAGES" "$fixture" >"$DIR/result"
	fi
	read -r ms kb f_shot f_col <"$DIR/result"
	f_all_ms="$f_all_ms $ms" f_all_kb="$f_all_kb $kb"
done
e_ms=$(echo $e_all_ms | median) e_kb=$(echo $e_all_kb | median)
f_ms=$(echo $f_all_ms | median) f_kb=$(echo $f_all_kb | median)
echo "startup ms, empty:$e_all_ms; $PAGES pages:$f_all_ms"
cp "$f_shot" build/screenshot.png
if [ "${SHOTS:-1}" = 1 ] && command -v xdotool >/dev/null; then gallery; fi
[ -f build/screenshot-main.png ] && echo "main screens: build/screenshot-main.png (docs/screenshot.png is a copy)"

printf '\nGUI smoke run (Xvfb %s, software GL)\n' "$DISPLAY"
printf '%-14s %12s %14s  %s\n' store startup_ms peak_rss_MiB "screenshot (medians of $RUNS runs)"
printf '%-14s %12d %14.1f  %s (%s colours)\n' empty "$e_ms" "$(echo "$e_kb / 1024" | bc -l)" "$e_shot" "$e_col"
printf '%-14s %12d %14.1f  %s (%s colours)\n' "$PAGES pages" "$f_ms" "$(echo "$f_kb / 1024" | bc -l)" "$f_shot" "$f_col"
printf 'ratio          %12.2fx %13.2fx  (target: at most 2x each)\n' "$(echo "$f_ms / $e_ms" | bc -l)" "$(echo "$f_kb / $e_kb" | bc -l)"
