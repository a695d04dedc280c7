-- requeue.lua: put dead letters back on the streams they came from.
--
-- KEYS: [1] <prefix>:{q}:dead  (STREAM of dead letters)
--       [2..] <prefix>:{q}:stream:<step>, one per step listed in ARGV
-- ARGV: [1] NSTEPS  [2 .. 1+NSTEPS] the steps, in the order of KEYS[2..]
--       [2+NSTEPS] most entries to requeue  [3+NSTEPS ..] entry ids, or none for all
-- A dead letter holds field m (the envelope) or fields raw:<name> (an entry that had no
-- envelope); both are restored as they were. Unknown steps go to the lowest stream.
-- Returns the number of entries requeued.

local nsteps = tonumber(ARGV[1])
local limit = tonumber(ARGV[2 + nsteps])
local stream_of, lowest = {}, nil
for i = 1, nsteps do
  stream_of[ARGV[1 + i]] = KEYS[1 + i]
  if lowest == nil or tonumber(ARGV[1 + i]) < tonumber(lowest) then lowest = ARGV[1 + i] end
end

local entries = {}
if #ARGV > 2 + nsteps then
  for i = 3 + nsteps, #ARGV do
    local found = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1]
    if found then entries[#entries + 1] = found end
  end
else
  entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', limit)
end

local moved = 0
for _, entry in ipairs(entries) do
  local fields, step, restored = entry[2], lowest, {}
  for j = 1, #fields, 2 do
    local name, value = fields[j], fields[j + 1]
    if name == 'step' then
      step = value
    elseif name == 'm' then
      restored[#restored + 1] = 'm'
      restored[#restored + 1] = value
    elseif string.sub(name, 1, 4) == 'raw:' then
      restored[#restored + 1] = string.sub(name, 5)
      restored[#restored + 1] = value
    end
  end
  if #restored > 0 then
    redis.call('XADD', stream_of[step] or stream_of[lowest], '*', unpack(restored))
  end
  redis.call('XDEL', KEYS[1], entry[1])
  moved = moved + 1
end
return moved
