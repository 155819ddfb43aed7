-- DELETE /user, each request with a token of its own (a deleted user's token is dead).
-- wrk -s delete.lua URL -- TOKENS_FILE THREADS
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local tokens = {}
local idx = 0
function init(args)
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if line ~= "" and i % threads == (tid - 1) then
      tokens[#tokens + 1] = line
    end
    i = i + 1
  end
end

function request()
  idx = idx + 1
  if idx > #tokens then
    -- Out of tokens: stop this thread (the request below is never sent usefully).
    wrk.thread:stop()
    idx = #tokens
  end
  return wrk.format("DELETE", nil, { ["Authorization"] = "Bearer " .. tokens[idx] })
end

function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests":%d,"non2xx":%d,"socket_errors":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
