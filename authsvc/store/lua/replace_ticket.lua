-- Compare-and-set a ticket hash on its `version` field.
-- KEYS[1]  the ticket hash
-- ARGV[1]  the expected version (decimal string, as codec.to_fields writes it)
-- ARGV[2]  the new TTL in milliseconds
-- ARGV[3…] field, value, field, value… of the new ticket
-- Returns 1 if the ticket was replaced, 0 if it is missing or its version moved on.
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
