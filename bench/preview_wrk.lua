-- wrk script of bench/preview.sh: cycles through the paths in the file named
-- by PREVIEW_PATHS (one per line) and prints one parseable line at the end:
--   RESULT requests seconds requests_per_s p50_ms p99_ms non_2xx errors
local paths = {}
for line in io.lines(os.getenv("PREVIEW_PATHS")) do
  if line ~= "" then paths[#paths + 1] = line end
end
local counter = 0

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

function init(args)
  n = offset or 0
end

function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %.1f %.2f %.2f %d %d\n", summary.requests, seconds,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, errors))
end
