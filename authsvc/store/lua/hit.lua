-- Fixed-window counter: the window starts at the first hit.
-- KEYS[1]  the counter
-- ARGV[1]  the window in milliseconds
-- Returns the count so far, this hit included.
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
