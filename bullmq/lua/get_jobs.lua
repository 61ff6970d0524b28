--[[
  Read a page of jobs of several states, ids and hashes together, so a job deleted between
  the two reads is not returned. Ids without a hash (such as pre-5.0 "0:" markers) are
  skipped; for a bounded page the window moves on to fill the page, at most max
  iterations times. Lists (wait, paused, active) are newest first: index 0 is the head,
  the last job to be processed. asc reverses that, as Node's getJobs does; sorted sets
  are by score, ascending with asc.
  KEYS[i] the key of the state named by ARGV[4 + i]
  ARGV[1] start index
  ARGV[2] end index (inclusive; negative counts from the end)
  ARGV[3] "1" for ascending order
  ARGV[4] max iterations for a bounded page
  ARGV[5...] state names: wait, paused, active, completed, failed, delayed, prioritized,
             waiting-children
  Returns one array per state of {id, {field, value, ...}} pairs.
]]
local rangeStart = tonumber(ARGV[1])
local rangeEnd = tonumber(ARGV[2])
local asc = ARGV[3] == "1"
local maxIterations = tonumber(ARGV[4])

local function isList(state)
  return state == "wait" or state == "paused" or state == "active"
end

-- Read positions from..to of a state in the requested order.
local function readIds(key, state, from, to, length)
  if not isList(state) then
    if asc then
      return redis.call("ZRANGE", key, from, to)
    end
    return redis.call("ZREVRANGE", key, from, to)
  end
  if not asc then
    return redis.call("LRANGE", key, from, to)
  end

  -- Ascending order reads the list from its tail: position n is index -(n + 1).
  if length and from >= 0 and to >= 0 and from >= length then
    return {}
  end
  local tailFrom = -1 - from
  local tailTo = -1 - to
  if from == -1 then
    tailFrom = 0
  end
  if to == -1 then
    tailTo = 0
  end
  local ids = redis.call("LRANGE", key, tailTo, tailFrom)
  local reversed = {}
  for i = #ids, 1, -1 do
    reversed[#reversed + 1] = ids[i]
  end
  return reversed
end

local function addJob(entries, key, id)
  local fields = redis.call("HGETALL", key .. id)
  if #fields > 0 then
    entries[#entries + 1] = {id, fields}
  end
end

local function readState(key, state, prefix)
  local entries = {}
  local length
  if asc and isList(state) and rangeStart >= 0 and rangeEnd >= 0 then
    length = redis.call("LLEN", key)
  end

  if rangeStart < 0 or rangeEnd < 0 then
    for _, id in ipairs(readIds(key, state, rangeStart, rangeEnd, length)) do
      addJob(entries, prefix, id)
    end
    return entries
  end

  local pageSize = rangeEnd - rangeStart + 1
  local cursor = rangeStart
  for _ = 1, maxIterations do
    if #entries >= pageSize then
      break
    end
    local ids = readIds(key, state, cursor, cursor + pageSize - 1, length)
    if #ids == 0 then
      break
    end
    for _, id in ipairs(ids) do
      if #entries >= pageSize then
        break
      end
      addJob(entries, prefix, id)
    end
    cursor = cursor + #ids
  end
  return entries
end

local results = {}
for i, key in ipairs(KEYS) do
  local state = ARGV[4 + i]
  local prefix = string.sub(key, 1, #key - #state)
  results[i] = readState(key, state, prefix)
end
return results
