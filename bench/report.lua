-- wrk script for bench/run.py: adds the API key header (from the environment) and prints the
-- run's statistics as one JSON line that run.py parses (latencies in microseconds).
-- Set at load time (each wrk thread loads this file), before wrk's own init() formats the
-- request; defining init() here would replace wrk's and leave the request unformatted.
local api_key = os.getenv("TAYLORDASH_BENCH_API_KEY")
if api_key ~= nil and api_key ~= "" then
  wrk.headers["X-API-Key"] = api_key
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
