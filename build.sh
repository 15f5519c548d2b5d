#!/usr/bin/env bash
# Sets up, builds, tests, benchmarks and runs the Amazon Pay widget and server.
#
#   ./build.sh          set up what is missing, build the widget and the server, print sizes
#   ./build.sh demo     ... then run the offline demo (shop on :8080, Amazon Pay simulator on :8081)
#   ./build.sh test     ... then run every test: native, browser (wasm-bindgen-test) and end-to-end
#   ./build.sh bench    ... then measure the budgets (sizes, requests, timings, throughput)
#
# Everything a fresh Debian machine lacks is installed from here, never by hand: the wasm32
# target, wasm-bindgen-cli at exactly Cargo.lock's version, wasm-opt from the npm package
# binaryen (Debian's is too old for current rustc output), and for tests and benchmarks
# Chromium and chromedriver from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")"

BINARYEN_VERSION=132.0.0
TERSER_VERSION=5.51.4
TOOLS="${AMAZONPAY2_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/amazonpay2-tools}"
WIDGET_OUT=target/widget
export PATH="$HOME/.cargo/bin:$TOOLS/binaryen/node_modules/.bin:$TOOLS/terser/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  say "installing $* (Debian packages)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

setup_build_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local locked
  locked=$(cargo pkgid wasm-bindgen | sed 's/.*[@#]//')
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $locked" ]; then
    say "installing wasm-bindgen-cli $locked (takes a few minutes, once)"
    # Not --locked: the CLI's own lock file can pin a crate version the registry no longer has.
    cargo install -f wasm-bindgen-cli --version "$locked"
  fi
  if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
    say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
    mkdir -p "$TOOLS/binaryen"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/binaryen" "binaryen@$BINARYEN_VERSION"
  fi
  if [ "$(terser --version 2>/dev/null)" != "terser $TERSER_VERSION" ]; then
    say "installing terser $TERSER_VERSION (npm) to minify the glue"
    mkdir -p "$TOOLS/terser"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/terser" "terser@$TERSER_VERSION"
  fi
}

setup_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install chromium chromium-driver
  fi
}

build_widget() {
  say "building the widget (wasm, size profile)"
  cargo build --lib --target wasm32-unknown-unknown --profile wasm-release
  local bindgen=target/widget-bindgen
  rm -rf "$bindgen" && mkdir -p "$bindgen" "$WIDGET_OUT"
  wasm-bindgen --target no-modules --no-typescript --out-name amazonpay2 --out-dir "$bindgen" \
    target/wasm32-unknown-unknown/wasm-release/amazonpay2.wasm
  wasm-opt -Oz --converge --strip-debug --strip-producers "$bindgen/amazonpay2_bg.wasm" -o "$WIDGET_OUT/amazonpay2_bg.wasm"
  # One classic script: the loader with the glue inside its function scope, minified.
  awk -v glue="$bindgen/amazonpay2.js" '
    /\/\*@@WASM_BINDGEN_GLUE@@\*\// { while ((getline line < glue) > 0) print line; next }
    { print }
  ' src/widget/loader.js > "$bindgen/widget.js"
  terser "$bindgen/widget.js" --compress --mangle --comments '/^!/' -o "$WIDGET_OUT/widget.js"
  print_sizes
}

print_sizes() {
  local total_raw=0 total_gz=0 raw gz f
  for f in "$WIDGET_OUT/widget.js" "$WIDGET_OUT/amazonpay2_bg.wasm"; do
    raw=$(stat -c %s "$f")
    gz=$(gzip -9 -c "$f" | wc -c)
    total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
    printf '  %-32s %8d bytes  %8d gzip\n' "$f" "$raw" "$gz"
  done
  printf '  %-32s %8d bytes  %8d gzip (budget 100000)\n' "widget total" "$total_raw" "$total_gz"
}

build_server() {
  say "building the server"
  cargo build --release --bin amazonpay2-server
}

run_tests() {
  # A throw-away PostgreSQL (tests/pg/cluster.sh): the storage suite and the multi-instance tests
  # run on it as well as on SQLite; stopped however the tests end.
  say "starting a throw-away PostgreSQL under target/pg"
  AMAZONPAY2_TEST_DATABASE_URL=$(tests/pg/cluster.sh start)
  export AMAZONPAY2_TEST_DATABASE_URL
  trap 'tests/pg/cluster.sh stop; tests/pg/cluster.sh stop fault' EXIT
  say "native tests (unit, API, end-to-end in headless Chromium)"
  AMAZONPAY2_WIDGET="$PWD/$WIDGET_OUT" cargo test --tests
  say "browser tests (wasm-bindgen-test in headless Chromium)"
  CHROMEDRIVER="$(command -v chromedriver)" WASM_BINDGEN_TEST_TIMEOUT=120 \
    cargo test --target wasm32-unknown-unknown --lib --tests
}

main() {
  local command="${1:-build}"
  case "$command" in
    build|demo|test|bench) ;;
    *) echo "usage: $0 [build|demo|test|bench]" >&2; exit 2 ;;
  esac
  setup_build_tools
  if [ "$command" = test ] || [ "$command" = bench ]; then setup_browser; fi
  build_widget
  build_server
  case "$command" in
    demo) exec target/release/amazonpay2-server --demo ;;
    test) run_tests ;;
    bench) exec tests/bench/run.sh ;;
  esac
}

main "$@"
