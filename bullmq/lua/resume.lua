--[[
  Resume a queue as Node bullmq 6.x does: delete meta.paused and move the jobs of a 5.x-style
  paused list back to wait, at most 7000 per call, so that they keep their order and run
  before the jobs already in wait. The caller repeats the call while it returns a positive
  count, and asks for the "resumed" event on the first call only.

  KEYS[1] paused   KEYS[2] wait   KEYS[3] meta   KEYS[4] prioritized   KEYS[5] events
  KEYS[6] delayed  KEYS[7] marker
  ARGV[1] "1" to write the "resumed" event

  Returns the number of jobs still in the paused list.
]]
local rcall = redis.call

local pausedKey = KEYS[1]
local waitKey = KEYS[2]
local metaKey = KEYS[3]
local prioritizedKey = KEYS[4]
local eventsKey = KEYS[5]
local delayedKey = KEYS[6]
local markerKey = KEYS[7]

-- @include marker

local remaining = 0

rcall("HDEL", metaKey, "paused")

if rcall("EXISTS", pausedKey) == 1 then
  if rcall("EXISTS", waitKey) == 0 then
    rcall("RENAME", pausedKey, waitKey)
  else
    -- The head of the paused list contains its newest jobs. Appending them at the tail of
    -- wait, where workers pop, keeps the batch in order. Later batches contain older jobs
    -- and land nearer the tail, so the overall order is kept too.
    local ids = rcall("LRANGE", pausedKey, 0, 6999)
    rcall("RPUSH", waitKey, unpack(ids))
    rcall("LTRIM", pausedKey, #ids, -1)
    remaining = rcall("LLEN", pausedKey)
  end
end

if rcall("LLEN", waitKey) + rcall("ZCARD", prioritizedKey) > 0 then
  rcall("ZADD", markerKey, 0, "0")
else
  markNextDelayed(markerKey, delayedKey)
end

if ARGV[1] == "1" then
  rcall("XADD", eventsKey, "*", "event", "resumed")
end
return remaining
