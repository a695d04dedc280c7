-- worker.lua: the registry of live workers (what `workers()` lists).
--
-- KEYS: [1] <prefix>:{workers}             ZSET consumer -> liveness deadline (ms)
--       [2] <prefix>:{workers}:<consumer>  STRING the worker's info (JSON)
-- ARGV: [1] 'up' or 'down'  [2] consumer  [3] ttl (ms)  [4] info (for 'up')
-- 'up' stores the info with the TTL and renews the deadline; 'down' removes both.
-- Either way, workers whose deadline passed are forgotten.

local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
if ARGV[1] == 'up' then
  local ttl = tonumber(ARGV[3])
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ttl)
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
else
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return 1
