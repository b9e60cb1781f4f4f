-- Take a value and leave a marker in its place, in one step: whoever finds the value gone
-- always finds the marker (a replayed authorization code finds what to revoke).
-- KEYS[1]  the value to take        KEYS[2]  the marker
-- ARGV[1]  the marker (JSON)        ARGV[2]  the marker's TTL in milliseconds
-- Returns the value taken, or false if there was none (and then nothing is written).
local value = redis.call('GET', KEYS[1])
if not value then
  return false
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return value
