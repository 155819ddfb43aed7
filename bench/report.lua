-- Plain load (GET), with a machine-readable summary line.
-- wrk -s report.lua URL [-- AUTH_HEADER_VALUE]
function init(args)
  if args[1] then
    wrk.headers["Authorization"] = args[1]
  end
end

function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests":%d,"non2xx":%d,"socket_errors":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
