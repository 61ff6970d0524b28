-- @include max_events
-- @include remove_job_keys
-- @include parent_update

-- Helpers that delete jobs for remove, clean, drain and obliterate. Every key is derived
-- from a queue prefix "<prefix>:<queue>:"; on Redis Cluster all queues of a flow must share
-- the prefix's hash tag.

-- Return whether jobId is the pending iteration of a job scheduler: its "rjk" names a
-- scheduler whose score in the repeat zset is the iteration's time. Such a job is created
-- again only by the worker that runs it, so deleting it would stop the scheduler.
local function isSchedulerIteration(jobId, jobKey, repeatKey)
  local schedulerId = redis.call("HGET", jobKey, "rjk")
  if not schedulerId then
    return false
  end
  local millis = redis.call("ZSCORE", repeatKey, schedulerId)
  if not millis then
    return false
  end
  return jobId == "repeat:" .. schedulerId .. ":" .. millis
end

-- Return the ids of the pending scheduler iterations of a queue, as a set.
local function schedulerIterations(repeatKey)
  local iterations = {}
  local schedulers = redis.call("ZRANGE", repeatKey, 0, -1, "WITHSCORES")
  for i = 1, #schedulers, 2 do
    iterations["repeat:" .. schedulers[i] .. ":" .. schedulers[i + 1]] = true
  end
  return iterations
end

-- Delete the deduplication key of a removed job, and the next job stored for the same
-- deduplication id, when the key still names this job.
local function releaseDedupKeyOnRemoval(prefix, jobId, dedupId)
  if not dedupId then
    return
  end
  local key = prefix .. "de:" .. dedupId
  if redis.call("GET", key) == jobId then
    redis.call("DEL", key, prefix .. "dn:" .. dedupId)
  end
end

-- Remove jobId from the first state that contains it and return that state's key suffix,
-- or "unknown". The order is the one Node bullmq uses, so the "removed" event names the same
-- previous state.
local function removeFromAnyState(prefix, jobId)
  for _, set in ipairs({"completed", "waiting-children", "delayed", "failed", "prioritized"}) do
    if redis.call("ZREM", prefix .. set, jobId) == 1 then
      return set
    end
  end
  for _, list in ipairs({"wait", "paused", "active"}) do
    if redis.call("LREM", prefix .. list, 1, jobId) == 1 then
      return list
    end
  end
  return "unknown"
end

-- Detach a job that clean, drain or obliterate deletes from its parent. If it was the
-- parent's last pending child and the parent waits for children, the parent moves on too.
-- A parent in the same queue is deleted as well (recursively). A parent in another queue
-- goes to the front of its wait list without an event.
local detachFromParentHard
detachFromParentHard = function(jobKey, prefix, compat)
  local parentKey = redis.call("HGET", jobKey, "parentKey")
  if not parentKey or parentKey == "" or redis.call("EXISTS", parentKey) == 0 then
    return
  end
  local deps = parentKey .. ":dependencies"
  if redis.call("SREM", deps, jobKey) == 0 or redis.call("SCARD", deps) > 0 then
    return
  end
  local queueKey, parentId = splitJobKey(parentKey)
  if redis.call("ZREM", queueKey .. ":waiting-children", parentId) == 0 then
    return
  end

  if queueKey .. ":" == prefix then
    local dedupId = redis.call("HGET", parentKey, "deid")
    detachFromParentHard(parentKey, prefix, compat)
    deleteJobKeys(parentKey)
    releaseDedupKeyOnRemoval(prefix, parentId, dedupId)
    return
  end
  local target, pausedOrMaxed = getTargetList(queueKey .. ":meta", queueKey .. ":active",
    queueKey .. ":wait", queueKey .. ":paused", compat)
  redis.call("RPUSH", target, parentId)
  markReady(queueKey .. ":marker", pausedOrMaxed)
end

-- Delete a job as clean, drain and obliterate do: detach it from its parent, release its
-- deduplication key and delete its keys. The caller removes the id from its state and
-- writes any event.
local function removeJobHard(prefix, jobId, compat)
  local jobKey = prefix .. jobId
  detachFromParentHard(jobKey, prefix, compat)
  releaseDedupKeyOnRemoval(prefix, jobId, redis.call("HGET", jobKey, "deid"))
  deleteJobKeys(jobKey)
end

-- Return whether the job, or with withChildren any job among its pending descendants, is
-- locked by a worker.
local isJobLocked
isJobLocked = function(prefix, jobId, withChildren)
  local jobKey = prefix .. jobId
  if redis.call("EXISTS", jobKey .. ":lock") == 1 then
    return true
  end
  if withChildren then
    for _, childKey in ipairs(redis.call("SMEMBERS", jobKey .. ":dependencies")) do
      local childQueueKey, childId = splitJobKey(childKey)
      if isJobLocked(childQueueKey .. ":", childId, true) then
        return true
      end
    end
  end
  return false
end

-- Delete a job from whichever state contains it, with its keys, and write a "removed" event
-- naming that state. parentKey is the parent being removed together with this job, or nil
-- to read the job's own parent. With withChildren, the job's children (finished, failed
-- and pending) are removed first, depth first.
local removeJobWithChildren
removeJobWithChildren = function(prefix, jobId, parentKey, withChildren, compat)
  local jobKey = prefix .. jobId
  detachFromParent(jobKey, parentKey, compat)

  if withChildren then
    local children = redis.call("HKEYS", jobKey .. ":processed")
    for _, childKey in ipairs(redis.call("HKEYS", jobKey .. ":failed")) do
      children[#children + 1] = childKey
    end
    for _, childKey in ipairs(redis.call("ZRANGE", jobKey .. ":unsuccessful", 0, -1)) do
      children[#children + 1] = childKey
    end
    for _, childKey in ipairs(redis.call("SMEMBERS", jobKey .. ":dependencies")) do
      children[#children + 1] = childKey
    end
    for _, childKey in ipairs(children) do
      local childQueueKey, childId = splitJobKey(childKey)
      removeJobWithChildren(childQueueKey .. ":", childId, jobKey, true, compat)
    end
  end

  local prev = removeFromAnyState(prefix, jobId)
  releaseDedupKeyOnRemoval(prefix, jobId, redis.call("HGET", jobKey, "deid"))
  if deleteJobKeys(jobKey) > 0 then
    local maxEvents = getMaxEvents(prefix .. "meta")
    redis.call("XADD", prefix .. "events", "MAXLEN", "~", maxEvents, "*", "event", "removed",
      "jobId", jobId, "prev", prev)
  end
end
