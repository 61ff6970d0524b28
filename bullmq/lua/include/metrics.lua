-- Count one finished job in the per-minute metrics of hash metricsKey and list dataKey.
-- "count" is the total, and "prevTS"/"prevCount" mark the first finish of the newest minute.
-- Each closed minute pushes its count, plus a zero per empty minute, to the list head.
local function recordMetrics(metricsKey, dataKey, maxDataPoints, now)
  local before = redis.call("HINCRBY", metricsKey, "count", 1) - 1
  local prevTS = redis.call("HGET", metricsKey, "prevTS")
  if not prevTS then
    redis.call("HSET", metricsKey, "prevTS", now, "prevCount", 0)
    return
  end

  local minutes = math.floor(tonumber(now) / 60000) - math.floor(tonumber(prevTS) / 60000)
  local n = math.min(minutes, tonumber(maxDataPoints))
  if n <= 0 then
    return
  end
  local delta = before - tonumber(redis.call("HGET", metricsKey, "prevCount"))
  local points = {delta}
  for i = 2, n do
    points[i] = 0
  end
  for from = 1, #points, 7000 do
    redis.call("LPUSH", dataKey, unpack(points, from, math.min(from + 6999, #points)))
  end
  redis.call("LTRIM", dataKey, 0, tonumber(maxDataPoints) - 1)
  redis.call("HSET", metricsKey, "prevCount", before, "prevTS", now)
end
