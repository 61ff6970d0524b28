--[[
  Remove a job from whichever state holds it, with its keys, optionally with all its
  children, and write a "removed" event for each job deleted.
  KEYS[1] job, KEYS[2] repeat, KEYS[3] events, KEYS[4] meta
  ARGV[1] key prefix "<prefix>:<queue>:"
  ARGV[2] job id
  ARGV[3] "1" to remove the job's children too
  ARGV[4] pause compatibility mode: "auto", "v6" or "v5"
  Returns 1 when removed (also when the job did not exist), 0 when the job or one of its
  pending descendants is locked by a worker, -8 when the job is the pending iteration of a
  job scheduler.
]]
-- @include job_removal

local prefix = ARGV[1]
local jobId = ARGV[2]
local withChildren = ARGV[3] == "1"

if isSchedulerIteration(jobId, KEYS[1], KEYS[2]) then
  return -8
end
if isJobLocked(prefix, jobId, withChildren) then
  return 0
end
removeJobWithChildren(prefix, jobId, nil, withChildren, ARGV[4])
return 1
