--[[
  Delete the jobs of one state that are older than a cutoff, at most limit of them, and
  write one "cleaned" event with the count. Pending scheduler iterations and, in active,
  locked jobs are kept. A job's age comes from finishedOn in completed and failed (the
  set's score); processedOn, else timestamp, in delayed; timestamp in prioritized; and the
  first present of finishedOn, processedOn, timestamp in the lists.
  KEYS[1] the state's set or list, KEYS[2] events, KEYS[3] repeat
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] cutoff, ms: jobs at or before it are deleted
  ARGV[3] limit, 0 for no limit. Lists are searched only in their last limit entries (the
          oldest), and delayed and prioritized in their first limit members.
  ARGV[4] state: "completed", "failed", "delayed", "prioritized", "wait", "paused" or
          "active"
  ARGV[5] pause compatibility mode
  Returns the deleted ids.
]]
-- @include job_removal

local stateKey = KEYS[1]
local repeatKey = KEYS[3]
local prefix = ARGV[1]
local cutoff = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local state = ARGV[4]
local compat = ARGV[5]

-- Return the first of the job's timestamp fields that is set.
local function jobTime(jobKey, fields)
  for _, value in ipairs(redis.call("HMGET", jobKey, unpack(fields))) do
    if value then
      return tonumber(value)
    end
  end
end

local function isOldEnough(jobKey, fields)
  local t = jobTime(jobKey, fields)
  return t == nil or t <= cutoff
end

local function cleanFromList(checkLock)
  local ids
  if limit > 0 then
    ids = redis.call("LRANGE", stateKey, -limit, -1)
  else
    ids = redis.call("LRANGE", stateKey, 0, -1)
  end

  local deleted = {}
  local fields = {"finishedOn", "processedOn", "timestamp"}
  for i, id in ipairs(ids) do
    if limit > 0 and #deleted >= limit then
      break
    end
    local jobKey = prefix .. id
    if (not checkLock or redis.call("EXISTS", jobKey .. ":lock") == 0)
        and not isSchedulerIteration(id, jobKey, repeatKey)
        and isOldEnough(jobKey, fields) then
      -- Mark the entry by position, because an id could appear twice; the marks are
      -- removed at the end.
      redis.call("LSET", stateKey, i - 1 - #ids, "")
      removeJobHard(prefix, id, compat)
      deleted[#deleted + 1] = id
    end
  end
  redis.call("LREM", stateKey, 0, "")
  return deleted
end

local function cleanFromSet(maxScore, fields, finished)
  local ids
  if limit > 0 then
    ids = redis.call("ZRANGEBYSCORE", stateKey, 0, maxScore, "LIMIT", 0, limit)
  else
    ids = redis.call("ZRANGEBYSCORE", stateKey, 0, maxScore)
  end

  local deleted = {}
  for _, id in ipairs(ids) do
    local jobKey = prefix .. id
    if finished or (not isSchedulerIteration(id, jobKey, repeatKey)
        and isOldEnough(jobKey, fields)) then
      removeJobHard(prefix, id, compat)
      deleted[#deleted + 1] = id
    end
  end
  for from = 1, #deleted, 7000 do
    redis.call("ZREM", stateKey, unpack(deleted, from, math.min(from + 6999, #deleted)))
  end
  return deleted
end

local deleted
if state == "active" then
  deleted = cleanFromList(true)
elseif state == "wait" or state == "paused" then
  deleted = cleanFromList(false)
elseif state == "delayed" then
  deleted = cleanFromSet("+inf", {"processedOn", "timestamp"}, false)
elseif state == "prioritized" then
  deleted = cleanFromSet("+inf", {"timestamp"}, false)
else
  deleted = cleanFromSet(cutoff, nil, true)
end

redis.call("XADD", KEYS[2], "*", "event", "cleaned", "count", #deleted)
return deleted
