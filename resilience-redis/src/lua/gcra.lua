-- GCRA: take one cell from the bucket at KEYS[1], on the server's clock.
-- ARGV[1]: the interval between cells, in microseconds (at least 1).
-- ARGV[2]: the cells the bucket holds when full (at least 1).
-- Returns {1, 0} when a cell was taken, {0, retry_after_us} when the bucket is empty.
-- The key holds the theoretical arrival time (TAT) in microseconds since the epoch; a key that
-- is missing or holds anything else is a full bucket.
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local kind = redis.call('TYPE', key)['ok']
local tat = nil
if kind == 'string' then
  tat = tonumber(redis.call('GET', key))
elseif kind ~= 'none' then
  redis.call('DEL', key)
end
if tat == nil or tat ~= tat or tat < now then
  tat = now
end
local tolerance = interval * (burst - 1)
if tat - now > tolerance then
  return {0, tat - now - tolerance}
end
local next_tat = tat + interval
local ttl_ms = math.ceil((next_tat - now) / 1000) + 1000
redis.call('SET', key, string.format('%.0f', next_tat), 'PX', ttl_ms)
return {1, 0}
