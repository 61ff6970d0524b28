--[[
  Run a completed or failed job again: take it out of its finished set, clear its finish
  fields, queue it like a new job (priority 0 to wait, or prioritized), and put it back
  among its parent's pending dependencies.
  KEYS[1] job, KEYS[2] events, KEYS[3] completed or failed set, KEYS[4] wait, KEYS[5] meta,
  KEYS[6] active, KEYS[7] marker, KEYS[8] prioritized, KEYS[9] pc, KEYS[10] paused
  ARGV[1] job id
  ARGV[2] push command for priority 0: "LPUSH" (FIFO) or "RPUSH" (LIFO)
  ARGV[3] result field to clear: "returnvalue" or "failedReason"
  ARGV[4] state: "completed" or "failed"
  ARGV[5] "1" to reset attemptsMade ("atm")
  ARGV[6] "1" to reset attemptsStarted ("ats")
  ARGV[7] pause compatibility mode
  Returns 1, -1 when the job does not exist, -3 when it is not in the given state.
]]
-- @include paused
-- @include priority
-- @include marker
-- @include max_events
-- @include retry_finished

local jobKey = KEYS[1]
local jobId = ARGV[1]
local state = ARGV[4]

if redis.call("EXISTS", jobKey) == 0 then
  return -1
end
if redis.call("ZREM", KEYS[3], jobId) == 0 then
  return -3
end

local fields = {"finishedOn", "processedOn", ARGV[3]}
if ARGV[5] == "1" then
  fields[#fields + 1] = "atm"
end
if ARGV[6] == "1" then
  fields[#fields + 1] = "ats"
end
redis.call("HDEL", jobKey, unpack(fields))

local priority = tonumber(redis.call("HGET", jobKey, "priority")) or 0
local target, pausedOrMaxed = getTargetList(KEYS[5], KEYS[6], KEYS[4], KEYS[10], ARGV[7])
if priority == 0 then
  redis.call(ARGV[2], target, jobId)
  markReady(KEYS[7], pausedOrMaxed)
else
  pushPrioritized(KEYS[7], KEYS[8], priority, jobId, KEYS[9], pausedOrMaxed)
end
moveChildBackToParent(jobKey, state)

local maxEvents = getMaxEvents(KEYS[5])
redis.call("XADD", KEYS[2], "MAXLEN", "~", maxEvents, "*", "event", "waiting",
  "jobId", jobId, "prev", state)
return 1
