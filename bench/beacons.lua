-- wrk script for bench/run: varied, realistic beacons.
--
--   wrk -t2 -c64 -d60s --latency -s bench/beacons.lua http://127.0.0.1:PORT -- beacons.tsv
--
-- beacons.tsv (written by `e2e_load gen`) holds one beacon a line:
-- client IP <TAB> user agent <TAB> JSON body. Each thread formats every line
-- once with wrk.format (so the load generator spends its CPU on sockets, not
-- on string building — it shares the machine with the server under test),
-- then request() picks the next one with a deterministic PRNG seeded by the
-- thread number. done() prints one machine-readable line:
--   WRK_RESULT {"requests":..,"rps":..,"p50_us":..,"p99_us":..,...}

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_id", counter)
   table.insert(threads, thread)
end

local requests = {}
local state = 1

function init(args)
   local path = args[1] or "bench/results-raw/beacons.tsv"
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      local ip, ua, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
      if ip then
         requests[#requests + 1] = wrk.format("POST", "/api/event", {
            ["Content-Type"] = "text/plain",
            ["User-Agent"] = ua,
            ["X-Forwarded-For"] = ip,
         }, body)
      end
   end
   file:close()
   assert(#requests > 0, "no beacons in " .. path)
   state = (thread_id or 1) * 7919
end

function request()
   -- 31-bit LCG (glibc constants): deterministic per thread, no math.random.
   state = (state * 1103515245 + 12345) % 2147483648
   return requests[(state % #requests) + 1]
end

function done(summary, latency, _)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests":%d,"seconds":%.3f,"rps":%.1f,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%.1f,"max_us":%d,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.mean, latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
