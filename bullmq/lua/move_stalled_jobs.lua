--[[
  Recover jobs whose worker stopped renewing their lock. A job is stalled when it was in
  the stalled set (active at the previous check) and its lock is gone; it returns to the
  front of wait with its stall counter raised. Beyond maxStalledCount stalls it gets the
  deferred failure "job stalled more than allowable limit", so the next worker fails it.
  Runs at most once per stalledInterval across all workers (key stalled-check).
  KEYS[1] stalled, KEYS[2] wait, KEYS[3] active, KEYS[4] stalled-check, KEYS[5] meta,
  KEYS[6] paused, KEYS[7] marker, KEYS[8] events, KEYS[9] repeat
  ARGV[1] maxStalledCount
  ARGV[2] key prefix "<prefix>:<queue>:"
  ARGV[3] now, ms
  ARGV[4] stalledInterval, ms
  ARGV[5] pause compatibility mode
  Returns the ids of the recovered jobs.
]]
-- @include paused
-- @include marker
-- @include max_events

local stalledKey, activeKey, eventsKey = KEYS[1], KEYS[3], KEYS[8]
local maxStalled = tonumber(ARGV[1])
local prefix = ARGV[2]

if redis.call("EXISTS", KEYS[4]) == 1 then
  return {}
end
redis.call("SET", KEYS[4], ARGV[3], "PX", ARGV[4])
redis.call("XTRIM", eventsKey, "MAXLEN", "~", getMaxEvents(KEYS[5]))

local recovered = {}
local candidates = redis.call("SMEMBERS", stalledKey)
if #candidates > 0 then
  redis.call("DEL", stalledKey)
end
for _, id in ipairs(candidates) do
  if string.sub(id, 1, 2) == "0:" then
    redis.call("LREM", activeKey, 1, id)
  else
    local jobKey = prefix .. id
    if redis.call("EXISTS", jobKey .. ":lock") == 0
        and redis.call("LREM", activeKey, 1, id) > 0 then
      local stalls = redis.call("HINCRBY", jobKey, "stc", 1)

      -- A job whose scheduler still exists gets no deferred failure, however often it stalls.
      local schedulerId = redis.call("HGET", jobKey, "rjk")
      local fromScheduler = false
      if schedulerId then
        fromScheduler = redis.call("EXISTS", KEYS[9] .. ":" .. schedulerId) == 1
          or redis.call("ZSCORE", KEYS[9], schedulerId) ~= false
      end
      if stalls > maxStalled and not fromScheduler then
        redis.call("HSET", jobKey, "defa", "job stalled more than allowable limit")
      end

      local target, pausedOrMaxed = getTargetList(KEYS[5], activeKey, KEYS[2], KEYS[6],
        ARGV[5])
      redis.call("RPUSH", target, id)
      markReady(KEYS[7], pausedOrMaxed)
      redis.call("XADD", eventsKey, "*", "event", "waiting", "jobId", id, "prev", "active")
      redis.call("XADD", eventsKey, "*", "event", "stalled", "jobId", id)
      table.insert(recovered, id)
    end
  end
end

local active = redis.call("LRANGE", activeKey, 0, -1)
for from = 1, #active, 7000 do
  redis.call("SADD", stalledKey, unpack(active, from, math.min(from + 6999, #active)))
end
return recovered
