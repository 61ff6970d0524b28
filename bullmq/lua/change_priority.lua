--[[
  Change a job's priority. A job waiting to run (wait, the 5.x paused list, or
  prioritized) is queued again with the new priority: priority 0 at the back of the line,
  or the front with lifo; a positive priority after the jobs of that priority, or before
  them with lifo. Jobs in other states only get the new "priority" field, used when they
  next become ready. No event is written, as in Node.
  KEYS[1] wait, KEYS[2] paused, KEYS[3] meta, KEYS[4] prioritized, KEYS[5] active,
  KEYS[6] pc, KEYS[7] marker, KEYS[8] job
  ARGV[1] priority
  ARGV[2] job id
  ARGV[3] "1" for lifo
  ARGV[4] pause compatibility mode
  Returns 0, or -1 when the job does not exist.
]]
-- @include paused
-- @include priority
-- @include marker

local jobId = ARGV[2]
local priority = tonumber(ARGV[1])
local lifo = ARGV[3] == "1"

if redis.call("EXISTS", KEYS[8]) == 0 then
  return -1
end

if redis.call("ZREM", KEYS[4], jobId) > 0 or redis.call("LREM", KEYS[1], -1, jobId) > 0
    or redis.call("LREM", KEYS[2], -1, jobId) > 0 then
  local target, pausedOrMaxed = getTargetList(KEYS[3], KEYS[5], KEYS[1], KEYS[2], ARGV[4])
  if priority == 0 then
    redis.call(lifo and "RPUSH" or "LPUSH", target, jobId)
    markReady(KEYS[7], pausedOrMaxed)
  elseif lifo then
    -- Score priority * 2^32 with no counter puts the job ahead of its priority peers.
    redis.call("ZADD", KEYS[4], priority * 0x100000000, jobId)
  else
    pushPrioritized(KEYS[7], KEYS[4], priority, jobId, KEYS[6], pausedOrMaxed)
  end
end

redis.call("HSET", KEYS[8], "priority", priority)
return 0
