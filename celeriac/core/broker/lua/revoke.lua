-- revoke.lua: revoke tasks: remember it (with a TTL), tell the workers, and take the
-- tasks out of where they wait when they have not reached a queue yet.
--
-- ARGV: [1] mode  [2] prefix  [3] ttl (ms)  [4] control channel  [5] queue (mode 'take')
--       [6] NSTEPS  [7 .. 6+NSTEPS] steps  [7+NSTEPS ..] task ids
-- Modes:
--   'all'   (single Redis) KEYS[1] = <prefix>:{control}:revoked, ZSET id -> expiry (ms):
--           remember and announce, then take each task out of its queue, read from its
--           result hash (field q)
--   'note'  (Cluster, first step) the same KEYS[1]: remember and announce only
--   'take'  (Cluster, second step) KEYS[1] = <prefix>:{<queue>}:waiting: take these
--           tasks of that queue out
-- Taking out: from the queue's delayed set (member "<step>:<id>") or its waiting hash
-- (a task waiting for parents). A task already in a stream stays there: workers skip
-- revoked ids.
-- Keys made here from the prefix (in mode 'all' any queue's; in mode 'take' the slot of
-- KEYS[1]; see keys.py):
--   <prefix>:result:{<id>}  <prefix>:{<q>}:delayed  <prefix>:{<q>}:delayed:data
--   <prefix>:{<q>}:waiting  <prefix>:{<q>}:parents:<id>
-- Returns, per id: "delayed", "waiting", or "" (queued, running, finished or unknown;
-- mode 'note': always "").
-- Announces on the channel (modes 'all' and 'note'): "revoke <id> <id> ...".

local mode, prefix, ttl, channel = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local nsteps = tonumber(ARGV[6])
local first_id = 7 + nsteps

local function take_out(id, queue)
  local base = prefix .. ':{' .. queue .. '}:'
  for s = 7, 6 + nsteps do
    local member = ARGV[s] .. ':' .. id
    if redis.call('ZREM', base .. 'delayed', member) == 1 then
      redis.call('HDEL', base .. 'delayed:data', member)
      return 'delayed'
    end
  end
  if redis.call('HDEL', base .. 'waiting', id) == 1 then
    redis.call('DEL', base .. 'parents:' .. id)
    return 'waiting'
  end
  return ''
end

local out = {}
if mode == 'take' then
  for i = first_id, #ARGV do out[#out + 1] = take_out(ARGV[i], ARGV[5]) end
  return out
end

local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = {}
for i = first_id, #ARGV do
  local id = ARGV[i]
  redis.call('ZADD', KEYS[1], now + ttl, id)
  local queue = mode == 'all' and redis.call('HGET', prefix .. ':result:{' .. id .. '}', 'q')
  out[#out + 1] = queue and take_out(id, queue) or ''
  ids[#ids + 1] = id
end
redis.call('PUBLISH', channel, 'revoke ' .. table.concat(ids, ' '))
return out
