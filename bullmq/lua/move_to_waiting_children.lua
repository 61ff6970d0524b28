--[[
  Move an active job to waiting-children while it has pending children, for a processor
  that added children at run time. The job keeps running (nothing changes) when no child
  is pending.

  KEYS[1] active, KEYS[2] waiting-children, KEYS[3] job, KEYS[4] stalled, KEYS[5] events
  ARGV[1] lock token
  ARGV[2] now, ms
  ARGV[3] job id

  Returns 0 when moved, 1 when no child is pending, -1 when the job is missing, -2 when
  its lock is missing, -3 when it is not active, -6 when another token holds the lock,
  -9 when a child with failParentOnFailure failed.
]]
-- @include lock_release

local jobKey = KEYS[3]
local jobId = ARGV[3]

if redis.call("EXISTS", jobKey) == 0 then
  return -1
end
if redis.call("ZCARD", jobKey .. ":unsuccessful") ~= 0 then
  return -9
end
if redis.call("SCARD", jobKey .. ":dependencies") == 0 then
  return 1
end

local code = releaseJobLock(jobKey, KEYS[4], ARGV[1], jobId)
if code < 0 then
  return code
end
if redis.call("LREM", KEYS[1], -1, jobId) < 1 then
  return -3
end
redis.call("ZADD", KEYS[2], ARGV[2], jobId)
redis.call("XADD", KEYS[5], "*", "event", "waiting-children", "jobId", jobId,
  "prev", "active")
return 0
