-- wrk script: the widget's one request per page, from one shopper session (warm signature cache).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("AMAZONPAY2_BENCH_COOKIE")
wrk.body = '{"blocks":[{"kind":"checkout","placement":"Cart","buttonColor":"Gold"},'
  .. '{"kind":"login","placement":"Other","buttonColor":"Gold"},'
  .. '{"kind":"mypage","placement":"Other","buttonColor":"Gold"}]}'

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
