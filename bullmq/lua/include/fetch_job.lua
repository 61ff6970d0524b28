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
      pushPrioritized(k.marker, k.prioritized, priority, id, k.pc, pausedOrMaxed)
    end
    redis.call("XADD", k.events, "*", "event", "waiting", "jobId", id, "prev", "delayed")
    redis.call("HSET", jobKey, "delay", 0)
  end
  markReady(k.marker, pausedOrMaxed)
end

-- Return the remaining ms of a rate limit that is in effect, or 0.
local function limiterTTL(limiterKey, maxJobs)
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

-- Lock a job just moved to active and return it as {fields, id, 0, 0}. The fields are read
-- before processedOn, pb and ats are written, and those three are set in the reply as the
-- writes leave them, which saves a HINCRBY and a second read of the hash.
local function activateJob(k, id, now, f, maxJobs, limiterDuration)
  local jobKey = k.prefix .. id
  if maxJobs and redis.call("HEXISTS", jobKey, "defa") == 0 then
    if redis.call("INCR", k.limiter) == 1 then
      redis.call("PEXPIRE", k.limiter, math.floor(math.abs(tonumber(limiterDuration) or 0)))
    end
  end

  if f.token ~= "0" then
    redis.call("SET", jobKey .. ":lock", f.token, "PX", f.lockDuration)
  end

  redis.call("XADD", k.events, "*", "event", "active", "jobId", id, "prev", "waiting")
  local fields = redis.call("HGETALL", jobKey)
  local written = {processedOn = now}
  if f.name ~= "" then
    written.pb = f.name
  end
  local atsIndex
  for i = 1, #fields, 2 do
    local name = fields[i]
    if name == "ats" then
      atsIndex = i + 1
    elseif written[name] then
      fields[i + 1] = written[name]
      written[name] = nil
    end
  end
  local ats = 1
  if atsIndex then
    ats = tonumber(fields[atsIndex]) + 1
    fields[atsIndex] = tostring(ats)
  end
  -- New fields are appended in the order HSET adds them: processedOn, pb, then ats.
  if written.processedOn then
    fields[#fields + 1] = "processedOn"
    fields[#fields + 1] = now
  end
  if written.pb then
    fields[#fields + 1] = "pb"
    fields[#fields + 1] = f.name
  end
  if not atsIndex then
    fields[#fields + 1] = "ats"
    fields[#fields + 1] = "1"
  end

  if f.name ~= "" then
    redis.call("HSET", jobKey, "processedOn", now, "pb", f.name, "ats", ats)
  else
    redis.call("HSET", jobKey, "processedOn", now, "ats", ats)
  end
  markReady(k.marker, false)
  return {fields, id, 0, 0}
end

-- Fetch the next job: promote due delayed jobs, respect pause, global concurrency and the
-- rate limit, then take the tail of wait or the lowest prioritized score. Returns
-- {fields, id, 0, 0} for a job, {0, 0, ttl, 0} when rate limited, {0, 0, 0, 0} when paused
-- or maxed, {0, 0, 0, dueMs} when only delayed jobs exist, and nil when the queue is empty.
-- f is the table of the worker's fetch arguments (see fetchArgs). meta is the reply of HMGET meta
-- paused concurrency max duration when the caller has read it already, else nil.
local function fetchJob(k, now, f, compat, meta)
  if not meta then
    meta = redis.call("HMGET", k.meta, "paused", "concurrency", "max", "duration")
  end
  local pausedOrMaxed = meta[1] ~= false
  if not pausedOrMaxed and meta[2] then
    pausedOrMaxed = redis.call("LLEN", k.active) >= tonumber(meta[2])
  end

  promoteDueJobs(k, now, compat)

  local maxJobs = tonumber(meta[3] or f.limiterMax)
  local ttl = limiterTTL(k.limiter, maxJobs)
  if ttl > 0 then
    return {0, 0, ttl, 0}
  end
  if pausedOrMaxed then
    return {0, 0, 0, 0}
  end
  local limiterDuration = f.limiterDuration or meta[4]

  local id = redis.call("RPOPLPUSH", k.wait, k.active)
  -- Ids starting with "0:" are markers written by bullmq before 5.0; drop them.
  while id and string.sub(id, 1, 2) == "0:" do
    redis.call("LREM", k.active, 1, id)
    id = redis.call("RPOPLPUSH", k.wait, k.active)
  end
  if id then
    return activateJob(k, id, now, f, maxJobs, limiterDuration)
  end

  local popped = redis.call("ZPOPMIN", k.prioritized)
  if #popped > 0 then
    redis.call("LPUSH", k.active, popped[1])
    return activateJob(k, popped[1], now, f, maxJobs, limiterDuration)
  end
  redis.call("DEL", k.pc)

  local nextDue = earliestDelayedDue(k.delayed)
  if nextDue then
    return {0, 0, 0, nextDue}
  end
  return nil
end

-- Return the fetch arguments that start at ARGV[i]: lock token, lock duration in ms, worker
-- name ("" for none), limiter max and limiter duration in ms (both "" without a limiter).
local function fetchArgs(i)
  local f = {token = ARGV[i], lockDuration = ARGV[i + 1], name = ARGV[i + 2]}
  if ARGV[i + 3] ~= "" then
    f.limiterMax = ARGV[i + 3]
    f.limiterDuration = ARGV[i + 4]
  end
  return f
end
