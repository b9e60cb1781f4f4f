-- One active e-card per person (Store.issue_card). All keys carry the person's hash tag.
-- KEYS[1] the person's current-card pointer, KEYS[2] the new card, KEYS[3] the expected old card
-- ARGV[1] expected card number ("" = none), ARGV[2] new card JSON, ARGV[3] new card number,
-- ARGV[4] ttl ms, ARGV[5] now
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
  return 'conflict'
end
if current ~= '' then
  local raw = redis.call('GET', KEYS[3])
  if raw then
    local old = cjson.decode(raw)
    if old['status'] == 'lost' or old['status'] == 'suspended' then
      return 'blocked'
    end
    if old['status'] ~= 'cancelled' then
      old['status'] = 'cancelled'
      old['reason'] = 'rebound'
      old['changed_at'] = tonumber(ARGV[5])
      redis.call('SET', KEYS[3], cjson.encode(old), 'PX', ARGV[4])
    end
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 'issued'
