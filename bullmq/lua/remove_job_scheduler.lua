--[[
  Remove a job scheduler: its pending iteration when that is still delayed (with a
  "removed" event), its member of the repeat set and its hash. An iteration already in
  wait, prioritized or active is left to run, as in Node bullmq.

  KEYS[1] repeat, KEYS[2] delayed, KEYS[3] events
  ARGV[1] key prefix of the queue, "<prefix>:<queue>:"
  ARGV[2] scheduler id

  Returns 0 when the scheduler existed, 1 when it did not.
]]
-- @include remove_job_keys

local rcall = redis.call
local schedulerId = ARGV[2]

local millis = rcall("ZSCORE", KEYS[1], schedulerId)
if millis then
  local jobId = "repeat:" .. schedulerId .. ":" .. millis
  if rcall("ZREM", KEYS[2], jobId) == 1 then
    deleteJobKeys(ARGV[1] .. jobId)
    rcall("XADD", KEYS[3], "*", "event", "removed", "jobId", jobId, "prev", "delayed")
  end
end

if rcall("ZREM", KEYS[1], schedulerId) == 1 then
  rcall("DEL", KEYS[1] .. ":" .. schedulerId)
  return 0
end
return 1
