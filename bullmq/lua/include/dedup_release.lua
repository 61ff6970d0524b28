-- @include paused
-- @include priority
-- @include marker
-- @include delayed_score
-- @include max_events

-- Release the deduplication key of a job that finished: a key without TTL is deleted when
-- it still names this job, an expired key is deleted, and a key with a TTL left stays (the
-- throttle window continues).
local function releaseDedupKey(prefix, dedupId, jobId)
  local key = prefix .. "de:" .. dedupId
  local ttl = redis.call("PTTL", key)
  if ttl == 0 then
    redis.call("DEL", key)
  elseif ttl == -1 and redis.call("GET", key) == jobId then
    redis.call("DEL", key)
  end
end

-- Create the job that a keepLastIfActive add stored in "<prefix>dn:<dedupId>" while the
-- owner was active, make it the new owner and enqueue it like an add would.
local function requeueNextDedupJob(k, dedupId, now, compat)
  local nextKey = k.prefix .. "dn:" .. dedupId
  if redis.call("EXISTS", nextKey) == 0 then
    return
  end
  local stored = redis.call("HMGET", nextKey, "name", "data", "opts", "pk", "pd", "pdk",
    "rjk", "jid")
  local counter = tostring(redis.call("INCR", k.prefix .. "id"))
  local jobId = stored[8] or counter
  local jobKey = k.prefix .. jobId
  local opts = cjson.decode(stored[3])
  local de = opts["de"] or {}

  local dedupKey = k.prefix .. "de:" .. dedupId
  if de["keepLastIfActive"] or not de["ttl"] then
    redis.call("SET", dedupKey, jobId)
  else
    redis.call("SET", dedupKey, jobId, "PX", de["ttl"])
  end

  local delay = tonumber(opts["delay"]) or 0
  local priority = tonumber(opts["priority"]) or 0
  local fields = {"name", stored[1], "data", stored[2], "opts", stored[3],
    "timestamp", now, "delay", delay, "priority", priority}
  if stored[4] then
    table.insert(fields, "parentKey")
    table.insert(fields, stored[4])
    table.insert(fields, "parent")
    table.insert(fields, stored[5])
  end
  if stored[7] then
    table.insert(fields, "rjk")
    table.insert(fields, stored[7])
  end
  if de["id"] then
    table.insert(fields, "deid")
    table.insert(fields, de["id"])
  end
  redis.call("HSET", jobKey, unpack(fields))
  redis.call("XADD", k.events, "*", "event", "added", "jobId", jobId, "name", stored[1])

  local maxEvents = getMaxEvents(k.meta)
  if delay > 0 then
    local due = tonumber(now) + delay
    redis.call("ZADD", k.delayed, delayedScore(k.delayed, due), jobId)
    redis.call("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "delayed",
      "jobId", jobId, "delay", due)
    markNextDelayed(k.marker, k.delayed)
  else
    local target, pausedOrMaxed = getTargetList(k.meta, k.active, k.wait, k.paused, compat)
    if priority > 0 then
      pushPrioritized(k.marker, k.prioritized, priority, jobId, k.pc, pausedOrMaxed)
    else
      redis.call(opts["lifo"] and "RPUSH" or "LPUSH", target, jobId)
      markReady(k.marker, pausedOrMaxed)
    end
    redis.call("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
      "jobId", jobId)
  end

  if stored[6] then
    redis.call("SADD", stored[6], jobKey)
  end
  redis.call("DEL", nextKey)
end
