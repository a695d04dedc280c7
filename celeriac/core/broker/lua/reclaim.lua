-- reclaim.lua: take over the messages of workers that died, or that nobody refreshed
-- within the visibility window; set aside the ones delivered too many times.
--
-- KEYS: [1] <prefix>:{q}:alive            ZSET consumer -> liveness deadline (ms)
--       [2] <prefix>:{q}:dead             STREAM dead letters
--       [3] <prefix>:{q}:wake             STREAM wake tokens (only its consumers are tidied)
--       [4..] <prefix>:{q}:stream:<step>  STREAM, highest step first
-- ARGV: [1] group  [2] consumer (the one taking over)  [3] count (most to take)
--       [4] window (ms): a message nobody refreshed for this long is taken even from a
--           live consumer (it lost track of it, or ran past its time limit)
--       [5] max deliveries: a message delivered this many times is dead-lettered instead
--           (a backstop: the worker itself dead-letters one that keeps killing workers)
--       [6] grace (ms): a message is never taken before it has been idle this long
--       [7] NSTEPS  [8..] the steps, in the order of KEYS[4..]
-- A message is taken when its consumer is not alive (its deadline passed) or it has been
-- idle for the window. Taking it (XCLAIM) counts a delivery. Consumers that are not alive
-- and hold nothing are removed from the group.
-- Returns: { number dead-lettered, then per message taken: key index, entry id,
--            field list, times delivered }

local group, me, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local window, max_deliveries, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local nsteps = tonumber(ARGV[7])
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)

local function alive(consumer)
  return redis.call('ZSCORE', KEYS[1], consumer) ~= false
end

local function dead_letter(k, entry, delivered)
  local fields = { 'reason', 'too-many-deliveries',
    'error', 'delivered ' .. delivered .. ' times without ever finishing',
    'step', ARGV[7 + k - 3], 'time', tostring(now) }
  local raw = entry[2]
  for j = 1, #raw, 2 do
    if raw[j] == 'm' then
      fields[#fields + 1] = 'm'
    else
      fields[#fields + 1] = 'raw:' .. raw[j]
    end
    fields[#fields + 1] = raw[j + 1]
  end
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end

local out, taken = { 0 }, 0
for k = 4, #KEYS do
  if taken >= count then break end
  local key = KEYS[k]
  local pending = redis.pcall('XPENDING', key, group, 'IDLE', grace, '-', '+', count - taken + 100)
  if type(pending) == 'table' and not pending.err then
    for _, p in ipairs(pending) do
      if taken >= count then break end
      local id, owner, idle, delivered = p[1], p[2], p[3], p[4]
      if not alive(owner) or idle >= window then
        local entry = redis.call('XRANGE', key, id, id)[1]
        if not entry then
          redis.call('XACK', key, group, id)  -- deleted under it: only the claim was left
        elseif delivered >= max_deliveries then
          dead_letter(k, entry, delivered)
          redis.call('XACK', key, group, id)
          redis.call('XDEL', key, id)
          out[1] = out[1] + 1
        else
          local got = redis.call('XCLAIM', key, group, me, grace, id)[1]
          if got then
            out[#out + 1] = k
            out[#out + 1] = got[1]
            out[#out + 1] = got[2]
            out[#out + 1] = delivered + 1
            taken = taken + 1
          end
        end
      end
    end
  end
end

local function tidy(key)
  local consumers = redis.pcall('XINFO', 'CONSUMERS', key, group)
  if type(consumers) ~= 'table' or consumers.err then return end
  for _, c in ipairs(consumers) do
    local name, held = nil, 0
    for j = 1, #c, 2 do
      if c[j] == 'name' then name = c[j + 1] elseif c[j] == 'pending' then held = c[j + 1] end
    end
    if name and name ~= me and held == 0 and not alive(name) then
      redis.call('XGROUP', 'DELCONSUMER', key, group, name)
    end
  end
end
for k = 3, #KEYS do tidy(KEYS[k]) end
return out
