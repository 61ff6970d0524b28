--[[
  Delete a paused queue and everything in it, at most count jobs per call, in the order
  active (with their locks), delayed, job schedulers, completed, wait, paused,
  prioritized, failed, waiting-children. Node bullmq 6.7.6 deletes the same keys except
  waiting-children and the limiter, which it leaves behind.
  KEYS[1] meta, KEYS[2] active, KEYS[3] delayed, KEYS[4] repeat, KEYS[5] completed,
  KEYS[6] wait, KEYS[7] paused, KEYS[8] prioritized, KEYS[9] failed,
  KEYS[10] waiting-children, KEYS[11...] the queue-level keys deleted at the end: events,
  delay, stalled-check, stalled, id, pc, marker, limiter, metrics hashes and lists, meta
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] maximum number of jobs to delete in this call
  ARGV[3] "1" to delete active jobs too
  ARGV[4] pause compatibility mode
  Returns 0 when the queue is gone, 1 when jobs remain (call again), -1 when the queue is
  not paused, -2 when it has active jobs and ARGV[3] is not "1".
]]
-- @include job_removal

local prefix = ARGV[1]
local budget = tonumber(ARGV[2])
local compat = ARGV[4]

if redis.call("HEXISTS", KEYS[1], "paused") == 0 then
  return -1
end

local active = redis.call("LRANGE", KEYS[2], 0, budget - 1)
if #active > 0 and ARGV[3] ~= "1" then
  return -2
end
for _, id in ipairs(active) do
  redis.call("DEL", prefix .. id .. ":lock")
  removeJobHard(prefix, id, compat)
end
redis.call("LTRIM", KEYS[2], #active, -1)
budget = budget - #active

local function removeFromSet(setKey)
  if budget <= 0 then
    return
  end
  local ids = redis.call("ZRANGE", setKey, 0, budget - 1)
  for _, id in ipairs(ids) do
    removeJobHard(prefix, id, compat)
  end
  for from = 1, #ids, 7000 do
    redis.call("ZREM", setKey, unpack(ids, from, math.min(from + 6999, #ids)))
  end
  budget = budget - #ids
end

local function removeFromList(listKey)
  if budget <= 0 then
    return
  end
  local ids = redis.call("LRANGE", listKey, 0, budget - 1)
  for _, id in ipairs(ids) do
    removeJobHard(prefix, id, compat)
  end
  redis.call("LTRIM", listKey, #ids, -1)
  budget = budget - #ids
end

local function removeSchedulers(repeatKey)
  if budget <= 0 then
    return
  end
  local ids = redis.call("ZRANGE", repeatKey, 0, budget - 1)
  for _, id in ipairs(ids) do
    redis.call("DEL", repeatKey .. ":" .. id)
  end
  for from = 1, #ids, 7000 do
    redis.call("ZREM", repeatKey, unpack(ids, from, math.min(from + 6999, #ids)))
  end
  budget = budget - #ids
end

removeFromSet(KEYS[3])
removeSchedulers(KEYS[4])
removeFromSet(KEYS[5])
removeFromList(KEYS[6])
removeFromList(KEYS[7])
removeFromSet(KEYS[8])
removeFromSet(KEYS[9])
removeFromSet(KEYS[10])
if budget <= 0 then
  return 1
end

for i = 11, #KEYS do
  redis.call("DEL", KEYS[i])
end
return 0
