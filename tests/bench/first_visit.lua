-- wrk script: first page views. Every request is a new visitor (no cookie) whose page has the
-- common login block, as a crawler or a shopper's first view sends it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"blocks":[{"kind":"login","placement":"Other","buttonColor":"Gold"}]}'

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
