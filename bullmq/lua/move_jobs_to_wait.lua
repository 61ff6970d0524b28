--[[
  Move up to count jobs of a set to the back of the wait list (the paused list during a
  5.x-style pause), ignoring their priority, as Node's retryJobs and promoteJobs do.
  Completed and failed jobs finished at or before maxScore lose their finish fields and
  go back among their parent's pending dependencies; delayed jobs keep every field,
  including "delay".
  KEYS[1] events, KEYS[2] the completed, failed or delayed set, KEYS[3] wait,
  KEYS[4] paused, KEYS[5] meta, KEYS[6] active, KEYS[7] marker
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] count
  ARGV[3] maximum score: a finish time in ms, or "+inf"
  ARGV[4] state: "completed", "failed" or "delayed"
  ARGV[5] pause compatibility mode
  Returns 1 when count jobs were moved (more may remain), else 0.
]]
-- @include paused
-- @include marker
-- @include max_events
-- @include retry_finished

local prefix = ARGV[1]
local count = tonumber(ARGV[2])
local state = ARGV[4]

local ids = redis.call("ZRANGEBYSCORE", KEYS[2], 0, ARGV[3], "LIMIT", 0, count)
if #ids == 0 then
  return 0
end

local resultField = ({completed = "returnvalue", failed = "failedReason"})[state]
if resultField then
  for _, id in ipairs(ids) do
    local jobKey = prefix .. id
    redis.call("HDEL", jobKey, "finishedOn", "processedOn", resultField)
    moveChildBackToParent(jobKey, state)
  end
end

local maxEvents = getMaxEvents(KEYS[5])
for _, id in ipairs(ids) do
  redis.call("XADD", KEYS[1], "MAXLEN", "~", maxEvents, "*", "event", "waiting",
    "jobId", id, "prev", state)
end

local target, pausedOrMaxed = getTargetList(KEYS[5], KEYS[6], KEYS[3], KEYS[4], ARGV[5])
for from = 1, #ids, 7000 do
  local to = math.min(from + 6999, #ids)
  redis.call("ZREM", KEYS[2], unpack(ids, from, to))
  redis.call("LPUSH", target, unpack(ids, from, to))
end
markReady(KEYS[7], pausedOrMaxed)

if #ids >= count then
  return 1
end
return 0
