-- cron.lua: read the state of periodic entries (the last tick each sent), starting the
-- entries seen for the first time at the server's clock, so that every scheduler
-- counts their ticks from the same moment.
--
-- KEYS: the state hashes, <prefix>:{<queue>}:cron, one per queue
-- ARGV: for each key in turn: n, then the names of n entries kept there
-- Returns { now (ms), then the last tick (ms) of each entry, in the order given }

local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local out, i = { now }, 1
for k = 1, #KEYS do
  local n = tonumber(ARGV[i])
  for j = i + 1, i + n do
    redis.call('HSETNX', KEYS[k], ARGV[j], now)
    out[#out + 1] = tonumber(redis.call('HGET', KEYS[k], ARGV[j]))
  end
  i = i + n + 1
end
return out
