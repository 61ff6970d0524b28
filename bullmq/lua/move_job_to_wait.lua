--[[
  Move an active job back to the ready states without counting an attempt, after its
  processor asked for a rate limit: release the lock, then push a priority-0 job to the
  front of the line (the tail of wait, or of paused during a 5.x-style pause) and a
  prioritized job ahead of every job of its priority (score priority * 2^32).
  KEYS[1] active, KEYS[2] wait, KEYS[3] stalled, KEYS[4] paused, KEYS[5] meta,
  KEYS[6] limiter, KEYS[7] prioritized, KEYS[8] marker, KEYS[9] events, KEYS[10] job
  ARGV[1] job id
  ARGV[2] lock token ("0": no lock check)
  ARGV[3] pause compatibility mode: "auto", "v6" or "v5"
  Returns the limiter's remaining ms (0 when it has no TTL), or -1 (no job), -2 (lock
  missing), -6 (lock held by another token).
]]
-- @include paused
-- @include marker
-- @include lock_release
-- @include max_events

local jobKey = KEYS[10]
local jobId = ARGV[1]

if redis.call("EXISTS", jobKey) == 0 then
  return -1
end
local code = releaseJobLock(jobKey, KEYS[3], ARGV[2], jobId)
if code < 0 then
  return code
end

-- A job that is no longer active (a stalled check moved it) stays where it is.
if redis.call("LREM", KEYS[1], 1, jobId) > 0 then
  local priority = tonumber(redis.call("HGET", jobKey, "priority")) or 0
  if priority > 0 then
    -- Node adds no marker here; the job runs when a worker next fetches.
    redis.call("ZADD", KEYS[7], priority * 0x100000000, jobId)
  else
    local target, pausedOrMaxed = getTargetList(KEYS[5], KEYS[1], KEYS[2], KEYS[4], ARGV[3])
    redis.call("RPUSH", target, jobId)
    markReady(KEYS[8], pausedOrMaxed)
  end

  local maxEvents = getMaxEvents(KEYS[5])
  redis.call("XADD", KEYS[9], "MAXLEN", "~", maxEvents, "*", "event", "waiting",
    "jobId", jobId, "prev", "active")
end

local ttl = redis.call("PTTL", KEYS[6])
if ttl > 0 then
  return ttl
end
return 0
