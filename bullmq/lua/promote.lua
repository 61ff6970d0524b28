--[[
  Move a delayed job to the ready states now: priority 0 to the back of the wait list (the
  paused list during a 5.x-style pause), others to prioritized. Its "delay" becomes 0.
  KEYS[1] delayed, KEYS[2] wait, KEYS[3] paused, KEYS[4] meta, KEYS[5] prioritized,
  KEYS[6] active, KEYS[7] pc, KEYS[8] events, KEYS[9] marker, KEYS[10] job
  ARGV[1] job id
  ARGV[2] pause compatibility mode
  Returns 0, or -3 when the job is not delayed.
]]
-- @include paused
-- @include priority
-- @include marker

local jobId = ARGV[1]

if redis.call("ZREM", KEYS[1], jobId) == 0 then
  return -3
end

-- A wait list head starting with "0:" is a marker written by bullmq before 5.0.
local head = redis.call("LINDEX", KEYS[2], 0)
if head and string.sub(head, 1, 2) == "0:" then
  redis.call("LPOP", KEYS[2])
end

local priority = tonumber(redis.call("HGET", KEYS[10], "priority")) or 0
local target, pausedOrMaxed = getTargetList(KEYS[4], KEYS[6], KEYS[2], KEYS[3], ARGV[2])
if priority == 0 then
  redis.call("LPUSH", target, jobId)
  markReady(KEYS[9], pausedOrMaxed)
else
  pushPrioritized(KEYS[9], KEYS[5], priority, jobId, KEYS[7], pausedOrMaxed)
end

redis.call("XADD", KEYS[8], "*", "event", "waiting", "jobId", jobId, "prev", "delayed")
redis.call("HSET", KEYS[10], "delay", 0)
return 0
