-- Take a person's session index in one step: each session is ended once.
-- KEYS[1]  the sorted set of entries
-- Returns its members, earliest `until` first (none: an empty list).
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return members
