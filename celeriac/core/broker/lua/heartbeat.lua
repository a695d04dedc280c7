-- heartbeat.lua: a worker's claim on one queue: mark it alive, and refresh the messages
-- it still holds so that no other worker takes them.
--
-- KEYS: [1] <prefix>:{q}:alive            ZSET consumer -> liveness deadline (ms)
--       [2..] <prefix>:{q}:stream:<step>  the streams of the ids in ARGV, in order
-- ARGV: [1] group  [2] consumer  [3] ttl (ms)
--       then for each stream in KEYS[2..]: n, id1 .. idn  (messages to refresh)
-- A message is refreshed (XCLAIM IDLE 0 JUSTID, which does not count as a delivery)
-- only while this consumer still owns it.
-- Returns: the ids that this consumer no longer owns (taken by another worker, or
--          already acknowledged), all streams together.
-- Time is Redis's own clock.

local group, consumer, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZADD', KEYS[1], now + ttl, consumer)

local lost, i = {}, 4
for k = 2, #KEYS do
  local n = tonumber(ARGV[i])
  local mine = {}
  for j = i + 1, i + n do
    local entry = redis.call('XPENDING', KEYS[k], group, ARGV[j], ARGV[j], 1)[1]
    if entry and entry[2] == consumer then
      mine[#mine + 1] = ARGV[j]
    else
      lost[#lost + 1] = ARGV[j]
    end
  end
  if #mine > 0 then
    local args = { KEYS[k], group, consumer, 0 }
    for _, id in ipairs(mine) do args[#args + 1] = id end
    args[#args + 1] = 'IDLE'
    args[#args + 1] = 0
    args[#args + 1] = 'JUSTID'
    redis.call('XCLAIM', unpack(args))
  end
  i = i + n + 1
end
return lost
