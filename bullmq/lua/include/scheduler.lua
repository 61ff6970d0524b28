-- @include max_events
-- @include paused
-- @include marker
-- @include priority
-- @include delayed_score

-- Helpers shared by the job scheduler scripts. Iteration jobs have the id
-- "repeat:<schedulerId>:<millis>" and the field "rjk" naming their scheduler.

-- Return the due time of the next "every" iteration, and the offset of the every-grid.
-- Without a previous iteration the first one runs at startDate (or now, if later), else at
-- the first grid point after now when an offset is set, else now. After a previous
-- iteration the next is prev + every, or, when that is already past, the first grid point
-- after now. An offset of 0 is recomputed from the result.
local function getEveryNextMillis(prevMillis, every, now, offset, startDate)
  offset = tonumber(offset) or 0
  local nextMillis
  if not prevMillis then
    if startDate then
      nextMillis = math.max(tonumber(startDate), now)
    elseif offset > 0 then
      nextMillis = math.floor(now / every) * every + offset
      if nextMillis <= now then
        nextMillis = nextMillis + every
      end
    else
      nextMillis = now
    end
  else
    nextMillis = prevMillis + every
    if nextMillis < now then
      nextMillis = math.floor(now / every) * every + offset
      if nextMillis <= now then
        nextMillis = nextMillis + every
      end
    end
  end
  if offset == 0 then
    offset = nextMillis - math.floor(nextMillis / every) * every
  end
  return math.floor(nextMillis), math.floor(offset)
end

-- Create an iteration job and enqueue it like a plain add: delayed when delay > 0, else
-- prioritized or pushed to the wait list. optsJson is the stored opts without "delay" and
-- "jobId"; both are appended here, because the script computes the final due time.
-- k contains the queue keys (wait, paused, meta, active, prioritized, pc, delayed, marker,
-- events), ctl the template's priority and lifo flag.
local function addIterationJob(k, jobKey, jobId, name, data, optsJson, now, delay,
    schedulerId, ctl, compat, maxEvents)
  local opts = string.sub(optsJson, 1, -2) .. ',"delay":' .. delay .. ',"jobId":' ..
    cjson.encode(jobId) .. '}'
  local priority = tonumber(ctl["priority"]) or 0
  redis.call("HSET", jobKey, "name", name, "data", data, "opts", opts, "timestamp", now,
    "delay", delay, "priority", priority, "rjk", schedulerId)
  redis.call("XADD", k.events, "*", "event", "added", "jobId", jobId, "name", name)

  if delay > 0 then
    local due = now + delay
    redis.call("ZADD", k.delayed, delayedScore(k.delayed, due), jobId)
    redis.call("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "delayed",
      "jobId", jobId, "delay", due)
    markNextDelayed(k.marker, k.delayed)
    return
  end

  if priority > 0 then
    pushPrioritized(k.marker, k.prioritized, priority, jobId, k.pc,
      queueIsBlocked(k.meta, k.active))
  else
    local target, pausedOrMaxed = getTargetList(k.meta, k.active, k.wait, k.paused, compat)
    if ctl["lifo"] then
      redis.call("RPUSH", target, jobId)
    else
      redis.call("LPUSH", target, jobId)
    end
    markReady(k.marker, pausedOrMaxed)
  end
  redis.call("XADD", k.events, "MAXLEN", "~", maxEvents, "*", "event", "waiting",
    "jobId", jobId)
end
