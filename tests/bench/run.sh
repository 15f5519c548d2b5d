#!/usr/bin/env bash
# Measures the budgets on this machine (run through `./build.sh bench`, which builds first): the
# widget's size, the demo pages in headless Chromium, the widget on a phone against the manual's
# pasted template, the button endpoint under load, signing, and many shops on one deployment.
# Prints one line per figure.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v wrk >/dev/null; then
  echo "==> installing wrk (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq; apt-get install -y -qq wrk >/dev/null; }
  else sudo apt-get install -y -qq wrk >/dev/null; fi
fi

echo "== widget transfer (as build.sh compressed it: gzip -9 and brotli 11)"
total_gz=0; total_br=0
for f in target/widget/widget.js target/widget/amazonpay2_bg.*.wasm; do
  case "$f" in *.br|*.gz) continue ;; esac
  gz=$(stat -c %s "$f.gz"); br=$(stat -c %s "$f.br"); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  printf '   %-52s %7d gzip %7d brotli (%d raw)\n' "$f" "$gz" "$br" "$(stat -c %s "$f")"
done
printf '   total %d bytes gzip: %s (budget 100000); %d brotli\n' "$total_gz" "$([ "$total_gz" -le 100000 ] && echo ok || echo OVER)" "$total_br"

echo "== pages in headless Chromium: requests per page, DOMContentLoaded -> renderButton"
cargo test -q --release --test bench -- --ignored --nocapture page:: 2>&1 | grep '^BENCH\|^   ' || true

echo "== the widget on a phone against the manual's pasted template (headless Chromium, slow 4G, CPU 4x)"
cargo test -q --release --test bench -- --ignored --nocapture phone:: 2>&1 | grep '^BENCH\|^   ' || true

echo "== button-config endpoint under load (wrk on loopback, warm signature cache)"
port=18180; sim=18181
data=$(mktemp -d)
# At the log level a shop runs with by default (info), so that what logging costs is measured.
AMAZONPAY2_LISTEN=127.0.0.1:$port AMAZONPAY2_SIMULATOR_LISTEN=127.0.0.1:$sim AMAZONPAY2_DATA=$data \
  RUST_LOG=info target/release/amazonpay2-server --demo >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/amazonpay2/session" >/dev/null && break; sleep 0.1; done
cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/api/amazonpay2/session" | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip')
# A product in the cart, so that the checkout button is built and signed like a shopper's.
csrf=$(curl -s -H "Cookie: $cookie" "http://127.0.0.1:$port/api/amazonpay2/session" | sed -n 's/.*"csrfToken":"\([^"]*\)".*/\1/p')
curl -s -o /dev/null -H "Cookie: $cookie" -H "Origin: http://127.0.0.1:$port" -H "X-AmazonPay2-CSRF: $csrf" \
  -H "Content-Type: application/json" -d '{"productId":1,"quantity":1}' "http://127.0.0.1:$port/api/amazonpay2/demo/cart"
AMAZONPAY2_BENCH_COOKIE="$cookie" wrk -t1 -c16 -d3s -s tests/bench/buttons.lua "http://127.0.0.1:$port/api/amazonpay2/buttons" >/dev/null
AMAZONPAY2_BENCH_COOKIE="$cookie" wrk -t1 -c32 -d10s --latency -s tests/bench/buttons.lua \
  "http://127.0.0.1:$port/api/amazonpay2/buttons" | grep '^BENCH' | sed 's/^/   /'
echo "   (budget: at least 10000 requests/s with p99 at most 10 ms, 2 cores shared with wrk)"

source tests/bench/first_visit.sh

echo "== uncached signing on one core vs openssl speed rsa2048"
ours=$(AMAZONPAY2_DATA=$data target/release/amazonpay2-server --demo bench-sign --seconds 5 | sed -n 's/.*= \([0-9.]*\) signs\/s.*/\1/p')
theirs=$(openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
python3 -c "o=$ours; t=$theirs; print(f'   aws-lc-rs PSS-V2 {o:.0f} signs/s, openssl rsa2048 {t:.0f} sign/s: {100*o/t:.0f}% (budget 80%)')"

echo "== two instances on PostgreSQL next to one on SQLite (button endpoint, order placement)"
pg_url=$(tests/pg/cluster.sh start)
AMAZONPAY2_TEST_DATABASE_URL=$pg_url RUST_LOG=warn cargo test -q --release --test bench -- --ignored --nocapture instances:: 2>&1 \
  | grep '^BENCH' | sed 's/^BENCH /   /' || true
tests/pg/cluster.sh stop

echo "== admin: bulk capture of 1,000 orders against the simulator; 受注一覧 over 100,000 orders"
cargo test -q --release --test bench -- --ignored --nocapture admin:: 2>&1 | grep '^BENCH' | sed 's/^BENCH /   /' || true

source tests/bench/shops.sh
echo "== many shops: one shop's bulk capture of 1,000 orders beside another shop's shoppers (one process with the simulator)"
RUST_LOG=warn cargo test -q --release --test bench -- --ignored --nocapture --test-threads=1 shops::isolation 2>&1 \
  | grep '^BENCH' | sed 's/^BENCH /   /' || true

source tests/bench/fuzz.sh
