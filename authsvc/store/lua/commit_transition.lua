-- A ticket transition in one round trip: compare-and-set on `version`, then the event and the
-- audit record, all or nothing. On a Redis Cluster all three keys share one hash tag (the
-- ticket's shard), so the script stays on one slot.
-- KEYS[1]  the ticket hash        KEYS[2]  the audit stream      KEYS[3]  the event channel
-- ARGV[1]  expected version       ARGV[2]  new TTL in milliseconds
-- ARGV[3]  PUBLISH or SPUBLISH    ARGV[4]  event message ("{ticket_id} {json}")
-- ARGV[5]  audit record (JSON)    ARGV[6]  approximate audit MAXLEN
-- ARGV[7]  "full": the fields are the whole ticket (rewrite it); "changed": only those that
--          differ from the expected version's (the version check makes that the stored one)
-- ARGV[8…] field, value, … of the new ticket
-- Returns 1 if the transition was committed, 0 if the version moved on (nothing written).
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 0
end
if ARGV[7] == 'full' then
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call(ARGV[3], KEYS[3], ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'r', ARGV[5])
return 1
