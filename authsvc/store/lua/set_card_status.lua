-- Store.set_card_status: move one card's status only from an allowed one.
-- KEYS[1] the card; ARGV[1] new status, ARGV[2] reason, ARGV[3] now, ARGV[4] ttl ms,
-- ARGV[5..] allowed statuses. Returns the new JSON, or false.
local raw = redis.call('GET', KEYS[1])
if not raw then
  return false
end
local record = cjson.decode(raw)
local ok = false
for i = 5, #ARGV do
  if record['status'] == ARGV[i] then ok = true end
end
if not ok then
  return false
end
record['status'] = ARGV[1]
record['reason'] = ARGV[2]
record['changed_at'] = tonumber(ARGV[3])
local encoded = cjson.encode(record)
redis.call('SET', KEYS[1], encoded, 'PX', ARGV[4])
return encoded
