# Sourced by run.sh with the demo server on $port and its data folder in $data: first page views
# (no cookie) must be as fast as warm ones and must not grow the database.
echo "== first visits: the button endpoint without a cookie (wrk, 32 connections)"
db_bytes() { du -cb "$data"/amazonpay2.sqlite3* 2>/dev/null | tail -1 | cut -f1; }
wrk -t1 -c16 -d2s -s tests/bench/first_visit.lua "http://127.0.0.1:$port/api/amazonpay2/buttons" >/dev/null
before=$(db_bytes)
wrk -t1 -c32 -d10s --latency -s tests/bench/first_visit.lua "http://127.0.0.1:$port/api/amazonpay2/buttons" \
  | grep '^BENCH' | sed 's/^/   /'
after=$(db_bytes)
echo "   database: $before bytes before, $after after (budget: at least 20000 requests/s, p99 at most 5 ms, no growth)"
