-- A queue is "paused or maxed" while meta.paused is set, or while meta.concurrency is set
-- and the active list already contains that many jobs. Ready jobs then get no "0" marker.
local function queueIsBlocked(metaKey, activeKey)
  local fields = redis.call("HMGET", metaKey, "paused", "concurrency")
  if fields[1] then
    return true
  end
  if fields[2] then
    return redis.call("LLEN", activeKey) >= tonumber(fields[2])
  end
  return false
end

-- Return whether ready jobs must go to the paused list instead of wait. Node bullmq 5.x
-- keeps ready jobs of a paused queue in "paused" and renames that list over "wait" on
-- resume, so while a 5.x-style pause is in effect every writer must use "paused" too.
-- compat is "v6", "v5" or "auto" (5.x style when the paused list exists or the meta
-- version names a 5.x client).
local function usePausedList(metaKey, pausedKey, compat)
  if redis.call("HEXISTS", metaKey, "paused") == 0 or compat == "v6" then
    return false
  end
  if compat == "v5" or redis.call("EXISTS", pausedKey) == 1 then
    return true
  end
  local version = redis.call("HGET", metaKey, "version")
  return version ~= false and string.sub(version, 1, 9) == "bullmq:5."
end

-- Return the list that ready priority-0 jobs are pushed to, and whether the queue is
-- paused or maxed.
local function getTargetList(metaKey, activeKey, waitKey, pausedKey, compat)
  local pausedOrMaxed = queueIsBlocked(metaKey, activeKey)
  if pausedOrMaxed and usePausedList(metaKey, pausedKey, compat) then
    return pausedKey, true
  end
  return waitKey, pausedOrMaxed
end
