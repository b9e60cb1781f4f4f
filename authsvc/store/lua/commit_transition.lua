-- A ticket transition in one round trip: compare-and-set on `version`, then the event and the
-- audit record, all or nothing. The event goes to the processes holding a listener for the
-- ticket (each one's own channel), not to every process. On a Redis Cluster the ticket, its
-- holders, their channels and the audit stream share one hash tag (the ticket's shard), so the
-- script stays on one slot.
-- KEYS[1]  the ticket hash        KEYS[2]  the audit stream
-- KEYS[3]  the set of processes holding the ticket's listeners (watch_ticket.lua)
-- KEYS[4]  (optional) the authorization code this transition issues: set with it, or not at all
-- ARGV[1]  expected version       ARGV[2]  new TTL in milliseconds
-- ARGV[3]  PUBLISH or SPUBLISH    ARGV[4]  event message ("{ticket_id} {json}"), or "" for a
--          change the browser does not see (published to nobody)
-- ARGV[5]  audit record (JSON)    ARGV[6]  approximate audit MAXLEN
-- ARGV[7]  "full": the fields are the whole ticket (rewrite it); "changed": only those that
--          differ from the expected version's (the version check makes that the stored one)
-- ARGV[8]  the shard's event channel prefix (a holder's channel is the prefix and its id)
-- ARGV[9]  the code's grant (JSON) ARGV[10] its TTL in milliseconds (both unused without KEYS[4])
-- ARGV[11] the committing process's id: not published to (it hands the event to its own
--          listeners itself, without the round trip through Redis)
-- ARGV[12…] field, value, … of the new ticket
-- Returns 1 if the transition was committed, 0 if the version moved on (nothing written).
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 0
end
if ARGV[7] == 'full' then
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 12))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if KEYS[4] then
  redis.call('SET', KEYS[4], ARGV[9], 'PX', ARGV[10])
end
if ARGV[4] ~= '' then
  for _, holder in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if holder ~= ARGV[11] then
      redis.call(ARGV[3], ARGV[8] .. holder, ARGV[4])
    end
  end
end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'r', ARGV[5])
return 1
