-- Score of a delayed job due at dueMs: dueMs * 4096 plus a sequence number (0..4095) that
-- keeps jobs due in the same millisecond in insertion order.
local function delayedScore(delayedKey, dueMs)
  local base = tonumber(dueMs) * 0x1000
  local last = redis.call("ZREVRANGEBYSCORE", delayedKey, base + 0xfff, base,
    "WITHSCORES", "LIMIT", 0, 1)
  if #last == 0 then
    return base
  end
  local score = tonumber(last[2]) + 1
  if score > base + 0xfff then
    score = base + 0xfff
  end
  return score
end
