-- wrk script of bench/bench_apply.py: bench/wrk_cohort.lua's learners (each registers or applies once, with their own
-- bearer token; see that script), with two additions for latency figures:
-- * a connection whose thread has no learner left waits 200 ms before each idle request, so that few idle requests
--   (GET /health/live) are counted among the learners' (bench_apply.py prints how many were);
-- * at the end, wrk's count of requests and its latency percentiles (microseconds) are written to the file named by
--   the environment variable WRK_LATENCY_FILE.
--
--   WRK_LATENCY_FILE=out wrk -t2 -c32 -d600s -s bench/wrk_apply.lua URL -- <tokens file> <register|apply> <offering> <threads>

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "wrk_cohort.lua")

function delay()
  if queue ~= nil and sent >= #queue then return 200 end
  return 0
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_LATENCY_FILE"), "w")
  out:write(string.format("%d %d %d %d %d %d\n", summary.requests, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.timeout + summary.errors.connect + summary.errors.read
    + summary.errors.write))
  out:close()
end
