--[[
  Move an active job to completed or failed, release its lock, update its parent and
  deduplication key, apply retention and metrics, write the events, and optionally fetch
  the next job in the same call.
  KEYS[1] wait, KEYS[2] active, KEYS[3] prioritized, KEYS[4] events, KEYS[5] stalled,
  KEYS[6] limiter, KEYS[7] delayed, KEYS[8] paused, KEYS[9] meta, KEYS[10] pc,
  KEYS[11] marker, KEYS[12] completed or failed set, KEYS[13] job, KEYS[14] metrics hash
  ARGV[1] job id
  ARGV[2] now, ms
  ARGV[3] result field: "returnvalue" or "failedReason"
  ARGV[4] result value: return value JSON or failure message
  ARGV[5] target: "completed" or "failed"
  ARGV[6] "1" to fetch the next job
  ARGV[7] key prefix "<prefix>:<queue>:"
  ARGV[8] fields to update, a JSON array of field, value strings, or ""
  ARGV[9] pause compatibility mode
  ARGV[10] the job's attempts option, 0 when unset
  ARGV[11] max metrics data points, "" when metrics are off
  ARGV[12] retention count: -1 keeps every job, 0 removes this one, n > 0 keeps the newest n
  ARGV[13] retention age in seconds, "" for none
  ARGV[14] max jobs removed by age per call, "" for 1000
  ARGV[15..19] fetch arguments (see move_to_active.lua)
  Returns 0, a fetch result (see move_to_active.lua), or -1 (no job), -2 (lock missing),
  -3 (not active), -4 (pending children), -6 (lock held by another token) or
  -9 (failed fpof children).
]]
-- @include fetch_job
-- @include lock_release
-- @include max_events
-- @include dedup_release
-- @include parent_update
-- @include remove_job_keys
-- @include metrics

local jobKey = KEYS[13]
local jobId = ARGV[1]
local now = ARGV[2]
local field = ARGV[3]
local value = ARGV[4]
local target = ARGV[5]
local prefix = ARGV[7]
local compat = ARGV[9]
local k = {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8], meta = KEYS[9], pc = KEYS[10],
  marker = KEYS[11], prefix = prefix}

-- One EXISTS checks the job and, for a completion, its child sets. EXISTS counts a key
-- once per mention, so with the job key named three times the count is 3 + n for an
-- existing job with n of the two child sets, and at most 2 for a missing job. An empty set
-- or sorted set does not exist, so n is 0 for a job without pending or failed children.
local existing
if target == "completed" then
  existing = redis.call("EXISTS", jobKey, jobKey, jobKey, jobKey .. ":dependencies",
    jobKey .. ":unsuccessful")
else
  existing = 3 * redis.call("EXISTS", jobKey)
end
if existing < 3 then
  return -1
end
if existing > 3 then
  if redis.call("SCARD", jobKey .. ":dependencies") ~= 0 then
    return -4
  end
  return -9
end

local fetch = fetchArgs(15)
local code = releaseJobLock(jobKey, KEYS[5], fetch.token, jobId)
if code < 0 then
  return code
end
setJobFields(jobKey, ARGV[8])

local attrs = redis.call("HMGET", jobKey, "parentKey", "parent", "deid", "atm")
if redis.call("LREM", k.active, -1, jobId) < 1 then
  return -3
end

-- One read of meta serves the events trimming and the fetch of the next job.
local meta = redis.call("HMGET", k.meta, "opts.maxLenEvents", "paused", "concurrency", "max",
  "duration")
local maxEvents = meta[1]
if not maxEvents then
  maxEvents = 10000
  redis.call("HSET", k.meta, "opts.maxLenEvents", maxEvents)
end
redis.call("XTRIM", k.events, "MAXLEN", "~", maxEvents)

if attrs[3] then
  releaseDedupKey(prefix, attrs[3], jobId)
  requeueNextDedupJob(k, attrs[3], now, compat)
end

-- Parent bookkeeping: the parent field carries the queue key and the failure policy.
local parentKey = attrs[1] or ""
if parentKey ~= "" or attrs[2] then
  local parentQueueKey, parentId
  if attrs[2] then
    local parent = cjson.decode(attrs[2])
    parentQueueKey, parentId = parent["queueKey"], parent["id"]
    if parentKey == "" then
      parentKey = parentQueueKey .. ":" .. parentId
    end
  else
    parentQueueKey, parentId = splitJobKey(parentKey)
  end
  if target == "completed" then
    recordChildCompleted(jobKey, parentKey, parentQueueKey, parentId, value, now, compat)
  elseif attrs[2] then
    recordChildFailed(attrs[2], jobKey, value, now, compat)
  end
end

-- attemptsMade is written with the result below, as HINCRBY atm 1 would leave it. A job
-- removed at once (count 0) loses the hash, so its count is only reported.
local attemptsMade = (tonumber(attrs[4]) or 0) + 1

-- Retention: count -1 keeps every job, 0 deletes this one now, n > 0 keeps the newest n;
-- age (seconds) deletes older jobs, at most limit per call.
local maxCount = tonumber(ARGV[12]) or -1
if maxCount ~= 0 then
  local setKey = KEYS[12]
  redis.call("ZADD", setKey, now, jobId)
  redis.call("HSET", jobKey, "atm", attemptsMade, field, value, "finishedOn", now)
  if target == "failed" then
    redis.call("HDEL", jobKey, "defa")
  end

  if ARGV[13] ~= "" then
    local limit = tonumber(ARGV[14]) or 1000
    local cutoff = tonumber(now) - tonumber(ARGV[13]) * 1000
    local old = redis.call("ZREVRANGEBYSCORE", setKey, cutoff, "-inf", "LIMIT", 0, limit)
    for _, id in ipairs(old) do
      detachFromParent(prefix .. id, nil, compat)
      deleteJobKeys(prefix .. id)
    end
    for from = 1, #old, 7000 do
      redis.call("ZREM", setKey, unpack(old, from, math.min(from + 6999, #old)))
    end
  end

  if maxCount > 0 then
    local extra = redis.call("ZREVRANGE", setKey, maxCount, -1)
    for _, id in ipairs(extra) do
      detachFromParent(prefix .. id, nil, compat)
      deleteJobKeys(prefix .. id)
    end
    redis.call("ZREMRANGEBYRANK", setKey, 0, -(maxCount + 1))
  end
else
  deleteJobKeys(jobKey)
  if parentKey ~= "" then
    detachFromParent(jobKey, parentKey, compat)
  end
end

redis.call("XADD", k.events, "*", "event", target, "jobId", jobId, field, value,
  "prev", "active")
if target == "failed" and attemptsMade >= (tonumber(ARGV[10]) or 0) then
  redis.call("XADD", k.events, "*", "event", "retries-exhausted", "jobId", jobId,
    "attemptsMade", attemptsMade)
end

if ARGV[11] ~= "" then
  recordMetrics(KEYS[14], KEYS[14] .. ":data", ARGV[11], now)
end

if ARGV[6] == "1" then
  local result = fetchJob(k, now, fetch, compat, {meta[2], meta[3], meta[4], meta[5]})
  if result then
    return result
  end
end

if redis.call("LLEN", k.wait) == 0 and redis.call("LLEN", k.active) == 0
    and redis.call("ZCARD", k.prioritized) == 0 then
  redis.call("XADD", k.events, "*", "event", "drained")
end
return 0
