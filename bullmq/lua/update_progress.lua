--[[
  Store a job's progress and announce it on the events stream.
  KEYS[1] job, KEYS[2] events, KEYS[3] meta
  ARGV[1] job id
  ARGV[2] progress JSON
  Returns 0, or -1 when the job does not exist.
]]
-- @include max_events

if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
local maxEvents = getMaxEvents(KEYS[3])
redis.call("HSET", KEYS[1], "progress", ARGV[2])
redis.call("XADD", KEYS[2], "MAXLEN", "~", maxEvents, "*", "event", "progress",
  "jobId", ARGV[1], "data", ARGV[2])
return 0
