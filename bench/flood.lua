-- wrk script: a flood of unauthenticated writes, each with a forged token and its own
-- Idempotency-Key, and a 1 KB body (what an attacker would send to fill the key store).
local counter = 0
local tid = 0
local started = 0

function setup(thread)
  started = started + 1
  thread:set("tid", started)
end

local body = '{"integration_id": "x", "description": "' .. string.rep("a", 1000) .. '"}'

function request()
  counter = counter + 1
  local n = string.format("%d-%d", tid, counter)
  return wrk.format("POST", "/v1/resident-charges/resman/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer pb_forged" .. n,
    ["Idempotency-Key"] = "flood-" .. n,
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"seconds\": %f, \"non2xx\": %d, \"errors\": %d, \"p50_ms\": %f, \"p99_ms\": %f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
