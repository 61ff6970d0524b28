--[[
  Create the next iteration of a job scheduler when a worker starts its current one, as
  Node bullmq workers do before running a scheduler's job. Nothing happens when the
  scheduler was removed or when the started job is not the scheduler's latest iteration
  (a retry or a duplicate), so each iteration produces at most one successor.

  A scheduler hash without "data" (a legacy repeatable job of Node bullmq 5.x) gets the
  started job's data, as 5.x workers write it, so later iterations keep the payload.

  KEYS[1] repeat          KEYS[2] delayed         KEYS[3] wait        KEYS[4] paused
  KEYS[5] meta            KEYS[6] prioritized     KEYS[7] marker      KEYS[8] id
  KEYS[9] events          KEYS[10] pc             KEYS[11] active

  ARGV[1] key prefix of the queue, "<prefix>:<queue>:"
  ARGV[2] scheduler id
  ARGV[3] next fire time in ms for pattern schedulers, "" for every schedulers
  ARGV[4] data JSON of the started job
  ARGV[5] iteration opts JSON without "delay" and "jobId"
  ARGV[6] every in ms from the started job's repeat options, "" when absent
  ARGV[7] control JSON: priority (decimal string), lifo
  ARGV[8] now, ms
  ARGV[9] id of the started job
  ARGV[10] pause compatibility mode: "auto", "v6" or "v5"

  Returns the id of the new iteration, or nil when none was created.
]]
-- @include scheduler

local rcall = redis.call
local repeatKey = KEYS[1]
local prefix = ARGV[1]
local schedulerId = ARGV[2]
local now = tonumber(ARGV[8])
local k = {delayed = KEYS[2], wait = KEYS[3], paused = KEYS[4], meta = KEYS[5],
  prioritized = KEYS[6], marker = KEYS[7], events = KEYS[9], pc = KEYS[10],
  active = KEYS[11]}

local prevMillis = tonumber(rcall("ZSCORE", repeatKey, schedulerId))
if not prevMillis then
  return nil
end

local schedulerKey = repeatKey .. ":" .. schedulerId
local attrs = rcall("HMGET", schedulerKey, "name", "data", "every", "startDate", "offset")
local every = tonumber(attrs[3]) or tonumber(ARGV[6])
local nextMillis = tonumber(ARGV[3])
if every then
  nextMillis = getEveryNextMillis(prevMillis, every, now, attrs[5] or 0, attrs[4])
end

if ARGV[9] ~= "repeat:" .. schedulerId .. ":" .. prevMillis then
  return nil
end

local maxEvents = getMaxEvents(k.meta)
local jobId = "repeat:" .. schedulerId .. ":" .. nextMillis
if rcall("EXISTS", prefix .. jobId) == 1 then
  rcall("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "duplicated",
    "jobId", jobId)
  return nil
end

rcall("ZADD", repeatKey, nextMillis, schedulerId)
rcall("HINCRBY", schedulerKey, "ic", 1)
rcall("INCR", KEYS[8])

local data = attrs[2]
if not data then
  data = ARGV[4]
  if data ~= "{}" then
    rcall("HSET", schedulerKey, "data", data)
  end
end

addIterationJob(k, prefix .. jobId, jobId, attrs[1], data, ARGV[5], now,
  math.max(nextMillis - now, 0), schedulerId, cjson.decode(ARGV[7]), ARGV[10], maxEvents)
return jobId
