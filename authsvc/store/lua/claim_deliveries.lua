-- Claim the back-channel logout deliveries due by now: each one is returned as it was and, in
-- this same atomic step, replaced by its next attempt due once the lease is over.
-- KEYS[1] the queue (sorted set: entry key -> due), KEYS[2] the entries (hash: key -> JSON)
-- ARGV[1] now, ARGV[2] now + lease, ARGV[3] limit
-- Returns {json, due, json, due, ...}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local claimed = {}
for i = 1, #due, 2 do
  local key, score = due[i], due[i + 1]
  local raw = redis.call('HGET', KEYS[2], key)
  if raw then
    local entry = cjson.decode(raw)
    entry.attempt = entry.attempt + 1
    redis.call('HSET', KEYS[2], key, cjson.encode(entry))
    redis.call('ZADD', KEYS[1], ARGV[2], key)
    claimed[#claimed + 1] = raw
    claimed[#claimed + 1] = score
  else
    redis.call('ZREM', KEYS[1], key)
  end
end
return claimed
