--[[
  Move an active job to delayed, for a retry with backoff or a manual delay: release its
  lock, record the failure fields, and score it at now + delay.
  KEYS[1] marker, KEYS[2] active, KEYS[3] prioritized, KEYS[4] delayed, KEYS[5] job,
  KEYS[6] events, KEYS[7] meta, KEYS[8] stalled, KEYS[9] wait, KEYS[10] limiter, KEYS[11] pc,
  KEYS[12] paused
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] now, ms
  ARGV[3] job id
  ARGV[4] lock token
  ARGV[5] delay, ms
  ARGV[6] "1" to leave attemptsMade unchanged (manual delay), "0" to count the attempt
  ARGV[7] fields to update, a JSON array of field, value strings, or ""
  ARGV[8] "1" to fetch the next job
  ARGV[9..13] fetch arguments (see move_to_active.lua)
  ARGV[14] pause compatibility mode
  Returns 0, a fetched job {fields, id, 0, 0}, or -1 (no job), -2 (lock missing),
  -3 (not active), -6 (lock held by another token).
]]
-- @include fetch_job
-- @include lock_release
-- @include max_events
-- @include delayed_score

local jobKey = KEYS[5]
local jobId = ARGV[3]
local now = ARGV[2]
local k = {wait = KEYS[9], active = KEYS[2], prioritized = KEYS[3], events = KEYS[6],
  limiter = KEYS[10], delayed = KEYS[4], paused = KEYS[12], meta = KEYS[7], pc = KEYS[11],
  marker = KEYS[1], prefix = ARGV[1]}

if redis.call("EXISTS", jobKey) == 0 then
  return -1
end
local code = releaseJobLock(jobKey, KEYS[8], ARGV[4], jobId)
if code < 0 then
  return code
end
setJobFields(jobKey, ARGV[7])
if redis.call("LREM", k.active, -1, jobId) < 1 then
  return -3
end

local due = tonumber(now) + tonumber(ARGV[5])
local score = delayedScore(k.delayed, due)
if ARGV[6] == "0" then
  redis.call("HINCRBY", jobKey, "atm", 1)
end
redis.call("HSET", jobKey, "delay", ARGV[5])
redis.call("ZADD", k.delayed, score, jobId)
local maxEvents = getMaxEvents(k.meta)
redis.call("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "delayed",
  "jobId", jobId, "delay", due)

if ARGV[8] == "1" then
  local result = fetchJob(k, now, fetchArgs(9), ARGV[14])
  if result and type(result[1]) == "table" then
    return result
  end
end
markNextDelayed(k.marker, k.delayed)
return 0
