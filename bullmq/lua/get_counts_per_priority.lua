--[[
  Count the ready jobs of each priority. Priority 0 counts the wait list plus the paused
  list a 5.x pause keeps (Node 6.x counts wait only; the paused list exists only during a
  5.x-style pause). A positive priority p counts the prioritized members scored in
  [p * 2^32, (p + 1) * 2^32 - 1].
  KEYS[1] wait, KEYS[2] prioritized, KEYS[3] paused
  ARGV[i] a priority
  Returns one count per priority, in order.
]]
local counts = {}
for i, arg in ipairs(ARGV) do
  local priority = tonumber(arg)
  if priority == 0 then
    counts[i] = redis.call("LLEN", KEYS[1]) + redis.call("LLEN", KEYS[3])
  else
    counts[i] = redis.call("ZCOUNT", KEYS[2], priority * 0x100000000,
      (priority + 1) * 0x100000000 - 1)
  end
end
return counts
