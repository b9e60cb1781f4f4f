-- Prepended to another script (store/redis.py): count one hit on a fixed-window counter, as
-- hit.lua does, and past the limit return 'limited' before the script behind it runs.
-- KEYS[1]  the counter (or "": no hit)    ARGV[1]  its window in ms    ARGV[2]  its limit
-- Then the next script's KEYS and ARGV, shifted down by 1 and 2.
local counter = table.remove(KEYS, 1)
local window, limit = table.remove(ARGV, 1), table.remove(ARGV, 1)
if counter ~= '' then
  local count = redis.call('INCR', counter)
  if count == 1 or redis.call('PTTL', counter) < 0 then
    redis.call('PEXPIRE', counter, window)
  end
  if count > tonumber(limit) then
    return 'limited'
  end
end
