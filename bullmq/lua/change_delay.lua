--[[
  Reschedule a delayed job to run delay ms from now.
  KEYS[1] delayed, KEYS[2] meta, KEYS[3] marker, KEYS[4] events, KEYS[5] job
  ARGV[1] delay, ms
  ARGV[2] now, ms
  ARGV[3] job id
  Returns 0, -1 when the job does not exist, -3 when it is not delayed.
]]
-- @include delayed_score
-- @include marker
-- @include max_events

local jobId = ARGV[3]
local delay = tonumber(ARGV[1])

if redis.call("EXISTS", KEYS[5]) == 0 then
  return -1
end

-- The score is computed before the job leaves the set, as Node does, so a job rescheduled
-- into its own millisecond moves behind itself.
local due = tonumber(ARGV[2]) + math.max(delay, 0)
local score = delayedScore(KEYS[1], due)
if redis.call("ZREM", KEYS[1], jobId) == 0 then
  return -3
end

redis.call("HSET", KEYS[5], "delay", delay)
redis.call("ZADD", KEYS[1], score, jobId)
local maxEvents = getMaxEvents(KEYS[2])
redis.call("XADD", KEYS[4], "MAXLEN", "~", maxEvents, "*", "event", "delayed",
  "jobId", jobId, "delay", due)
markNextDelayed(KEYS[3], KEYS[1])
return 0
