-- One sync of a shared circuit breaker at KEYS[1] (a hash), on the server's clock.
-- ARGV: 1 known generation, 2 proposal ('' for none), 3 the instance's phase (seed),
-- 4 the instance's time open in ms (seed), 5 successes, 6 failures, 7 trailing failures,
-- 8 failure threshold (0 under the rate rule), 9 failure rate, 10 min calls, 11 window ms,
-- 12 bucket ms, 13 half-open timeout ms, 14 ttl ms.
-- Returns {generation, phase, ms since the phase began, 1 if the proposal was applied else 0}.
local key = KEYS[1]
local known = tonumber(ARGV[1])
local proposal = ARGV[2]
local seed_phase = ARGV[3]
local open_for = tonumber(ARGV[4])
local successes = tonumber(ARGV[5])
local failures = tonumber(ARGV[6])
local trailing = tonumber(ARGV[7])
local threshold = tonumber(ARGV[8])
local rate = tonumber(ARGV[9])
local min_calls = tonumber(ARGV[10])
local window = tonumber(ARGV[11])
local bucket = tonumber(ARGV[12])
local half_open_timeout = tonumber(ARGV[13])
local ttl = tonumber(ARGV[14])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local phases = {closed = true, open = true, half_open = true, forced_open = true}

local kind = redis.call('TYPE', key)['ok']
local gen, phase, since, streak
if kind == 'hash' then
  local stored = redis.call('HMGET', key, 'gen', 'phase', 'since', 'streak')
  gen = tonumber(stored[1])
  phase = stored[2]
  since = tonumber(stored[3])
  streak = tonumber(stored[4])
end
if kind ~= 'hash' or gen == nil or not phases[phase] or since == nil or streak == nil then
  -- Missing (first use, flushed, expired) or unreadable: seed it with the instance's view.
  redis.call('DEL', key)
  gen = known
  phase = seed_phase
  since = now - open_for
  streak = 0
  redis.call('HSET', key, 'gen', gen, 'phase', phase, 'since', since, 'streak', 0)
end

local applied = 0
local function move(to)
  local fields = redis.call('HKEYS', key)
  for _, field in ipairs(fields) do
    if string.sub(field, 1, 2) == 'b:' then
      redis.call('HDEL', key, field)
    end
  end
  gen = gen + 1
  phase = to
  since = now
  streak = 0
  redis.call('HSET', key, 'gen', gen, 'phase', phase, 'since', since, 'streak', 0)
  redis.call('HINCRBY', key, 'transitions', 1)
end

if proposal ~= '' then
  if known == gen and proposal ~= phase and phases[proposal] then
    move(proposal)
    applied = 1
  end
elseif phase == 'closed' and known == gen then
  if threshold > 0 then
    if successes > 0 then
      streak = trailing
    else
      streak = streak + failures
    end
    redis.call('HSET', key, 'streak', streak)
    if streak >= threshold then
      move('open')
    end
  elseif successes + failures > 0 then
    local current = math.floor(now / bucket)
    redis.call('HINCRBY', key, 'b:s:' .. current, successes)
    redis.call('HINCRBY', key, 'b:f:' .. current, failures)
    local oldest = math.floor((now - window) / bucket)
    local total_s, total_f = 0, 0
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local field = all[i]
      if string.sub(field, 1, 2) == 'b:' then
        local index = tonumber(string.sub(field, 5))
        local count = tonumber(all[i + 1])
        if index == nil or count == nil or index <= oldest then
          redis.call('HDEL', key, field)
        elseif string.sub(field, 3, 3) == 's' then
          total_s = total_s + count
        else
          total_f = total_f + count
        end
      end
    end
    local calls = total_s + total_f
    if calls > 0 and calls >= min_calls and total_f / calls >= rate then
      move('open')
    end
  end
end

if phase == 'half_open' and now - since >= half_open_timeout then
  -- The probing instance never reported: the probe counts as failed.
  move('open')
end
redis.call('PEXPIRE', key, ttl)
return {gen, phase, now - since, applied}
