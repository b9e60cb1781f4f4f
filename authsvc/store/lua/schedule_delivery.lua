-- Queue a back-channel logout delivery (store/deliveries.py).
-- KEYS[1] the queue (sorted set: entry key -> due), KEYS[2] the entries (hash: key -> JSON)
-- ARGV[1] entry key, ARGV[2] entry JSON, ARGV[3] due
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
