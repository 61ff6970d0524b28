--[[
  Return how long the queue stays rate limited, in ms.
  KEYS[1] limiter, KEYS[2] meta
  ARGV[1] max jobs of the asking worker; "0" to use the queue's global max
  Returns the limiter's remaining ms when its counter has reached the max, else 0. With
  ARGV[1] "0" and no global max, returns PTTL of the limiter key (-2 missing, -1 no expiry).
]]
-- @include fetch_job

local maxJobs = tonumber(ARGV[1])
if maxJobs == 0 then
  maxJobs = tonumber(redis.call("HGET", KEYS[2], "max"))
  if not maxJobs then
    return redis.call("PTTL", KEYS[1])
  end
end
return limiterTTL(KEYS[1], maxJobs)
