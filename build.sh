#!/usr/bin/env bash
# Sets up, builds, tests, benchmarks and runs the Amazon Pay widget and server.
#
#   ./build.sh          set up what is missing, build the widget and the server, print sizes
#   ./build.sh widget   ... the widget alone (target/widget)
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
AXE_VERSION=4.14.1
AMAZON_PAY_SDK_VERSION=2.3.4
TOOLS="${AMAZONPAY2_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/amazonpay2-tools}"
# AMAZONPAY2_WIDGET_OUT builds elsewhere (trying a change without rebuilding the server, which
# embeds target/widget); serve it with AMAZONPAY2_WIDGET.
WIDGET_OUT="${AMAZONPAY2_WIDGET_OUT:-target/widget}"
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
  # axe-core checks the pages' accessibility in the end-to-end tests.
  if [ "$(node -p 'require(process.argv[1] + "/package.json").version' "$TOOLS/axe/node_modules/axe-core" 2>/dev/null)" != "$AXE_VERSION" ]; then
    say "installing axe-core $AXE_VERSION (npm) for the accessibility checks"
    mkdir -p "$TOOLS/axe"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/axe" "axe-core@$AXE_VERSION"
  fi
  export AMAZONPAY2_AXE="$TOOLS/axe/node_modules/axe-core/axe.min.js"
}

# Amazon's official Node SDK calls the simulator in tests/it/node_sdk.rs: code nobody here wrote, so
# that the simulator is checked against Amazon's own paths, headers, signatures and bodies.
setup_amazon_pay_sdk() {
  local sdk="$TOOLS/amazon-pay-sdk/node_modules/@amazonpay/amazon-pay-api-sdk-nodejs"
  if [ "$(node -p 'require(process.argv[1] + "/package.json").version' "$sdk" 2>/dev/null)" != "$AMAZON_PAY_SDK_VERSION" ]; then
    say "installing Amazon Pay's Node SDK $AMAZON_PAY_SDK_VERSION (npm) for the simulator's conformance tests"
    mkdir -p "$TOOLS/amazon-pay-sdk"
    npm install --silent --no-audit --no-fund --save-exact --prefix "$TOOLS/amazon-pay-sdk" \
      "@amazonpay/amazon-pay-api-sdk-nodejs@$AMAZON_PAY_SDK_VERSION"
  fi
  export AMAZONPAY2_NODE_SDK="$sdk"
}

build_widget() {
  say "building the widget (wasm, size profile)"
  cargo build --lib --target wasm32-unknown-unknown --profile wasm-release
  local bindgen=target/widget-bindgen hash
  rm -rf "$bindgen" "$WIDGET_OUT" && mkdir -p "$bindgen" "$WIDGET_OUT"
  wasm-bindgen --target no-modules --no-typescript --out-name amazonpay2 --out-dir "$bindgen" \
    target/wasm32-unknown-unknown/wasm-release/amazonpay2.wasm
  # The linker puts the stack first (from 1 MiB down) and the data above it, so the lowest KiB is
  # never used, and a new instance's memory is all zeros: told so, wasm-opt folds constant
  # addresses into loads and drops zero bytes from the data (≈ 0.4 KB brotli).
  wasm-opt -Oz --converge --low-memory-unused --zero-filled-memory --strip-debug --strip-producers \
    "$bindgen/amazonpay2_bg.wasm" -o "$bindgen/full-names.wasm"
  # wasm-bindgen names every import after its JS function plus a hash (≈ 40 bytes each, 170 of
  # them, in the wasm and again in the glue): one- or two-letter names instead, in both.
  wasm-opt --minify-imports-and-exports-and-modules "$bindgen/full-names.wasm" -o "$bindgen/optimized.wasm" >/dev/null
  rename_glue "$bindgen/full-names.wasm" "$bindgen/optimized.wasm" "$bindgen/amazonpay2.js" "$bindgen/glue.js"
  # The wasm's name carries its content hash, so browsers may keep it for good (immutable); the
  # loader's name is the one shops paste, so it stays short-lived instead.
  hash=$(sha256sum "$bindgen/optimized.wasm" | cut -c1-16)
  cp "$bindgen/optimized.wasm" "$WIDGET_OUT/amazonpay2_bg.$hash.wasm"
  cp "$bindgen/optimized.wasm" "$WIDGET_OUT/amazonpay2_bg.wasm"
  # One classic script: the loader with the glue inside its function scope, minified.
  awk -v glue="$bindgen/glue.js" -v wasm="amazonpay2_bg.$hash.wasm" '
    /\/\*@@WASM_BINDGEN_GLUE@@\*\// { while ((getline line < glue) > 0) print line; next }
    { gsub(/@@WASM_FILE@@/, wasm); print }
  ' src/widget/loader.js > "$bindgen/widget.js"
  terser "$bindgen/widget.js" --compress --mangle --comments '/^!/' -o "$WIDGET_OUT/widget.js"
  compress "$WIDGET_OUT/widget.js" "$WIDGET_OUT/amazonpay2_bg.$hash.wasm"
  print_sizes
}

# Rewrites wasm-bindgen's glue for the renamed imports and exports of the wasm: the two modules
# list them in the same order, so the old and new names pair up one by one. Fails the build if
# any old name is left in the glue.
rename_glue() {
  node -e '
    const fs = require("fs");
    const [before, after, glueIn, glueOut] = process.argv.slice(1);
    const module = (file) => new WebAssembly.Module(fs.readFileSync(file));
    const [old, neu] = [module(before), module(after)];
    const key = (name) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));
    const escape = (name) => name.replace(/[$]/g, "\\$&");
    let glue = fs.readFileSync(glueIn, "utf8");
    const oldImports = WebAssembly.Module.imports(old), newImports = WebAssembly.Module.imports(neu);
    if (oldImports.length !== newImports.length) throw new Error("import lists differ");
    const modules = new Map();
    oldImports.forEach((imp, i) => {
      modules.set(imp.module, newImports[i].module);
      glue = glue.replace(new RegExp("(^|[\\s{,])" + escape(imp.name) + ":", "m"), "$1" + key(newImports[i].name) + ":");
    });
    for (const [from, to] of modules) glue = glue.split(JSON.stringify(from) + ":").join(JSON.stringify(to) + ":");
    const oldExports = WebAssembly.Module.exports(old), newExports = WebAssembly.Module.exports(neu);
    oldExports.forEach((exp, i) => {
      const to = newExports[i].name;
      glue = glue.replace(new RegExp("\\bwasm\\." + escape(exp.name) + "\\b", "g"),
        /^[A-Za-z_$][\w$]*$/.test(to) ? "wasm." + to : "wasm[" + JSON.stringify(to) + "]");
    });
    const left = oldImports.filter((imp) => glue.includes(imp.name + ":")).map((imp) => imp.name);
    if (left.length) throw new Error("imports left unrenamed in the glue: " + left.join(", "));
    // The loader always hands the start-up a fetch of the wasm (served as application/wasm by
    // the server): the ways to start from a path, from bytes or synchronously, and their
    // warnings, are bytes every shopper downloads for nothing. One way is left.
    const cut = (from, to, by) => {
      const start = glue.indexOf(from), end = glue.indexOf(to, start);
      if (start < 0 || end < 0) throw new Error("glue changed shape near: " + from);
      glue = glue.slice(0, start) + by + glue.slice(end + to.length);
    };
    cut("    let script_src;", "\n    }\n", "");
    cut("    async function __wbg_load(", "return Object.assign(__wbg_init, { initSync }, exports);",
      "async function __wbg_init(response) {\n" +
      "        response = await response;\n" +
      "        if (!response.ok) throw new Error(\"failed to fetch Wasm: \" + response.status);\n" +
      "        const { instance, module } = await WebAssembly.instantiateStreaming(response, __wbg_get_imports());\n" +
      "        return __wbg_finalize_init(instance, module);\n" +
      "    }\n    return Object.assign(__wbg_init, exports);");
    fs.writeFileSync(glueOut, glue);
  ' "$@"
}

# Writes FILE.br (brotli, quality 11) and FILE.gz (gzip -9) beside each FILE: the server sends
# whichever the browser accepts, without compressing anything per request.
compress() {
  node -e '
    const fs = require("fs"), zlib = require("zlib");
    for (const file of process.argv.slice(1)) {
      const body = fs.readFileSync(file);
      const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT, BROTLI_PARAM_LGWIN } = zlib.constants;
      fs.writeFileSync(file + ".br", zlib.brotliCompressSync(body, { params: {
        [BROTLI_PARAM_QUALITY]: 11, [BROTLI_PARAM_LGWIN]: 24, [BROTLI_PARAM_SIZE_HINT]: body.length } }));
      fs.writeFileSync(file + ".gz", zlib.gzipSync(body, { level: 9 }));
    }' "$@"
}

print_sizes() {
  local total_raw=0 total_gz=0 total_br=0 raw gz br f
  for f in "$WIDGET_OUT/widget.js" "$WIDGET_OUT"/amazonpay2_bg.*.wasm; do
    case "$f" in *.br|*.gz) continue ;; esac
    raw=$(stat -c %s "$f"); gz=$(stat -c %s "$f.gz"); br=$(stat -c %s "$f.br")
    total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
    printf '  %-48s %8d bytes  %8d gzip  %8d brotli\n' "$f" "$raw" "$gz" "$br"
  done
  printf '  %-48s %8d bytes  %8d gzip  %8d brotli (budget 100000 gzip)\n' "widget total" "$total_raw" "$total_gz" "$total_br"
}

build_server() {
  say "building the server"
  cargo build --release --bin amazonpay2-server
}

run_tests() {
  say "format and lints (native and wasm32)"
  cargo fmt --check
  cargo clippy --lib --tests --bins -- -D warnings
  cargo clippy --target wasm32-unknown-unknown --lib --tests -- -D warnings
  # A throw-away PostgreSQL (tests/pg/cluster.sh): the storage suite and the multi-instance tests
  # run on it as well as on SQLite; stopped however the tests end.
  say "starting a throw-away PostgreSQL under target/pg"
  AMAZONPAY2_TEST_DATABASE_URL=$(tests/pg/cluster.sh start)
  export AMAZONPAY2_TEST_DATABASE_URL
  # Here the PostgreSQL half must run: a test without its database fails rather than skips
  # (tests/common/databases.rs), so that half cannot pass silently.
  export AMAZONPAY2_TEST_REQUIRE_POSTGRES=1
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
    build|widget|demo|test|bench) ;;
    *) echo "usage: $0 [build|widget|demo|test|bench]" >&2; exit 2 ;;
  esac
  setup_build_tools
  if [ "$command" = test ] || [ "$command" = bench ]; then setup_browser; setup_amazon_pay_sdk; fi
  build_widget
  if [ "$command" = widget ]; then return; fi
  # The tests build their own (debug) server binary with the test binaries; only the demo and the
  # benchmarks run the release one.
  if [ "$command" != test ]; then build_server; fi
  case "$command" in
    demo) exec target/release/amazonpay2-server --demo ;;
    test) run_tests ;;
    bench) exec tests/bench/run.sh ;;
  esac
}

main "$@"
