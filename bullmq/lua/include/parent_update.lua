-- @include paused
-- @include priority
-- @include marker

-- Helpers that keep a flow parent in step with its children. A parent may live in another
-- queue; its keys derive from its queue key "<prefix>:<queue>", which must share the
-- child's hash tag on Redis Cluster.

-- Split a full job key "<prefix>:<queue>:<id>" into queue key and id. Job ids may contain
-- ':' only when the parent field is present, so this fallback takes the last segment.
local function splitJobKey(jobKey)
  local queueKey, id = string.match(jobKey, "^(.*):([^:]*)$")
  return queueKey, id
end

-- Move a parent that left waiting-children to delayed (delay > 0), prioritized or the
-- front of its wait list, with the events Node writes to the parent's stream.
local function moveParentToReady(parentQueueKey, parentKey, parentId, now, compat)
  local fields = redis.call("HMGET", parentKey, "priority", "delay")
  local priority = tonumber(fields[1]) or 0
  local delay = tonumber(fields[2]) or 0
  local events = parentQueueKey .. ":events"
  local marker = parentQueueKey .. ":marker"

  if delay > 0 then
    local due = tonumber(now) + delay
    local delayedKey = parentQueueKey .. ":delayed"
    redis.call("ZADD", delayedKey, due * 0x1000, parentId)
    redis.call("XADD", events, "*", "event", "delayed", "jobId", parentId, "delay", due)
    markNextDelayed(marker, delayedKey)
    return
  end

  local target, pausedOrMaxed = getTargetList(parentQueueKey .. ":meta",
    parentQueueKey .. ":active", parentQueueKey .. ":wait", parentQueueKey .. ":paused", compat)
  if priority == 0 then
    redis.call("RPUSH", target, parentId)
    markReady(marker, pausedOrMaxed)
  else
    pushPrioritized(marker, parentQueueKey .. ":prioritized", priority, parentId,
      parentQueueKey .. ":pc", pausedOrMaxed)
  end
  redis.call("XADD", events, "*", "event", "waiting", "jobId", parentId,
    "prev", "waiting-children")
end

-- Release the parent when it is waiting for children.
local function releaseParentIfWaiting(parentQueueKey, parentKey, parentId, now, compat)
  if redis.call("EXISTS", parentKey) == 0 then
    return
  end
  if redis.call("ZREM", parentQueueKey .. ":waiting-children", parentId) == 1 then
    moveParentToReady(parentQueueKey, parentKey, parentId, now, compat)
  end
end

-- Release the parent when it is waiting for children and none is pending.
local function releaseParentIfDone(parentQueueKey, parentKey, parentId, now, compat)
  if redis.call("SCARD", parentKey .. ":dependencies") == 0 then
    releaseParentIfWaiting(parentQueueKey, parentKey, parentId, now, compat)
  end
end

-- Record a completed child's return value in its parent and release the parent when this
-- was its last pending child.
local function recordChildCompleted(childKey, parentKey, parentQueueKey, parentId, value,
    now, compat)
  if redis.call("SREM", parentKey .. ":dependencies", childKey) == 1 then
    redis.call("HSET", parentKey .. ":processed", childKey, value)
    releaseParentIfDone(parentQueueKey, parentKey, parentId, now, compat)
  end
end

-- Apply the failure policy stored in the child's parent field (fpof, cpof, idof, rdof)
-- after the child failed for good. Without a policy the child stays a pending dependency.
local function recordChildFailed(rawParent, childKey, reason, now, compat)
  local parent = cjson.decode(rawParent)
  local queueKey = parent["queueKey"]
  local parentId = parent["id"]
  local parentKey = queueKey .. ":" .. parentId
  local deps = parentKey .. ":dependencies"

  if parent["fpof"] then
    if redis.call("SREM", deps, childKey) == 0 then
      return
    end
    redis.call("ZADD", parentKey .. ":unsuccessful", now, childKey)
    if redis.call("EXISTS", parentKey) == 0 then
      return
    end
    local failure = "child " .. childKey .. " failed"
    local from = nil
    if redis.call("ZSCORE", queueKey .. ":waiting-children", parentId) then
      from = queueKey .. ":waiting-children"
    elseif redis.call("ZSCORE", queueKey .. ":delayed", parentId) then
      from = queueKey .. ":delayed"
      redis.call("HSET", parentKey, "delay", 0)
    end
    if from then
      redis.call("ZREM", from, parentId)
      redis.call("HSET", parentKey, "defa", failure)
      moveParentToReady(queueKey, parentKey, parentId, now, compat)
    elseif not redis.call("ZSCORE", queueKey .. ":failed", parentId) then
      redis.call("HSET", parentKey, "defa", failure)
    end
  elseif parent["cpof"] then
    if redis.call("SREM", deps, childKey) == 1 then
      redis.call("HSET", parentKey .. ":failed", childKey, reason)
      releaseParentIfWaiting(queueKey, parentKey, parentId, now, compat)
    end
  elseif parent["idof"] or parent["rdof"] then
    if redis.call("SREM", deps, childKey) == 1 then
      releaseParentIfDone(queueKey, parentKey, parentId, now, compat)
      if parent["idof"] then
        redis.call("HSET", parentKey .. ":failed", childKey, reason)
      end
    end
  end
end

-- Detach a job that is being deleted from its parent. When it was the parent's last
-- pending child and the parent waits for children, the parent goes to the front of its
-- wait list (ignoring its priority and delay, as Node does on removal).
local function detachFromParent(jobKey, parentKey, compat)
  if parentKey == nil or parentKey == "" then
    parentKey = redis.call("HGET", jobKey, "parentKey")
    if not parentKey or parentKey == "" or redis.call("EXISTS", parentKey) == 0 then
      return
    end
  end

  local deps = parentKey .. ":dependencies"
  if redis.call("SREM", deps, jobKey) == 0 or redis.call("SCARD", deps) > 0 then
    return
  end
  local queueKey, parentId = splitJobKey(parentKey)
  if redis.call("ZREM", queueKey .. ":waiting-children", parentId) == 0 then
    return
  end
  local target, pausedOrMaxed = getTargetList(queueKey .. ":meta", queueKey .. ":active",
    queueKey .. ":wait", queueKey .. ":paused", compat)
  redis.call("RPUSH", target, parentId)
  markReady(queueKey .. ":marker", pausedOrMaxed)
  redis.call("XADD", queueKey .. ":events", "*", "event", "waiting", "jobId", parentId,
    "prev", "waiting-children")
end
