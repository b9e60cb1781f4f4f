-- Write a new ticket hash, and its audit record, in one round trip (a script: one slot on a
-- Redis Cluster too: the ticket and its shard's audit stream share a hash tag).
-- KEYS[1]  the ticket hash        KEYS[2]  the audit stream
-- ARGV[1]  TTL in milliseconds    ARGV[2]  audit record (JSON), or "" for none
-- ARGV[3]  approximate audit MAXLEN
-- ARGV[4…] field, value, … of the ticket
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'r', ARGV[2])
end
return 1
