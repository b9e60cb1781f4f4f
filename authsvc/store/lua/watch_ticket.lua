-- A ticket read by a process that holds a listener for it: the read and the process's place
-- among the ticket's holders, atomically, so that every transition either is in what this
-- read returns or is published to this process (commit_transition.lua publishes to holders).
-- KEYS[1]  the ticket hash        KEYS[2]  the set of processes holding its listeners
-- ARGV[1]  this process's id
-- Returns the ticket's fields (HGETALL); nothing is written when there is no ticket.
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then
  redis.call('SADD', KEYS[2], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
return fields
