--[[
  Pause a queue. Node bullmq 6.x only sets meta.paused, so ready jobs stay in wait; 5.x also
  renames wait to paused, and a 5.x resume renames paused back over wait. The 5.x form is
  used when compat is "v5", or "auto" and meta.version names a 5.x client.

  KEYS[1] wait   KEYS[2] paused   KEYS[3] meta   KEYS[4] marker   KEYS[5] events
  ARGV[1] compat: "auto", "v6" or "v5"
]]
local rcall = redis.call

local waitKey = KEYS[1]
local pausedKey = KEYS[2]
local metaKey = KEYS[3]
local markerKey = KEYS[4]
local eventsKey = KEYS[5]
local compat = ARGV[1]

local function pausesLikeV5()
  if compat == "v5" then
    return true
  end
  if compat ~= "auto" then
    return false
  end
  local version = rcall("HGET", metaKey, "version")
  return version ~= false and string.sub(version, 1, 9) == "bullmq:5."
end

if pausesLikeV5() and rcall("EXISTS", waitKey) == 1 then
  if rcall("EXISTS", pausedKey) == 0 then
    rcall("RENAME", waitKey, pausedKey)
  else
    -- The paused list already contains jobs because the queue was paused before. RENAME
    -- would drop them, so move the wait jobs behind them instead, keeping their order.
    local batchSize = 7000
    while true do
      local ids = rcall("LRANGE", waitKey, -batchSize, -1)
      if #ids == 0 then
        break
      end
      local reversed = {}
      for i = #ids, 1, -1 do
        reversed[#reversed + 1] = ids[i]
      end
      rcall("LPUSH", pausedKey, unpack(reversed))
      rcall("LTRIM", waitKey, 0, -#ids - 1)
    end
  end
end

rcall("HSET", metaKey, "paused", 1)
rcall("DEL", markerKey)
rcall("XADD", eventsKey, "*", "event", "paused")
return 0
