-- `make bench`: count response statuses in every wrk thread and, when the run is done, print
-- one line of figures for bench/tools.py: "wrk-report {json}".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  -- Global, so that done() can read it back with thread:get().
  statuses = {}
  -- With a think time (ms), each connection is a client that waits between its requests a
  -- time drawn from an exponential distribution of that mean: together the clients' requests
  -- arrive as independent users' do (a Poisson process), bunched at times, never in step.
  think_ms = tonumber(args[1])
  -- With a file of request paths, each request asks for one of them, picked at random.
  paths = nil
  if args[2] then
    paths = {}
    for line in io.lines(args[2]) do
      table.insert(paths, line)
    end
  end
end

function request()
  if paths then
    return wrk.format(nil, paths[math.random(#paths)])
  end
  return wrk.request()
end

function delay()
  if think_ms and think_ms > 0 then
    return math.floor(-think_ms * math.log(1 - math.random()))
  end
  return 0
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts, parts, bad = {}, {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
    if status < 200 or status >= 400 then
      bad = bad + n
    end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'wrk-report {"requests": %d, "duration_s": %.3f, "rps": %.1f, '
      .. '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "errors": %d, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
      .. '"statuses": {%s}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    socket_errors + bad, e.connect, e.read, e.write, e.timeout, table.concat(parts, ", ")))
end
