-- Release the lock of a job that leaves the active state and forget its stalled mark.
-- Token "0" means the caller holds no lock and skips the check. Returns 0, -6 when another
-- token holds the lock, or -2 when the lock is missing.
local function releaseJobLock(jobKey, stalledKey, token, jobId)
  if token == "0" then
    return 0
  end
  local current = redis.call("GET", jobKey .. ":lock")
  if current == token then
    redis.call("DEL", jobKey .. ":lock")
    redis.call("SREM", stalledKey, jobId)
    return 0
  end
  if current then
    return -6
  end
  return -2
end

-- Write the flat field/value list (a JSON array of strings) into the job hash.
local function setJobFields(jobKey, fieldsJson)
  if fieldsJson == nil or fieldsJson == "" then
    return
  end
  local fields = cjson.decode(fieldsJson)
  if #fields > 0 then
    redis.call("HSET", jobKey, unpack(fields))
  end
end
