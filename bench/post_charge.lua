-- wrk script: POST a resident charge with a unique reference per request.
-- Reads BODY_TEMPLATE (with __REF__), TOKEN and REF_PREFIX (default BENCH: loads against the
-- same database use their own, so no reference of one load repeats another's) from the environment.
local template = os.getenv("BODY_TEMPLATE")
local token = os.getenv("TOKEN")
local prefix = os.getenv("REF_PREFIX") or "BENCH"
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local ref = string.format("%s-%d-%d-%d", prefix, os.time(), tid, counter)
  local body = string.gsub(template, "__REF__", ref)
  return wrk.format("POST", "/v1/resident-charges/resman/",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"seconds\": %f, \"non2xx\": %d, \"errors\": %d, \"p50_ms\": %f, \"p99_ms\": %f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
