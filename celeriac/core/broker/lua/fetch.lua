-- fetch.lua: move due delayed messages to their streams, then read up to COUNT new ones.
--
-- KEYS: one block of 3 + NSTEPS keys per queue, queues in the order they are served:
--   [1] <prefix>:{q}:delayed        ZSET  member "<step>:<task id>", score = due (ms)
--   [2] <prefix>:{q}:delayed:data   HASH  member -> envelope
--   [3] <prefix>:{q}:wake           STREAM  a token when a new earliest delay is set;
--                                           idle workers block on it (same group) and
--                                           tokens they took are acknowledged here
--   [4..] <prefix>:{q}:stream:<step> STREAM, highest step first
-- ARGV: [1] group  [2] consumer  [3] count  [4] strict (1) or fair (0)
--       [5] most delayed messages promoted per queue  [6] NSTEPS  [7..] steps, highest first
-- Returns: { ms until the earliest still-delayed message is due, or -1 when none,
--            then for each message: key index, entry id, field list }
-- Time is Redis's own clock, so workers on hosts with skewed clocks agree.

local group, consumer = ARGV[1], ARGV[2]
local count, strict, limit = tonumber(ARGV[3]), ARGV[4] == '1', tonumber(ARGV[5])
local nsteps = tonumber(ARGV[6])
local block = 3 + nsteps
local nqueues = #KEYS / block
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)

local offset_of = {}  -- step (string) -> offset of its stream in a queue's block
for i = 1, nsteps do offset_of[ARGV[6 + i]] = 3 + i end

local function promote(base)
  local due = redis.call('ZRANGEBYSCORE', KEYS[base + 1], '-inf', now, 'LIMIT', 0, limit)
  for _, member in ipairs(due) do
    local data = redis.call('HGET', KEYS[base + 2], member)
    if data then
      -- a step this worker does not know goes to the lowest stream rather than be lost
      local offset = offset_of[string.match(member, '^([^:]*):')] or block
      redis.call('XADD', KEYS[base + offset], '*', 'm', data)
    end
    redis.call('ZREM', KEYS[base + 1], member)
    redis.call('HDEL', KEYS[base + 2], member)
  end
end

local out = { -1 }

local function read_stream(index, n)
  local key = KEYS[index]
  local res = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', key, '>')
  if type(res) == 'table' and res.err then  -- NOGROUP: first use, or Redis lost its data
    redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
    res = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', key, '>')
  end
  if not res then return 0 end
  local entries = res[1][2]
  for _, entry in ipairs(entries) do
    out[#out + 1] = index
    out[#out + 1] = entry[1]
    out[#out + 1] = entry[2]
  end
  return #entries
end

local function read_queue(base, n)
  local got = 0
  for offset = 4, block do
    if got >= n then break end
    got = got + read_stream(base + offset, n - got)
  end
  return got
end

for q = 0, nqueues - 1 do promote(q * block) end

local remaining = count
if not strict and nqueues > 1 then  -- fair: a share for each queue first
  local share = math.ceil(count / nqueues)
  for q = 0, nqueues - 1 do
    if remaining <= 0 then break end
    remaining = remaining - read_queue(q * block, math.min(share, remaining))
  end
end
for q = 0, nqueues - 1 do
  if remaining <= 0 then break end
  remaining = remaining - read_queue(q * block, remaining)
end

local function clear_wake_tokens(key)
  local pending = redis.pcall('XPENDING', key, group)
  if type(pending) == 'table' and pending.err then  -- no group yet: tokens start from now
    redis.call('XGROUP', 'CREATE', key, group, '$', 'MKSTREAM')
  elseif pending[1] > 0 then
    for _, entry in ipairs(redis.call('XPENDING', key, group, '-', '+', pending[1])) do
      redis.call('XACK', key, group, entry[1])
    end
  end
end

for q = 0, nqueues - 1 do
  clear_wake_tokens(KEYS[q * block + 3])
  local first = redis.call('ZRANGE', KEYS[q * block + 1], 0, 0, 'WITHSCORES')
  if first[2] then
    local wait = math.max(tonumber(first[2]) - now, 0)
    if out[1] == -1 or wait < out[1] then out[1] = wait end
  end
end
return out
