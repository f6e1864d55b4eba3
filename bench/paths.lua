-- wrk script: round-robin over request targets read from a file, one per line (presigned
-- URL path+query). Arguments after "--": <targets file> <METHOD> [body bytes] [start index].
-- At the end prints one line "BENCHJSON {...}" with counts and latency percentiles (µs).
local targets = {}
local method = "GET"
local body = nil
local idx = 0

init = function(args)
  for line in io.lines(args[1]) do
    if #line > 0 then targets[#targets + 1] = line end
  end
  method = args[2] or "GET"
  local size = tonumber(args[3] or "0")
  if size > 0 then body = string.rep("b", size) end
  idx = tonumber(args[4] or "0") % #targets
end

request = function()
  idx = idx % #targets + 1
  return wrk.format(method, targets[idx], nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,' ..
    '"mean":%.1f,"max":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
