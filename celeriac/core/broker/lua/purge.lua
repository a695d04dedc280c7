-- purge.lua: remove a queue's messages waiting to be fetched, and its delayed ones.
--
-- KEYS: [1] <prefix>:{q}:delayed  (ZSET)  [2] <prefix>:{q}:delayed:data  (HASH)
--       [3..] <prefix>:{q}:stream:<step>, one per priority step
-- ARGV: [1] the workers' consumer group
-- Entries a worker holds (delivered, not yet acknowledged) stay: only those after the
-- group's last delivered id go. A stream no group reads yet goes whole.
-- Returns the number of messages removed.

local removed = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])

local function last_delivered(key)
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local fields = {}
    for j = 1, #info, 2 do fields[info[j]] = info[j + 1] end
    if fields['name'] == ARGV[1] then return fields['last-delivered-id'] end
  end
  return nil
end

for i = 3, #KEYS do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 1 then
    local last = last_delivered(key)
    if last == nil then
      removed = removed + redis.call('XLEN', key)
      redis.call('DEL', key)
    else
      while true do
        local entries = redis.call('XRANGE', key, '(' .. last, '+', 'COUNT', 1000)
        if #entries == 0 then break end
        local ids = {}
        for k, entry in ipairs(entries) do ids[k] = entry[1] end
        redis.call('XDEL', key, unpack(ids))
        removed = removed + #ids
        last = ids[#ids]
      end
    end
  end
end
return removed
