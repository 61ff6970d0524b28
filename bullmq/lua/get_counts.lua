--[[
  Count the jobs of several states.

  KEYS[i] the key of a state
  ARGV[i] its kind: "list", "ready-list" (wait or paused, where a trailing id starting with
          "0:" is a marker left by bullmq before 5.0: it is removed and not counted) or
          "zset"

  Returns one count per key, in order.
]]
local rcall = redis.call
local counts = {}

for i, key in ipairs(KEYS) do
  local kind = ARGV[i]
  if kind == "zset" then
    counts[i] = rcall("ZCARD", key)
  elseif kind == "ready-list" then
    local count = rcall("LLEN", key)
    local last = rcall("LINDEX", key, -1)
    if last and string.sub(last, 1, 2) == "0:" then
      rcall("RPOP", key)
      count = count - 1
    end
    counts[i] = count
  else
    counts[i] = rcall("LLEN", key)
  end
end

return counts
