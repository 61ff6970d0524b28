--[[
  Add one job: a plain (FIFO or LIFO), prioritized or delayed job, optionally the child of
  an existing parent job, optionally deduplicated. Node bullmq 6.7.6 stores the same data.

  KEYS[1] wait            KEYS[2] paused          KEYS[3] meta        KEYS[4] id
  KEYS[5] completed       KEYS[6] delayed         KEYS[7] active      KEYS[8] events
  KEYS[9] marker          KEYS[10] prioritized    KEYS[11] pc
  KEYS[12...] optional keys, at the positions named in the control argument's "keys":
    "de" deduplication key, "dn" next-job hash of that deduplication id,
    "parent" parent job key, "deps" the parent's dependencies set,
    "wc" waiting-children (flow parents).

  ARGV[1] key prefix of the queue, "<prefix>:<queue>:"
  ARGV[2] custom job id, or "" to use the id counter
  ARGV[3] job name
  ARGV[4] timestamp in ms
  ARGV[5] data JSON
  ARGV[6] opts JSON, stored verbatim
  ARGV[7] control JSON: delay and priority (decimal strings), lifo, compat ("auto", "v6" or
          "v5"), parent (the stored "parent" field), de (deduplication options), keys,
          waitingChildren (add a flow parent to waiting-children instead of a ready state),
          deferRelease (inside a flow: leave the release of a parent whose children all
          exist already to release_parent.lua, run after the whole tree is added).

  Returns the id of the new job, or of the existing job when the add was a duplicate or was
  deduplicated; -5 when the parent job does not exist; -7 when the custom id belongs to a
  job attached to another existing parent.
]]
local rcall = redis.call

local waitKey = KEYS[1]
local pausedKey = KEYS[2]
local metaKey = KEYS[3]
local idKey = KEYS[4]
local completedKey = KEYS[5]
local delayedKey = KEYS[6]
local activeKey = KEYS[7]
local eventsKey = KEYS[8]
local markerKey = KEYS[9]
local prioritizedKey = KEYS[10]
local pcKey = KEYS[11]

local prefix = ARGV[1]
local customId = ARGV[2]
local jobName = ARGV[3]
local timestamp = ARGV[4]
local jobData = ARGV[5]
local jobOpts = ARGV[6]
local control = cjson.decode(ARGV[7])

local function optionalKey(name)
  local index = control["keys"][name]
  if index then
    return KEYS[index]
  end
end

local dedupKey = optionalKey("de")
local dedupNextKey = optionalKey("dn")
local waitingChildrenKey = optionalKey("wc")
local parentKey = optionalKey("parent")
local parentDepsKey = optionalKey("deps")
local parentField = control["parent"]
local dedup = control["de"]
local delay = tonumber(control["delay"])
local priority = tonumber(control["priority"])
local compat = control["compat"]

-- @include max_events
-- @include paused
-- @include marker
-- @include priority
-- @include delayed_score
-- @include remove_job_keys

local maxEvents

-- Put a delayed job into the delayed set due at timestamp + delayMs, announce it, and move
-- the delay marker to the earliest due job.
local function scheduleDelayed(jobId, delayMs)
  local due = tonumber(timestamp) + delayMs
  rcall("ZADD", delayedKey, delayedScore(delayedKey, due), jobId)
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "delayed",
    "jobId", jobId, "delay", due)
  markNextDelayed(markerKey, delayedKey)
end

-- Move a parent whose last dependency just finished out of waiting-children.
-- NOTE: only reached when a duplicate custom id names a completed job and the add has a
-- parent; no test covers this path yet.
local function releaseParentIfReady(parentId, parentQueueKey)
  if rcall("SCARD", parentDepsKey) ~= 0 or rcall("EXISTS", parentKey) == 0 then
    return
  end
  local waitingChildrenKey = parentQueueKey .. ":waiting-children"
  if not rcall("ZSCORE", waitingChildrenKey, parentId) then
    return
  end
  rcall("ZREM", waitingChildrenKey, parentId)

  local fields = rcall("HMGET", parentKey, "priority", "delay")
  local parentPriority = tonumber(fields[1]) or 0
  local parentDelay = tonumber(fields[2]) or 0
  local parentEvents = parentQueueKey .. ":events"
  local parentMarker = parentQueueKey .. ":marker"
  if parentDelay > 0 then
    local due = tonumber(timestamp) + parentDelay
    local parentDelayed = parentQueueKey .. ":delayed"
    rcall("ZADD", parentDelayed, due * 0x1000, parentId)
    rcall("XADD", parentEvents, "*", "event", "delayed", "jobId", parentId, "delay", due)
    markNextDelayed(parentMarker, parentDelayed)
    return
  end

  local parentMeta = parentQueueKey .. ":meta"
  local parentActive = parentQueueKey .. ":active"
  if parentPriority > 0 then
    pushPrioritized(parentMarker, parentQueueKey .. ":prioritized", parentPriority,
      parentId, parentQueueKey .. ":pc", queueIsBlocked(parentMeta, parentActive))
  else
    local target, pausedOrMaxed = getTargetList(parentMeta, parentActive,
      parentQueueKey .. ":wait", parentQueueKey .. ":paused", compat)
    rcall("RPUSH", target, parentId)
    markReady(parentMarker, pausedOrMaxed)
  end
  rcall("XADD", parentEvents, "*", "event", "waiting", "jobId", parentId,
    "prev", "waiting-children")
end

-- A job with this custom id exists already: keep its data and options, attach it to the
-- add's parent when it has no live parent of its own, and report the duplicate.
local function handleDuplicate(jobId, jobKey)
  local existingParentKey = rcall("HGET", jobKey, "parentKey")
  local attachable = not existingParentKey or existingParentKey == parentKey or
    rcall("EXISTS", existingParentKey) == 0
  if attachable then
    if parentKey then
      local parent = cjson.decode(parentField)
      if rcall("ZSCORE", completedKey, jobId) then
        local returnValue = rcall("HGET", jobKey, "returnvalue")
        rcall("HSET", parentKey .. ":processed", jobKey, returnValue)
        if not control["deferRelease"] then
          releaseParentIfReady(parent["id"], parent["queueKey"])
        end
      else
        rcall("SADD", parentDepsKey, jobKey)
      end
      rcall("HSET", jobKey, "parentKey", parentKey, "parent", parentField)
    end
  elseif parentKey then
    if control["deferRelease"] then
      -- Keeps the flow's release step from releasing a parent that lost this child.
      rcall("HSET", parentKey, "flowAttachmentFailed", 1)
    end
    return -7
  end

  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "duplicated",
    "jobId", jobId)
  return jobId
end

local function writeDedupKey(jobId)
  if dedup["keepLastIfActive"] then
    rcall("SET", dedupKey, jobId)
  elseif dedup["ttl"] and dedup["ttl"] > 0 then
    rcall("SET", dedupKey, jobId, "PX", dedup["ttl"])
  else
    rcall("SET", dedupKey, jobId)
  end
end

local function emitDeduplicated(keptId, rejectedId)
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "deduplicated",
    "jobId", keptId, "deduplicationId", dedup["id"], "deduplicatedJobId", rejectedId)
end

-- A key without TTL whose owner hash is gone was left by a crash: drop it (and any stored
-- next job) and let this add become the owner. Returns true when it did.
local function recoverStaleKey(ownerId, jobId)
  if rcall("PTTL", dedupKey) ~= -1 or rcall("EXISTS", prefix .. ownerId) == 1 then
    return false
  end
  rcall("DEL", dedupKey, dedupNextKey)
  writeDedupKey(jobId)
  return true
end

-- keepLastIfActive: while the owner is active, store this add as the job to create when the
-- owner finishes. Returns true when it did.
local function storeNextJob(ownerId, jobId)
  if not dedup["keepLastIfActive"] then
    return false
  end
  local position = redis.pcall("LPOS", activeKey, ownerId)
  if type(position) == "table" and position.err then
    position = nil
    for _, id in ipairs(rcall("LRANGE", activeKey, 0, -1)) do
      if id == ownerId then
        position = 0
        break
      end
    end
  end
  if not position then
    return false
  end

  local fields = {"name", jobName, "data", jobData, "opts", jobOpts, "jid", jobId}
  if control["rjk"] then
    table.insert(fields, "rjk")
    table.insert(fields, control["rjk"])
  end
  rcall("DEL", dedupNextKey)
  rcall("HSET", dedupNextKey, unpack(fields))
  rcall("PERSIST", dedupKey)
  emitDeduplicated(ownerId, jobId)
  return true
end

-- Replace mode: a delayed owner is deleted and this add takes its place; an owner in any
-- other state wins silently. Returns the owner id when the add must not create a job.
local function deduplicateReplace(jobId)
  local ownerId = rcall("GET", dedupKey)
  if not ownerId then
    writeDedupKey(jobId)
    return nil
  end

  if rcall("ZREM", delayedKey, ownerId) > 0 then
    deleteJobKeys(prefix .. ownerId)
    rcall("XADD", eventsKey, "*", "event", "removed", "jobId", ownerId, "prev", "delayed")
    emitDeduplicated(jobId, ownerId)
    rcall("DEL", dedupNextKey)
    local ttl = dedup["ttl"]
    if not dedup["keepLastIfActive"] and not dedup["extend"] and ttl and ttl > 0 then
      rcall("SET", dedupKey, jobId, "KEEPTTL")
    else
      writeDedupKey(jobId)
    end
    return nil
  end

  if recoverStaleKey(ownerId, jobId) then
    return nil
  end
  storeNextJob(ownerId, jobId)
  return ownerId
end

-- Simple, throttle (ttl) and debounce (ttl + extend) modes. Returns the owner id when the
-- add must not create a job.
local function deduplicateKeep(jobId)
  local ttl = dedup["ttl"]
  local ownerId
  if ttl and ttl > 0 and dedup["extend"] then
    ownerId = rcall("GET", dedupKey)
    if not ownerId then
      writeDedupKey(jobId)
      return nil
    end
    if recoverStaleKey(ownerId, jobId) then
      return nil
    end
    if storeNextJob(ownerId, jobId) then
      return ownerId
    end
    writeDedupKey(ownerId)
    emitDeduplicated(ownerId, jobId)
    return ownerId
  end

  local written
  if ttl and ttl > 0 and not dedup["keepLastIfActive"] then
    written = rcall("SET", dedupKey, jobId, "PX", ttl, "NX")
  else
    written = rcall("SET", dedupKey, jobId, "NX")
  end
  if written then
    return nil
  end

  ownerId = rcall("GET", dedupKey)
  if recoverStaleKey(ownerId, jobId) then
    return nil
  end
  if not storeNextJob(ownerId, jobId) then
    emitDeduplicated(ownerId, jobId)
  end
  return ownerId
end

local function deduplicate(jobId)
  if dedup["replace"] then
    return deduplicateReplace(jobId)
  end

  local ownerId = deduplicateKeep(jobId)
  if ownerId and dedup["reschedule"] and rcall("ZSCORE", delayedKey, ownerId) then
    rcall("HSET", prefix .. ownerId, "delay", delay)
    scheduleDelayed(ownerId, delay)
  end
  return ownerId
end

if parentKey and rcall("EXISTS", parentKey) == 0 then
  return -5
end

local counter = rcall("INCR", idKey)
maxEvents = getMaxEvents(metaKey)

local jobId = customId
if jobId == "" then
  jobId = tostring(counter)
end
local jobKey = prefix .. jobId

if customId ~= "" and rcall("EXISTS", jobKey) == 1 then
  return handleDuplicate(jobId, jobKey)
end

if dedup then
  local ownerId = deduplicate(jobId)
  if ownerId then
    return ownerId
  end
end

local fields = {"name", jobName, "data", jobData, "opts", jobOpts, "timestamp", timestamp,
  "delay", delay, "priority", priority}
if parentKey then
  table.insert(fields, "parentKey")
  table.insert(fields, parentKey)
  table.insert(fields, "parent")
  table.insert(fields, parentField)
end
if control["rjk"] then
  table.insert(fields, "rjk")
  table.insert(fields, control["rjk"])
end
if dedup then
  table.insert(fields, "deid")
  table.insert(fields, dedup["id"])
end
rcall("HSET", jobKey, unpack(fields))
rcall("XADD", eventsKey, "*", "event", "added", "jobId", jobId, "name", jobName)

if control["waitingChildren"] then
  rcall("ZADD", waitingChildrenKey, timestamp, jobId)
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting-children",
    "jobId", jobId)
elseif delay > 0 then
  scheduleDelayed(jobId, delay)
elseif priority > 0 then
  pushPrioritized(markerKey, prioritizedKey, priority, jobId, pcKey,
    queueIsBlocked(metaKey, activeKey))
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", jobId)
else
  local target, pausedOrMaxed = getTargetList(metaKey, activeKey, waitKey, pausedKey, compat)
  if control["lifo"] then
    rcall("RPUSH", target, jobId)
  else
    rcall("LPUSH", target, jobId)
  end
  markReady(markerKey, pausedOrMaxed)
  rcall("XADD", eventsKey, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", jobId)
end

if parentDepsKey then
  rcall("SADD", parentDepsKey, jobKey)
end

return jobId
