--[[
  Find the state of a job, checking the states in the order Node bullmq's getState does.

  KEYS[1] completed   KEYS[2] failed   KEYS[3] delayed   KEYS[4] prioritized
  KEYS[5] active      KEYS[6] wait     KEYS[7] paused    KEYS[8] waiting-children
  ARGV[1] job id

  Returns completed, failed, delayed, prioritized, active, waiting (wait or paused list),
  waiting-children or unknown.
]]
local rcall = redis.call
local jobId = ARGV[1]

local function inList(key)
  local position = redis.pcall("LPOS", key, jobId)
  if type(position) == "table" and position.err then
    for _, id in ipairs(rcall("LRANGE", key, 0, -1)) do
      if id == jobId then
        return true
      end
    end
    return false
  end
  return position ~= false
end

if rcall("ZSCORE", KEYS[1], jobId) then
  return "completed"
end
if rcall("ZSCORE", KEYS[2], jobId) then
  return "failed"
end
if rcall("ZSCORE", KEYS[3], jobId) then
  return "delayed"
end
if rcall("ZSCORE", KEYS[4], jobId) then
  return "prioritized"
end
if inList(KEYS[5]) then
  return "active"
end
if inList(KEYS[6]) or inList(KEYS[7]) then
  return "waiting"
end
if rcall("ZSCORE", KEYS[8], jobId) then
  return "waiting-children"
end
return "unknown"
