-- wrk script of bench/bench_cohort.py: each learner of a cohort registers (POST /learners) or applies (POST /applications),
-- once, with their own bearer token. The learners are shared out among wrk's threads; a thread stops when each of its
-- requests has been answered and writes how it went to <tokens>.<phase>.<thread>.done, which the benchmark waits for.
--
--   wrk -t2 -c32 -d600s -s bench/wrk_cohort.lua http://127.0.0.1:PORT -- <tokens file> <register|apply> <offering id> <threads>

local threads_started = 0

function setup(thread)
  thread:set("number", threads_started)
  threads_started = threads_started + 1
end

function init(args)
  local file, threads = args[1], tonumber(args[4])
  phase, offering = args[2], args[3]
  marker = file .. "." .. phase .. "." .. number .. ".done"
  queue, sent, answered, created, refused, finished = {}, 0, 0, 0, 0, false
  last_refusal = ""
  local line_number = 0
  for line in io.lines(file) do
    if line_number % threads == number then
      local token, language = line:match("([^\t]+)\t([^\t]+)")
      local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
      if phase == "register" then
        queue[#queue + 1] = wrk.format("POST", "/learners", headers, '{"preferred_language":"' .. language .. '"}')
      else
        queue[#queue + 1] = wrk.format("POST", "/applications", headers, '{"offering_id":"' .. offering .. '"}')
      end
    end
    line_number = line_number + 1
  end
  -- What a connection sends once the queue is empty, until the thread stops: cheap, and told apart by its 200.
  idle = wrk.format("GET", "/health/live")
  -- wrk asks the first thread for one request right after init, only to check it, and never sends it.
  checked = number ~= 0
end

local function finish()
  if finished then return end
  finished = true
  local out = io.open(marker, "w")
  out:write(created .. " " .. refused .. " " .. last_refusal:gsub("\n", " "):sub(1, 300) .. "\n")
  out:close()
  wrk.thread:stop()
end

function request()
  if not checked then
    checked = true
    return idle
  end
  if sent < #queue then
    sent = sent + 1
    return queue[sent]
  end
  if #queue == 0 then finish() end
  return idle
end

function response(status, headers, body)
  if status == 200 then return end  -- the idle request
  if status == 201 or status == 202 then
    created = created + 1
  else
    refused = refused + 1
    last_refusal = status .. " " .. body
  end
  if created + refused >= #queue then finish() end
end
