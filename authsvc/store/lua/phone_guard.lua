-- Prepended to commit_transition.lua (store/redis.py): a phone step decided on what this
-- process recalled (store.base.Assumed) commits only if that is still what Redis holds, and
-- spends the request's nonce and counts its rate-limit hit in the same round trip.
-- KEYS[1]  the request's nonce     KEYS[2]  the e-card record    KEYS[3]  the face lock (or "")
-- KEYS[4]  the rate-limit counter (or "")
-- ARGV[1]  the nonce's TTL in ms   ARGV[2]  the e-card record as recalled
-- ARGV[3]  the face lock as recalled ("" = none)   ARGV[4]  the counter's window in ms
-- ARGV[5]  the counter's limit
-- Then commit_transition.lua's KEYS and ARGV, shifted down by 4 and 5. Returns 'replayed'
-- (nothing written), 'stale' (only the nonce spent), 'limited' (the nonce spent, the hit
-- counted), or what commit_transition.lua returns.
local guard_keys, guard_args = {}, {}
for i = 1, 4 do guard_keys[i] = table.remove(KEYS, 1) end
for i = 1, 5 do guard_args[i] = table.remove(ARGV, 1) end
if not redis.call('SET', guard_keys[1], '1', 'NX', 'PX', guard_args[1]) then
  return 'replayed'
end
if redis.call('GET', guard_keys[2]) ~= guard_args[2] then
  return 'stale'
end
if guard_keys[3] ~= '' and (redis.call('GET', guard_keys[3]) or '') ~= guard_args[3] then
  return 'stale'
end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return 'stale'
end
if guard_keys[4] ~= '' then
  local count = redis.call('INCR', guard_keys[4])
  if count == 1 or redis.call('PTTL', guard_keys[4]) < 0 then
    redis.call('PEXPIRE', guard_keys[4], guard_args[4])
  end
  if count > tonumber(guard_args[5]) then
    return 'limited'
  end
end
