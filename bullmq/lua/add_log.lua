--[[
  Append a line to a job's log, keeping only the newest keepLogs lines when set.
  KEYS[1] job, KEYS[2] job logs list
  ARGV[1] job id
  ARGV[2] log line
  ARGV[3] keepLogs, or "" to keep every line
  Returns the number of lines kept, or -1 when the job does not exist.
]]
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
local count = redis.call("RPUSH", KEYS[2], ARGV[2])
if ARGV[3] == "" then
  return count
end
local keep = tonumber(ARGV[3])
redis.call("LTRIM", KEYS[2], -keep, -1)
return math.min(keep, count)
