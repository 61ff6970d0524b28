-- @include marker

-- Add a job to the prioritized set with score priority * 2^32 + a counter, so lower
-- priority numbers run first and equal priorities run in insertion order.
local function pushPrioritized(markerKey, prioritizedKey, priority, jobId, pcKey,
    pausedOrMaxed)
  local counter = redis.call("INCR", pcKey)
  local score = tonumber(priority) * 0x100000000 + counter % 0x100000000
  redis.call("ZADD", prioritizedKey, score, jobId)
  markReady(markerKey, pausedOrMaxed)
end
