-- End a claim: the entry the claim left behind (attempt ARGV[2]) becomes ARGV[3] due ARGV[4],
-- or is removed when ARGV[3] is ''. 0, nothing written, if another claim moved it on.
-- KEYS[1] the queue (sorted set: entry key -> due), KEYS[2] the entries (hash: key -> JSON)
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw or cjson.decode(raw).attempt ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
