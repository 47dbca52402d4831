-- wrk script of bench/gateway.sh: POSTs the body in the file named by
-- GATEWAY_BODY to the path in GATEWAY_PATH and prints one parseable line:
--   RESULT requests seconds requests_per_s p50_ms p99_ms non_2xx errors
local f = assert(io.open(os.getenv("GATEWAY_BODY"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("GATEWAY_PATH")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %.1f %.2f %.2f %d %d\n", summary.requests, seconds,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, errors))
end
