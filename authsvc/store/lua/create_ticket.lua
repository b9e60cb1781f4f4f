-- Write a new ticket hash in one round trip (a script: one slot on a Redis Cluster too).
-- KEYS[1]  the ticket hash
-- ARGV[1]  TTL in milliseconds
-- ARGV[2…] field, value, … of the ticket
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
