-- Prepended to hit_guard.lua and commit_transition.lua (store/redis.py): a phone step decided
-- on what this process recalled (store.base.Assumed) commits only if that is still what Redis
-- holds, and spends the request's nonce (and, behind it, counts its hit) in the same round
-- trip.
-- KEYS[1]  the request's nonce     KEYS[2]  the e-card record    KEYS[3]  the face lock (or "")
-- ARGV[1]  the nonce's TTL in ms   ARGV[2]  the e-card record as recalled
-- ARGV[3]  the face lock as recalled ("" = none)
-- Then hit_guard.lua's KEYS and ARGV, shifted down by 3 and 3, and commit_transition.lua's.
-- Returns 'replayed' (nothing written), 'stale' (only the nonce spent), or what the scripts
-- behind it return ('limited': the nonce spent, the hit counted).
local nonce, card, lock = table.remove(KEYS, 1), table.remove(KEYS, 1), table.remove(KEYS, 1)
local nonce_ttl, recalled_card = table.remove(ARGV, 1), table.remove(ARGV, 1)
local recalled_lock = table.remove(ARGV, 1)
if not redis.call('SET', nonce, '1', 'NX', 'PX', nonce_ttl) then
  return 'replayed'
end
if redis.call('GET', card) ~= recalled_card then
  return 'stale'
end
if lock ~= '' and (redis.call('GET', lock) or '') ~= recalled_lock then
  return 'stale'
end
-- KEYS[2] and ARGV[3] are the commit's ticket and expected version once hit_guard.lua has
-- taken its own.
if redis.call('HGET', KEYS[2], 'version') ~= ARGV[3] then
  return 'stale'
end
