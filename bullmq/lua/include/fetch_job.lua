-- @include paused
-- @include priority
-- @include marker

-- The fetch helpers take a table k of queue keys: wait, active, prioritized, events,
-- limiter, delayed, paused, meta, pc, marker, and prefix ("<prefix>:<queue>:").

-- Move up to 1000 delayed jobs that are due at now (ms) to the ready states: priority 0 to
-- the target list (wait, or paused during a 5.x-style pause), others to prioritized.
local function promoteDueJobs(k, now, compat)
  local maxScore = (tonumber(now) + 1) * 0x1000 - 1
  local ids = redis.call("ZRANGEBYSCORE", k.delayed, 0, maxScore, "LIMIT", 0, 1000)
  if #ids == 0 then
    return
  end

  redis.call("ZREM", k.delayed, unpack(ids))
  local target, pausedOrMaxed = getTargetList(k.meta, k.active, k.wait, k.paused, compat)
  for _, id in ipairs(ids) do
    local jobKey = k.prefix .. id
    local priority = tonumber(redis.call("HGET", jobKey, "priority")) or 0
    if priority == 0 then
      redis.call("LPUSH", target, id)
    else
      addJobWithPriority(k.marker, k.prioritized, priority, id, k.pc, pausedOrMaxed)
    end
    redis.call("XADD", k.events, "*", "event", "waiting", "jobId", id, "prev", "delayed")
    redis.call("HSET", jobKey, "delay", 0)
  end
  addBaseMarkerIfNeeded(k.marker, pausedOrMaxed)
end

-- Return the remaining ms of a rate limit that is in effect, or 0.
local function getRateLimitTTL(limiterKey, maxJobs)
  if not maxJobs then
    return 0
  end
  local count = tonumber(redis.call("GET", limiterKey))
  if count and count >= maxJobs then
    local ttl = redis.call("PTTL", limiterKey)
    if ttl == 0 then
      redis.call("DEL", limiterKey)
    end
    if ttl > 0 then
      return ttl
    end
  end
  return 0
end

-- Lock a job just moved to active and return it as {fields, id, 0, 0}.
local function activateJob(k, id, now, opts, maxJobs, limiterDuration)
  local jobKey = k.prefix .. id
  if maxJobs and redis.call("HEXISTS", jobKey, "defa") == 0 then
    if redis.call("INCR", k.limiter) == 1 then
      redis.call("PEXPIRE", k.limiter, math.floor(math.abs(tonumber(limiterDuration) or 0)))
    end
  end

  if opts.token ~= "0" then
    redis.call("SET", jobKey .. ":lock", opts.token, "PX", opts.lockDuration)
  end

  redis.call("XADD", k.events, "*", "event", "active", "jobId", id, "prev", "waiting")
  if opts.name then
    redis.call("HSET", jobKey, "processedOn", now, "pb", opts.name)
  else
    redis.call("HSET", jobKey, "processedOn", now)
  end
  redis.call("HINCRBY", jobKey, "ats", 1)
  addBaseMarkerIfNeeded(k.marker, false)
  return {redis.call("HGETALL", jobKey), id, 0, 0}
end

-- Fetch the next job: promote due delayed jobs, respect pause, global concurrency and the
-- rate limit, then take the tail of wait or the lowest prioritized score. Returns
-- {fields, id, 0, 0} for a job, {0, 0, ttl, 0} when rate limited, {0, 0, 0, 0} when paused
-- or maxed, {0, 0, 0, dueMs} when only delayed jobs exist, and nil when the queue is empty.
local function fetchJob(k, now, opts, compat)
  local meta = redis.call("HMGET", k.meta, "paused", "concurrency", "max", "duration")
  local pausedOrMaxed = meta[1] ~= false
  if not pausedOrMaxed and meta[2] then
    pausedOrMaxed = redis.call("LLEN", k.active) >= tonumber(meta[2])
  end

  promoteDueJobs(k, now, compat)

  local maxJobs = tonumber(meta[3] or (opts.limiter and opts.limiter.max))
  local ttl = getRateLimitTTL(k.limiter, maxJobs)
  if ttl > 0 then
    return {0, 0, ttl, 0}
  end
  if pausedOrMaxed then
    return {0, 0, 0, 0}
  end
  local limiterDuration = (opts.limiter and opts.limiter.duration) or meta[4]

  local id = redis.call("RPOPLPUSH", k.wait, k.active)
  -- Ids starting with "0:" are markers written by bullmq before 5.0; drop them.
  while id and string.sub(id, 1, 2) == "0:" do
    redis.call("LREM", k.active, 1, id)
    id = redis.call("RPOPLPUSH", k.wait, k.active)
  end
  if id then
    return activateJob(k, id, now, opts, maxJobs, limiterDuration)
  end

  local popped = redis.call("ZPOPMIN", k.prioritized)
  if #popped > 0 then
    redis.call("LPUSH", k.active, popped[1])
    return activateJob(k, popped[1], now, opts, maxJobs, limiterDuration)
  end
  redis.call("DEL", k.pc)

  local nextDue = getNextDelayedTimestamp(k.delayed)
  if nextDue then
    return {0, 0, 0, nextDue}
  end
  return nil
end
