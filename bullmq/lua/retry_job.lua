--[[
  Retry an active job at once (no backoff delay): release its lock, record the failure
  fields, count the attempt and push the job back to the ready states.
  KEYS[1] active, KEYS[2] wait, KEYS[3] paused, KEYS[4] job, KEYS[5] meta, KEYS[6] events,
  KEYS[7] delayed, KEYS[8] prioritized, KEYS[9] pc, KEYS[10] marker, KEYS[11] stalled
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] now, ms
  ARGV[3] push command for priority 0: "LPUSH" (FIFO) or "RPUSH" (LIFO)
  ARGV[4] job id
  ARGV[5] lock token
  ARGV[6] fields to update, a JSON array of field, value strings, or ""
  ARGV[7] pause compatibility mode
  Returns 0, or -1 (no job), -2 (lock missing), -3 (not active), -6 (lock held by another
  token).
]]
-- @include fetch_job
-- @include lock_release
-- @include max_events

local jobKey = KEYS[4]
local jobId = ARGV[4]
local compat = ARGV[7]
local k = {wait = KEYS[2], active = KEYS[1], prioritized = KEYS[8], events = KEYS[6],
  delayed = KEYS[7], paused = KEYS[3], meta = KEYS[5], pc = KEYS[9], marker = KEYS[10],
  prefix = ARGV[1]}

promoteDueJobs(k, ARGV[2], compat)

if redis.call("EXISTS", jobKey) == 0 then
  return -1
end
local code = releaseJobLock(jobKey, KEYS[11], ARGV[5], jobId)
if code < 0 then
  return code
end
setJobFields(jobKey, ARGV[6])
if redis.call("LREM", k.active, -1, jobId) < 1 then
  return -3
end

local priority = tonumber(redis.call("HGET", jobKey, "priority")) or 0
local target, pausedOrMaxed = getTargetList(k.meta, k.active, k.wait, k.paused, compat)
if priority == 0 then
  redis.call(ARGV[3], target, jobId)
  markReady(k.marker, pausedOrMaxed)
else
  pushPrioritized(k.marker, k.prioritized, priority, jobId, k.pc, pausedOrMaxed)
end
redis.call("HINCRBY", jobKey, "atm", 1)

local maxEvents = getMaxEvents(k.meta)
redis.call("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
  "jobId", jobId, "prev", "active")
return 0
