-- wrk script: first visits (no cookie, the login block) spread over many shops: request n goes to
-- shop n (cycling over AMAZONPAY2_BENCH_SHOPS) by its Host, as the server tells shops by Host
-- alone. The requests are formatted once, in init, so that wrk's own cost per request is the
-- same for one shop as for 10,000. AMAZONPAY2_BENCH_ONCE set (a file name), the thread stops once
-- every shop was answered once (the warm-up pass: every shop's first request) and makes that file,
-- for shops.sh to end wrk there (wrk itself would wait out its -d).
local shops = tonumber(os.getenv("AMAZONPAY2_BENCH_SHOPS") or "1")
local port = os.getenv("AMAZONPAY2_BENCH_PORT")
local once = os.getenv("AMAZONPAY2_BENCH_ONCE")
-- One fixed host instead (the demo's own shop), for the single-shop figure.
local fixed = os.getenv("AMAZONPAY2_BENCH_HOST")
local formatted, sent, answered = {}, 0, 0

init = function(args)
  local body = '{"blocks":[{"kind":"login","placement":"Other","buttonColor":"Gold"}]}'
  for n = 1, shops do
    local host = fixed or ("bench" .. n .. ".localhost:" .. port)
    local headers = { ["Host"] = host, ["Content-Type"] = "application/json" }
    formatted[n] = wrk.format("POST", "/api/amazonpay2/buttons", headers, body)
  end
end

request = function()
  sent = sent % shops + 1
  return formatted[sent]
end

if once then
  response = function(status, headers, body)
    answered = answered + 1
    if answered == shops then
      io.open(once, "w"):close()
      wrk.thread:stop()
    end
  end
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
