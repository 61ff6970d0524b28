--[[
  Delete a deduplication key only when it still names the given job, so a key that a newer
  job owns is left alone.
  KEYS[1] deduplication key "<prefix>:<queue>:de:<id>"
  ARGV[1] job id
  Returns 1 when the key was deleted, else 0.
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
