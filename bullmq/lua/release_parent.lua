--[[
  Release a flow parent from waiting-children when none of its children is pending. A
  flow runs it for every parent after adding the whole tree, because an add that meets an
  existing completed child only records its result: the parent's other children may not
  exist yet at that point. A parent marked "flowAttachmentFailed" (one of its children
  belongs to another parent) is left waiting and loses the mark.

  KEYS[1] parent job, KEYS[2] parent dependencies
  ARGV[1] parent queue key "<prefix>:<queue>"
  ARGV[2] parent id
  ARGV[3] now, ms
  ARGV[4] pause compatibility mode: "auto", "v6" or "v5"
]]
-- @include parent_update

if redis.call("HGET", KEYS[1], "flowAttachmentFailed") then
  redis.call("HDEL", KEYS[1], "flowAttachmentFailed")
  return 0
end
releaseParentIfDone(ARGV[1], KEYS[1], ARGV[2], ARGV[3], ARGV[4])
return 0
