--[[
  Renew the locks of jobs a worker is processing and clear their stalled marks.
  KEYS[1] stalled
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] lock duration, ms
  ARGV[3..] pairs of job id and lock token
  Returns the ids whose lock is missing or held by another token.
]]
local failed = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lockKey = ARGV[1] .. id .. ":lock"
  if redis.call("GET", lockKey) == token then
    redis.call("SET", lockKey, token, "PX", ARGV[2])
    redis.call("SREM", KEYS[1], id)
  else
    table.insert(failed, id)
  end
end
return failed
