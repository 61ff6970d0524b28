--[[
  Create or replace a job scheduler and its pending iteration, as Node bullmq's
  upsertJobScheduler does: the scheduler hash is rewritten, a pending iteration that has
  not started is replaced, and the new iteration job is created.

  KEYS[1] repeat          KEYS[2] delayed         KEYS[3] wait        KEYS[4] paused
  KEYS[5] meta            KEYS[6] prioritized     KEYS[7] marker      KEYS[8] id
  KEYS[9] events          KEYS[10] pc             KEYS[11] active

  ARGV[1] key prefix of the queue, "<prefix>:<queue>:"
  ARGV[2] scheduler id
  ARGV[3] next fire time in ms for pattern schedulers, "" for every schedulers
  ARGV[4] scheduler JSON: name, and as decimal strings when set: every, pattern, tz,
          limit, startDate, endDate, offset
  ARGV[5] template data JSON
  ARGV[6] template opts JSON, "" when empty
  ARGV[7] iteration opts JSON without "delay" and "jobId"
  ARGV[8] control JSON: priority (decimal string), lifo
  ARGV[9] now, ms
  ARGV[10] pause compatibility mode: "auto", "v6" or "v5"

  Returns {jobId, delay}; -10 when a pattern iteration with the same id exists; -11 when
  an every scheduler found no free slot within 32 intervals.
]]
-- @include scheduler
-- @include job_removal

local rcall = redis.call
local repeatKey = KEYS[1]
local prefix = ARGV[1]
local schedulerId = ARGV[2]
local scheduler = cjson.decode(ARGV[4])
local templateData = ARGV[5]
local templateOpts = ARGV[6]
local iterationOpts = ARGV[7]
local ctl = cjson.decode(ARGV[8])
local now = tonumber(ARGV[9])
local compat = ARGV[10]
local k = {delayed = KEYS[2], wait = KEYS[3], paused = KEYS[4], meta = KEYS[5],
  prioritized = KEYS[6], marker = KEYS[7], events = KEYS[9], pc = KEYS[10],
  active = KEYS[11]}

local schedulerKey = repeatKey .. ":" .. schedulerId
local maxEvents = getMaxEvents(k.meta)

local prevMillis = tonumber(rcall("ZSCORE", repeatKey, schedulerId))
local every = tonumber(scheduler["every"])
local nextMillis = tonumber(ARGV[3])
local offset = tonumber(scheduler["offset"]) or 0
local everyChanged = false

if every then
  local millis = prevMillis
  if prevMillis and tonumber(rcall("HGET", schedulerKey, "every")) ~= every then
    millis = nil
    everyChanged = true
  end
  nextMillis, offset = getEveryNextMillis(millis, every, now, offset, scheduler["startDate"])
end

-- Delete the pending iteration when it has not started: it is replaced below.
local function removePendingIteration(jobId)
  local jobKey = prefix .. jobId
  if rcall("EXISTS", jobKey) == 0 then
    return false
  end
  local removed = rcall("ZREM", k.delayed, jobId) == 1 or
    rcall("ZREM", k.prioritized, jobId) == 1 or
    rcall("LREM", k.wait, 1, jobId) == 1 or
    rcall("LREM", k.paused, 1, jobId) == 1
  if removed then
    removeJobHard(prefix, jobId, compat)
  end
  return removed
end

local removedPrev = false
if prevMillis then
  removedPrev = removePendingIteration("repeat:" .. schedulerId .. ":" .. prevMillis)
end
if removedPrev then
  if every and not everyChanged then
    nextMillis = prevMillis
  end
else
  scheduler["offset"] = tostring(offset)
end

local jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
if rcall("EXISTS", prefix .. jobId) == 1 then
  if not every then
    if not removedPrev then
      return -10
    end
  else
    local scans = 0
    repeat
      nextMillis = nextMillis + every
      jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
      scans = scans + 1
    until rcall("EXISTS", prefix .. jobId) == 0 or scans >= 32
    if rcall("EXISTS", prefix .. jobId) == 1 then
      return -11
    end
  end
end

local delay = math.max(nextMillis - now, 0)

-- Rewrite the scheduler hash, keeping its iteration count and, when this call gives none,
-- its stored offset.
local fields = {"name", scheduler["name"]}
for _, name in ipairs({"tz", "limit", "pattern", "startDate", "endDate", "every"}) do
  if scheduler[name] then
    table.insert(fields, name)
    table.insert(fields, scheduler[name])
  end
end
local storedOffset = scheduler["offset"] or rcall("HGET", schedulerKey, "offset")
if storedOffset then
  table.insert(fields, "offset")
  table.insert(fields, storedOffset)
end
if templateOpts ~= "" and templateOpts ~= "{}" then
  table.insert(fields, "opts")
  table.insert(fields, templateOpts)
end
if templateData ~= "{}" then
  table.insert(fields, "data")
  table.insert(fields, templateData)
end
table.insert(fields, "ic")
table.insert(fields, rcall("HGET", schedulerKey, "ic") or 1)

rcall("ZADD", repeatKey, nextMillis, schedulerId)
rcall("DEL", schedulerKey)
rcall("HSET", schedulerKey, unpack(fields))
rcall("INCR", KEYS[8])

addIterationJob(k, prefix .. jobId, jobId, scheduler["name"], templateData, iterationOpts,
  now, delay, schedulerId, ctl, compat, maxEvents)
return {jobId, delay}
