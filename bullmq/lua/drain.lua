--[[
  Delete every job waiting to run: wait, paused and prioritized, and delayed when asked.
  Pending scheduler iterations stay, so schedulers keep running. No event is written.
  KEYS[1] wait, KEYS[2] paused, KEYS[3] delayed, KEYS[4] prioritized, KEYS[5] repeat
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] "1" to delete delayed jobs too
  ARGV[3] pause compatibility mode
  Returns the number of jobs deleted from each of wait, paused, delayed and prioritized,
  in that order.
]]
-- @include job_removal

local prefix = ARGV[1]
local compat = ARGV[3]
local keep = schedulerIterations(KEYS[5])

-- Delete the jobs of a list and leave only the kept ids in it, in their order. Returns
-- the number of jobs deleted.
local function drainList(listKey)
  local kept = {}
  local deleted = 0
  for _, id in ipairs(redis.call("LRANGE", listKey, 0, -1)) do
    if keep[id] then
      kept[#kept + 1] = id
    else
      removeJobHard(prefix, id, compat)
      deleted = deleted + 1
    end
  end
  redis.call("DEL", listKey)
  for from = 1, #kept, 7000 do
    redis.call("RPUSH", listKey, unpack(kept, from, math.min(from + 6999, #kept)))
  end
  return deleted
end

-- Delete the jobs of a sorted set except the kept ids. Returns the number of jobs deleted.
local function drainSet(setKey)
  local removed = {}
  for _, id in ipairs(redis.call("ZRANGE", setKey, 0, -1)) do
    if not keep[id] then
      removeJobHard(prefix, id, compat)
      removed[#removed + 1] = id
    end
  end
  for from = 1, #removed, 7000 do
    redis.call("ZREM", setKey, unpack(removed, from, math.min(from + 6999, #removed)))
  end
  return #removed
end

local waitDeleted = drainList(KEYS[1])
local pausedDeleted = drainList(KEYS[2])
local delayedDeleted = 0
if ARGV[2] == "1" then
  delayedDeleted = drainSet(KEYS[3])
end
local prioritizedDeleted = drainSet(KEYS[4])
return {waitDeleted, pausedDeleted, delayedDeleted, prioritizedDeleted}
