#!lua name=rater
--[[
The rater kernel: the one atomic step of rating (docs/consumption.md §6).  Its Python twin, the reference
for every behaviour here, is rater.state.MemoryStore; the contract suite runs both.

rater_draw(KEYS, ARGV): draw one record down its ordered counters.

  KEYS[1]     the record's result key rater:{root}:record:<record id> (dedupe, R1)
  KEYS[2..]   the hashes the counters live in and the hashes their `requires` fields live in; every key
              carries the same {root} hash tag, so one call touches one cluster slot
  ARGV[1]     quantity, integer base units
  ARGV[2]     seconds to keep the result for redeliveries
  ARGV[3]     number of counters N
  ARGV[4..]   15 values per counter, in consumption order:
                key index (into KEYS), period, allowance, unbounded 0/1, rollover 0/1, full allowance,
                limit field ('' for none), limit, observe 0/1, threshold, activate now 0/1,
                requires key index (0 for none), requires field, retain (periods kept behind the latest),
                carry base (0: carry what is left of the whole allowance; > 0: of this fixed size)

  Reply       'F' (first sighting) or 'R' (replay of the stored result) followed by
              "<remaining>;<before>,<after>,<carry>,<allowance or -1>,<limit before>,<limit after>,<marked 0/1>;..."
              one group per counter.  A replay changes nothing.

Counter hash fields: c:<period> consumed, r:<period> rollover carried in, a:<period> last allowance,
l:<period>:<participant> participation used, latest (the latest period drawn), activated (billing activation).
Every number is written with %d: Lua numbers are doubles and tostring() would switch to exponent notation
past 14 digits, so quantities stay exact up to 2^53.
]]

local function int(value)
  return string.format('%d', value)
end

local function get(key, field)
  local value = redis.call('HGET', key, field)
  if value then
    return tonumber(value)
  end
  return nil
end

-- Make sure `period` exists in the counter hash; return its rollover carry (R36).
local function open_period(key, period, allowance, rollover, full, retain, carry_base)
  local carry_field = 'r:' .. int(period)
  local known = get(key, carry_field)
  if known then
    return known
  end
  local latest = get(key, 'latest')
  local carry = 0
  if rollover and latest and latest < period then
    local used = get(key, 'c:' .. int(latest)) or 0
    if carry_base > 0 then
      if latest < period - 1 then used = 0 end
      carry = carry_base - used
    else
      local total = (get(key, 'a:' .. int(latest)) or full) + (get(key, 'r:' .. int(latest)) or 0)
      for _ = latest + 1, period - 1 do
        local rest = total - used
        if rest < 0 then rest = 0 end
        total = full + rest
        used = 0
      end
      carry = total - used
    end
    if carry < 0 then carry = 0 end
  end
  redis.call('HSET', key, carry_field, int(carry))
  if redis.call('HEXISTS', key, 'a:' .. int(period)) == 0 then
    redis.call('HSET', key, 'a:' .. int(period), int(allowance))
  end
  if (not latest) or period > latest then
    redis.call('HSET', key, 'latest', int(period))
    for _, name in ipairs(redis.call('HKEYS', key)) do
      local prefix = string.sub(name, 1, 2)
      if prefix == 'c:' or prefix == 'r:' or prefix == 'a:' or prefix == 'l:' then
        local field_period = tonumber(string.match(name, '^%a:(%-?%d+)'))
        if field_period and field_period < period - retain then
          redis.call('HDEL', key, name)
        end
      end
    end
  end
  return carry
end

local function draw(keys, args)
  local stored = redis.call('GET', keys[1])
  if stored then
    return 'R' .. stored
  end
  local quantity = tonumber(args[1])
  local remaining = quantity
  local ttl = tonumber(args[2])
  local count = tonumber(args[3])
  local groups = {}
  for i = 0, count - 1 do
    local a = 4 + i * 15
    local key = keys[tonumber(args[a])]
    local period = tonumber(args[a + 1])
    local allowance = tonumber(args[a + 2])
    local unbounded = args[a + 3] == '1'
    local rollover = args[a + 4] == '1'
    local full = tonumber(args[a + 5])
    local limit_field = args[a + 6]
    local limit = tonumber(args[a + 7])
    local observe = args[a + 8] == '1'
    local threshold = tonumber(args[a + 9])
    local activate_now = args[a + 10] == '1'
    local requires = tonumber(args[a + 11])
    local requires_field = args[a + 12]
    local retain = tonumber(args[a + 13])
    local carry_base = tonumber(args[a + 14])
    local consumed_field = 'c:' .. int(period)
    if requires > 0 and redis.call('HEXISTS', keys[requires], requires_field) == 0 then
      local consumed = get(key, consumed_field) or 0
      groups[#groups + 1] = int(consumed) .. ',' .. int(consumed) .. ',0,-1,0,0,0'
    else
      local carry = open_period(key, period, allowance, rollover, full, retain, carry_base)
      local consumed = get(key, consumed_field) or 0
      if observe then
        local after = consumed + quantity
        redis.call('HSET', key, consumed_field, int(after))
        local marked = 0
        if redis.call('HEXISTS', key, 'activated') == 0
            and (activate_now or (threshold > 0 and after >= threshold)) then
          redis.call('HSET', key, 'activated', '1')
          marked = 1
        end
        groups[#groups + 1] = int(consumed) .. ',' .. int(after) .. ',' .. int(carry) .. ',-1,0,0,' .. marked
      else
        local take = remaining
        local total = -1
        if not unbounded then
          total = allowance + carry
          if total - consumed < take then take = total - consumed end
          if take < 0 then take = 0 end
        end
        local limit_before = 0
        local limit_after = 0
        if limit_field ~= '' then
          limit_before = get(key, limit_field) or 0
          if limit - limit_before < take then take = limit - limit_before end
          if take < 0 then take = 0 end
          limit_after = limit_before + take
          redis.call('HSET', key, limit_field, int(limit_after))
        end
        redis.call('HSET', key, consumed_field, int(consumed + take))
        redis.call('HSET', key, 'a:' .. int(period), int(allowance))
        remaining = remaining - take
        groups[#groups + 1] = int(consumed) .. ',' .. int(consumed + take) .. ',' .. int(carry) .. ','
          .. int(total) .. ',' .. int(limit_before) .. ',' .. int(limit_after) .. ',0'
      end
    end
  end
  local result = int(remaining)
  if #groups > 0 then
    result = result .. ';' .. table.concat(groups, ';')
  end
  redis.call('SET', keys[1], result, 'EX', ttl)
  return 'F' .. result
end

--[[
rater_fields(KEYS[1]): every field of a counter hash as a flat array (balances, settle reads).
rater_mark(KEYS[1], ARGV[1] field, ARGV[2] value): set once; 1 if this call set it.
rater_settle(KEYS[1] op key, KEYS[2] hash, ARGV[1] field, ARGV[2] value, ARGV[3] ttl): set the field once per
  operation; reply the value it had before the first call.
]]
local function mark(keys, args)
  if redis.call('HEXISTS', keys[1], args[1]) == 1 then
    return 0
  end
  redis.call('HSET', keys[1], args[1], args[2])
  return 1
end

local function settle(keys, args)
  local done = redis.call('GET', keys[1])
  if done then
    return tonumber(done)
  end
  local previous = get(keys[2], args[1]) or 0
  redis.call('HSET', keys[2], args[1], args[2])
  redis.call('SET', keys[1], int(previous), 'EX', tonumber(args[3]))
  return previous
end

redis.register_function('rater_draw', draw)
redis.register_function('rater_mark', mark)
redis.register_function('rater_settle', settle)
