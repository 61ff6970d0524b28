--[[
  Fetch the next job for a worker and move it to active (see include/fetch_job.lua).
  KEYS[1] wait, KEYS[2] active, KEYS[3] prioritized, KEYS[4] events, KEYS[5] stalled,
  KEYS[6] limiter, KEYS[7] delayed, KEYS[8] paused, KEYS[9] meta, KEYS[10] pc,
  KEYS[11] marker
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] now, ms
  ARGV[3..7] fetch arguments: lock token, lock duration in ms, worker name or "",
             limiter max or "", limiter duration in ms or ""
  ARGV[8] pause compatibility mode: "auto", "v6" or "v5"
  Returns {fields, id, 0, 0}, {0, 0, rateLimitTtl, 0} or {0, 0, 0, nextDelayedDue}.
]]
-- @include fetch_job

local k = {wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8], meta = KEYS[9], pc = KEYS[10],
  marker = KEYS[11], prefix = ARGV[1]}

local result = fetchJob(k, ARGV[2], fetchArgs(3), ARGV[8])
if result then
  return result
end
return {0, 0, 0, 0}
