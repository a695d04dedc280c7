-- commit.lua: apply a batch of writes in one atomic step: send, delay, wait for parents,
-- store results (releasing dependents), dead-letter, nack and acknowledge.
--
-- KEYS: the keys the operations below name, by index
-- ARGV[1]: the consumer group  ARGV[2]: the key prefix (for keys made here, see below)
-- ARGV[3]: '1' on a single Redis (the graph is handled here, across queues), '0' on a
--          Cluster, where every call touches one slot and the client walks the graph
--          in steps (ops C, K and F; see celeriac/core/broker/_cluster.py)
-- then operations, each an opcode and its arguments:
--   'U' k id ttl expect skip
--                         a unique task is sent: take lock KEYS[k] (value "id|ms") unless
--                         another instance holds it. Single Redis: the holder counts
--                         while its result hash exists and is not final, and it is not
--                         revoked (<prefix>:{control}:revoked); when it does, a
--                         'U' notice and the next skip ARGV slots (the rest of this
--                         task's operations) are skipped. Cluster: taken when free or
--                         held by expect (a holder the client found gone), else a 'U'
--                         notice and the client decides (see _cluster.py)
--   'S' k id holder       Cluster: is the lock holder alive (result hash KEYS[k])? an 'S'
--                         notice
--   'V' k id holder       Cluster: is the lock holder revoked (zset KEYS[k])? a 'V' notice
--   'T' k entry tick id skip
--                         a periodic entry's tick (ms) is sent: unless hash KEYS[k] holds
--                         a tick for entry at or after it, set it there; else a 'T' notice
--                         and the next skip ARGV slots (the tick's message) are skipped
--   'Q' k id              a unique task finished: release lock KEYS[k] if id holds it
--   'H' k limit n id1 .. idn
--                         tasks of a queue finished: LPUSH them on list KEYS[k], keep the
--                         newest limit
--   'P' k ttl id queue name
--                         a task was sent: unless result hash KEYS[k] exists, mark it
--                         PENDING (fields s, q, n) for ttl ms
--   'R' k ttl state data  store a result: HSET KEYS[k] s state d data (no d when data
--                         is empty), PEXPIRE ttl (ms, 0: none), PUBLISH data on KEYS[k];
--                         a final state (SUCCESS, FAILURE, REVOKED, REJECTED) releases
--                         the dependents listed in the task's set <prefix>:deps:{<id>},
--                         made here from KEYS[k] (<prefix>:result:{<id>}, the same
--                         slot); on a Cluster they are reported, as 'F' notices. (One
--                         EXISTS over all of a call's such sets first: when none exists,
--                         no result looks further)
--   'X' k data            XADD stream KEYS[k] with field m = data
--   'D' z h w member due data
--                         delay: ZADD KEYS[z] due member, HSET KEYS[h] member data, and
--                         when it is now the earliest, XADD a token to stream KEYS[w]
--   'W' h p step due child queue data n parent1 .. parentn
--                         a task waits for its parents: HSET KEYS[h] child
--                         "step|due|data" (due < 0: -due ms after the parents are
--                         done), SADD KEYS[p] the parents, and (single Redis)
--                         add "queue|child" to each parent's dependents set. A parent
--                         written "~id" was sent by an earlier call of the same batch:
--                         if it has finished since, it is not waited for, and a child
--                         with nothing left to wait for (or a failed parent) is freed
--   'L' k n f1 v1 .. fn vn
--                         XADD a dead letter with n field/value pairs to stream KEYS[k]
--   'N' k s id            nack: append entry id's fields to the end of stream KEYS[k]
--                         again; forget its start count in hash KEYS[s]
--   'A' k s n id1 .. idn  acknowledge n entries of stream KEYS[k], delete them, and
--                         forget their start counts in hash KEYS[s]
-- Cluster steps of the graph (each on the slot of its keys):
--   'C' k parent          check a parent (result hash KEYS[k]): an 'E' notice when it is
--                         unknown or already finished
--   'K' k d queue child parent
--                         link: add "queue|child" to the parent's dependents set KEYS[d],
--                         or, when the parent (result hash KEYS[k]) has finished already,
--                         an 'F' notice instead
--   'F' h p queue child parent ok
--                         a parent finished (ok = '1': it succeeded): free the child
--                         (waiting hash KEYS[h], its parents set KEYS[p]) as 'R' does
--   'Z' d                 delete a finished task's dependents set KEYS[d]
-- Keys made here from the prefix (same layout as celeriac/core/keys.py); on a single
-- Redis a parent's dependents may sit on any queue; on a Cluster only keys of the slot
-- of the call's own keys are made:
--   <prefix>:result:{<id>}  <prefix>:deps:{<id>}  <prefix>:{<q>}:waiting
--   <prefix>:{<q>}:parents:<child>  <prefix>:{<q>}:stream:<step>
--   <prefix>:{<q>}:delayed  <prefix>:{<q>}:delayed:data  <prefix>:{<q>}:wake
-- On a single Redis every 'W' is checked before anything is written: each parent must
-- be known (sent in this call or, "~id", an earlier call of the batch, or its result
-- hash exists) and not finished, else an error reply.
-- Returns the notices: { 'F', queue, child, parent, ok } (a child to free),
-- { 'E', problem } (a parent refused by 'C'), { 'U', id, holder, age ms } (a unique task
-- not sent: another instance holds its lock), { 'S', id, holder, state or '' } and
-- { 'V', id, holder, '1' when revoked else '0' } and { 'T', id } (a tick sent already).

local group, prefix, linked = ARGV[1], ARGV[2], ARGV[3] == '1'
local clock_ms = nil

-- Redis's clock in ms, read once and only by the operations that need it: sends and
-- results do not, and TIME was ~3 us of the ~35 us a single send's script takes
local function now()
  if not clock_ms then
    local clock = redis.call('TIME')
    clock_ms = clock[1] * 1000 + math.floor(clock[2] / 1000)
  end
  return clock_ms
end
local FINAL = { SUCCESS = true, FAILURE = true, REVOKED = true, REJECTED = true }
local FIRST = 4  -- where the operations start in ARGV
local notices = {}

-- how many ARGV slots each operation takes, given its position
local function width(i)
  local op = ARGV[i]
  if op == 'P' then return 6 end
  if op == 'R' then return 5 end
  if op == 'X' then return 3 end
  if op == 'D' then return 7 end
  if op == 'W' then return 9 + tonumber(ARGV[i + 8]) end
  if op == 'L' then return 3 + 2 * tonumber(ARGV[i + 2]) end
  if op == 'N' then return 4 end
  if op == 'A' then return 4 + tonumber(ARGV[i + 3]) end
  if op == 'C' then return 3 end
  if op == 'K' then return 6 end
  if op == 'F' then return 7 end
  if op == 'Z' then return 2 end
  if op == 'U' then return 6 end
  if op == 'S' then return 4 end
  if op == 'V' then return 4 end
  if op == 'Q' then return 3 end
  if op == 'T' then return 6 end
  if op == 'H' then return 4 + tonumber(ARGV[i + 3]) end
  return nil
end

-- why a task cannot wait for this parent (result hash key), or nil
local function refused(key, parent)
  local state = redis.call('HGET', key, 's')
  if not state then
    return 'unknown parent task ' .. parent .. ' (never sent, or its record expired)'
  elseif FINAL[state] then
    return 'parent task ' .. parent .. ' already finished (' .. state .. ')'
  end
  return nil
end

local function revoked(key, task_id)
  local expiry = redis.call('ZSCORE', key, task_id)
  return expiry and tonumber(expiry) > now()
end

-- whether a task still counts as queued or running: its result hash says so, and it
-- has not been revoked
local function alive(task_id)
  local state = redis.call('HGET', prefix .. ':result:{' .. task_id .. '}', 's')
  return state and not FINAL[state] and not revoked(prefix .. ':{control}:revoked', task_id)
end

local function lock_holder(key)
  local value = redis.call('GET', key)
  if not value then return nil, 0 end
  local holder, since = string.match(value, '^(.*)|(%d+)$')
  local at = now()
  return holder or value, at - (tonumber(since) or at)
end

-- first pass: shape of every operation, every parent of every waiting task, and the
-- dependents sets of the tasks that finish
local sent, i = {}, FIRST
local deps_of, deps_keys, linking = {}, {}, false
while i <= #ARGV do
  local w = width(i)
  if not w then return redis.error_reply('commit.lua: unknown operation ' .. tostring(ARGV[i])) end
  if ARGV[i] == 'P' then sent[ARGV[i + 3]] = true end
  if ARGV[i] == 'R' and FINAL[ARGV[i + 3]] then
    local k = KEYS[tonumber(ARGV[i + 1])]
    deps_of[i] = prefix .. ':deps:' .. string.sub(k, #prefix + 9)
    deps_keys[#deps_keys + 1] = deps_of[i]
  end
  if ARGV[i] == 'W' or ARGV[i] == 'K' then linking = true end
  if ARGV[i] == 'W' and linked then
    for j = i + 9, i + 8 + tonumber(ARGV[i + 8]) do
      local parent = ARGV[j]  -- '~' marks a parent sent by an earlier call of this batch
      local problem = not sent[parent] and string.sub(parent, 1, 1) ~= '~'
        and refused(prefix .. ':result:{' .. parent .. '}', parent)
      if problem then return redis.error_reply('celeriac graph: ' .. problem) end
    end
  end
  i = i + w
end

-- Most finished tasks have no dependents: one EXISTS for the whole call tells, instead
-- of an SMEMBERS per result. A call that also links children ('W', 'K') looks at each.
local dependents = linking
if not dependents and #deps_keys > 0 then
  dependents = redis.call('EXISTS', unpack(deps_keys)) > 0
end

local function queue_key(queue, rest)
  return prefix .. ':{' .. queue .. '}:' .. rest
end

local function delay(zset, data_key, wake, member, due, data)
  local first = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2]
  redis.call('ZADD', zset, due, member)
  redis.call('HSET', data_key, member, data)
  if first == nil or due < tonumber(first) then
    redis.call('XADD', wake, 'MAXLEN', '~', 16, '*', 'w', '1')
  end
end

local function promote(queue, child, item)
  local step, due, data = string.match(item, '^(%-?%d+)|(%-?%d+)|(.*)$')
  due = tonumber(due)
  if due < 0 then due = now() - due end  -- that many ms after the parents are done
  if due > now() then
    delay(queue_key(queue, 'delayed'), queue_key(queue, 'delayed:data'), queue_key(queue, 'wake'),
      step .. ':' .. child, due, data)
  else
    redis.call('XADD', queue_key(queue, 'stream:' .. step), '*', 'm', data)
  end
end

-- A parent finished: a child whose parents all succeeded (or one of whose parents did
-- not) goes to its queue; it finds out which when it runs. Freeing twice is harmless.
local function free(queue, child, parent, succeeded)
  local parents_key = queue_key(queue, 'parents:' .. child)
  redis.call('SREM', parents_key, parent)
  if not succeeded or redis.call('SCARD', parents_key) == 0 then
    local waiting = queue_key(queue, 'waiting')
    local item = redis.call('HGET', waiting, child)
    if item then
      redis.call('HDEL', waiting, child)
      redis.call('DEL', parents_key)
      promote(queue, child, item)
    end
  end
end

-- the dependents of a finished parent: freed here (single Redis) or reported (Cluster,
-- where the set stays until an 'Z', so a crash before the children are freed loses
-- nothing: the task runs again and reports them again)
local function release(deps_key, succeeded)
  local members = redis.call('SMEMBERS', deps_key)
  if #members == 0 then return end
  local parent = string.match(deps_key, ':deps:{(.*)}$')
  for _, member in ipairs(members) do
    local queue, child = string.match(member, '^(.-)|(.*)$')
    if linked then
      free(queue, child, parent, succeeded)
    else
      notices[#notices + 1] = { 'F', queue, child, parent, succeeded and '1' or '0' }
    end
  end
  if linked then redis.call('DEL', deps_key) end
end

-- second pass: apply
i = FIRST
while i <= #ARGV do
  local op, k, w = ARGV[i], KEYS[tonumber(ARGV[i + 1])], width(i)
  if op == 'P' then
    if redis.call('EXISTS', k) == 0 then
      redis.call('HSET', k, 's', 'PENDING', 'q', ARGV[i + 4], 'n', ARGV[i + 5])
      if tonumber(ARGV[i + 2]) > 0 then redis.call('PEXPIRE', k, ARGV[i + 2]) end
    end
  elseif op == 'R' then
    local ttl, state, data = tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4]
    if data == '' then
      redis.call('HSET', k, 's', state)
      redis.call('HDEL', k, 'd')
    else
      redis.call('HSET', k, 's', state, 'd', data)
      redis.call('PUBLISH', k, data)
    end
    if ttl > 0 then redis.call('PEXPIRE', k, ttl) else redis.call('PERSIST', k) end
    if deps_of[i] and dependents then release(deps_of[i], state == 'SUCCESS') end
  elseif op == 'X' then
    redis.call('XADD', k, '*', 'm', ARGV[i + 2])
  elseif op == 'D' then
    delay(k, KEYS[tonumber(ARGV[i + 2])], KEYS[tonumber(ARGV[i + 3])], ARGV[i + 4],
      tonumber(ARGV[i + 5]), ARGV[i + 6])
  elseif op == 'W' then
    local child, queue = ARGV[i + 5], ARGV[i + 6]
    local item = ARGV[i + 3] .. '|' .. ARGV[i + 4] .. '|' .. ARGV[i + 7]
    redis.call('HSET', k, child, item)
    local parents_key = KEYS[tonumber(ARGV[i + 2])]
    local waits, failed = false, false
    for j = i + 9, i + 8 + tonumber(ARGV[i + 8]) do
      local parent = ARGV[j]
      local earlier = string.sub(parent, 1, 1) == '~'
      if earlier then parent = string.sub(parent, 2) end
      -- a parent sent by an earlier call of this batch may have finished since
      local state = earlier and redis.call('HGET', prefix .. ':result:{' .. parent .. '}', 's')
      if state and FINAL[state] then
        if state ~= 'SUCCESS' then failed = true end
      else
        waits = true
        redis.call('SADD', parents_key, parent)
        if linked then
          redis.call('SADD', prefix .. ':deps:{' .. parent .. '}', queue .. '|' .. child)
        end
      end
    end
    if failed or not waits then  -- nothing left to wait for: freed at once
      redis.call('HDEL', k, child)
      redis.call('DEL', parents_key)
      promote(queue, child, item)
    end
  elseif op == 'L' then
    local n = tonumber(ARGV[i + 2])
    redis.call('XADD', k, '*', unpack(ARGV, i + 3, i + 2 + 2 * n))
  elseif op == 'N' then
    local id = ARGV[i + 3]
    local entry = redis.call('XRANGE', k, id, id)[1]
    if entry then redis.call('XADD', k, '*', unpack(entry[2])) end
    redis.call('XACK', k, group, id)
    redis.call('XDEL', k, id)
    redis.call('HDEL', KEYS[tonumber(ARGV[i + 2])], id)
  elseif op == 'A' then
    local starts, n = KEYS[tonumber(ARGV[i + 2])], tonumber(ARGV[i + 3])
    redis.call('XACK', k, group, unpack(ARGV, i + 4, i + 3 + n))
    redis.call('XDEL', k, unpack(ARGV, i + 4, i + 3 + n))
    redis.call('HDEL', starts, unpack(ARGV, i + 4, i + 3 + n))
  elseif op == 'C' then
    local problem = refused(k, ARGV[i + 2])
    if problem then notices[#notices + 1] = { 'E', problem } end
  elseif op == 'K' then
    local queue, child, parent = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
    local state = redis.call('HGET', k, 's')
    if state and not FINAL[state] then
      redis.call('SADD', KEYS[tonumber(ARGV[i + 2])], queue .. '|' .. child)
    else  -- finished meanwhile (or its record is gone): the child is freed at once
      notices[#notices + 1] = { 'F', queue, child, parent, state == 'SUCCESS' and '1' or '0' }
    end
  elseif op == 'F' then
    free(ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6] == '1')
  elseif op == 'Z' then
    redis.call('DEL', k)
  elseif op == 'U' then
    local id, ttl, expect = ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
    local holder, age = lock_holder(k)
    local taken = holder and holder ~= id and holder ~= expect
    if taken and linked and not alive(holder) then taken = false end
    if taken then
      notices[#notices + 1] = { 'U', id, holder, age }
      if linked then w = w + tonumber(ARGV[i + 5]) end
    else
      redis.call('SET', k, id .. '|' .. now())
      if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
    end
  elseif op == 'S' then
    local state = redis.call('HGET', k, 's')
    notices[#notices + 1] = { 'S', ARGV[i + 2], ARGV[i + 3], state or '' }
  elseif op == 'V' then
    local flag = revoked(k, ARGV[i + 3]) and '1' or '0'
    notices[#notices + 1] = { 'V', ARGV[i + 2], ARGV[i + 3], flag }
  elseif op == 'H' then
    local limit, n = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
    redis.call('LPUSH', k, unpack(ARGV, i + 4, i + 3 + n))
    redis.call('LTRIM', k, 0, limit - 1)
  elseif op == 'Q' then
    if lock_holder(k) == ARGV[i + 2] then redis.call('DEL', k) end
  elseif op == 'T' then
    local tick, last = tonumber(ARGV[i + 3]), tonumber(redis.call('HGET', k, ARGV[i + 2]))
    if last and last >= tick then
      notices[#notices + 1] = { 'T', ARGV[i + 4] }
      w = w + tonumber(ARGV[i + 5])
    else
      redis.call('HSET', k, ARGV[i + 2], tick)
    end
  end
  i = i + w
end
return notices
