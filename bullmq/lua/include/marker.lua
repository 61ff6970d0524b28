-- Markers wake blocked workers: member "0" (score 0) means a job is ready now, member "1"
-- carries the due time in ms of the earliest delayed job.
local function markReady(markerKey, pausedOrMaxed)
  if not pausedOrMaxed then
    redis.call("ZADD", markerKey, 0, "0")
  end
end

local function earliestDelayedDue(delayedKey)
  local first = redis.call("ZRANGE", delayedKey, 0, 0, "WITHSCORES")
  if #first > 0 then
    return tonumber(first[2]) / 0x1000
  end
end

local function markNextDelayed(markerKey, delayedKey)
  local nextTimestamp = earliestDelayedDue(delayedKey)
  if nextTimestamp ~= nil then
    redis.call("ZADD", markerKey, nextTimestamp, "1")
  end
end
