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
  ARGV[3]     the counters in consumption order, ';' between counters, ',' between a counter's 15 values:
                key index (into KEYS), period, allowance, unbounded 0/1, rollover 0/1, full allowance,
                limit field ('-' for none), limit, observe 0/1, threshold, activate now 0/1,
                requires key index (0 for none), requires field ('-' for none), retain (periods kept behind
                the latest), carry base (0: carry what is left of the whole allowance; > 0: of this fixed size)
              (one argument rather than 15 per counter: packing arguments is the client's main cost);
              a plain capped counter (every other value at its default, retain 3) may be sent as just
              "key index,period,allowance"

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

-- The first draw of `period` in this hash: compute its rollover carry (R36), record the period, drop fields
-- of periods more than `retain` behind the latest.  Returns the carry.
local function open_period(key, period, allowance, rollover, full, retain, carry_base)
  local latest = get(key, 'latest')
  local carry = 0
  if rollover and latest and latest < period then
    local state = redis.call('HMGET', key, 'a:' .. int(latest), 'r:' .. int(latest), 'c:' .. int(latest))
    local used = tonumber(state[3]) or 0
    if carry_base > 0 then
      if latest < period - 1 then used = 0 end
      carry = carry_base - used
    else
      local total = (tonumber(state[1]) or full) + (tonumber(state[2]) or 0)
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
  if (not latest) or period > latest then
    redis.call('HSET', key, 'r:' .. int(period), int(carry), 'latest', int(period))
    if latest then
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
  else
    redis.call('HSET', key, 'r:' .. int(period), int(carry))
  end
  return carry
end

-- One counter of ARGV[3]: 15 comma-separated values (see the header).
local SHORT = '^(%d+),(%-?%d+),(%d+)$'
local SPEC = '^(%d+),(%-?%d+),(%d+),(%d),(%d),(%d+),([^,]+),(%-?%d+),(%d),(%d+),(%d),(%d+),([^,]+),(%d+),(%d+)$'

local function draw(keys, args)
  -- The hot path: globals cached in locals (each global access is a table lookup).  They cannot be
  -- cached at file level, where the library-loading sandbox exposes only redis.register_function.
  local call = redis.call
  local format = string.format
  local number = tonumber
  local stored = call('GET', keys[1])
  if stored then
    return 'R' .. stored
  end
  local quantity = number(args[1])
  local remaining = quantity
  local ttl = number(args[2])
  local groups = {}
  for spec in string.gmatch(args[3], '[^;]+') do
    local key_index, period_text, allowance_text, unbounded, rollover, full, limit_field, limit, observe,
      threshold, activate_now, requires, requires_field, retain, carry_base = string.match(spec, SPEC)
    if not key_index then
      -- the short form of a plain capped counter: key index, period, allowance
      key_index, period_text, allowance_text = string.match(spec, SHORT)
      unbounded, rollover, full, limit_field, limit, observe = '0', '0', '0', '-', '0', '0'
      threshold, activate_now, requires, requires_field, retain, carry_base = '0', '0', '0', '-', '3', '0'
    end
    local key = keys[number(key_index)]
    local period = number(period_text)
    local allowance = number(allowance_text)
    local consumed_field = 'c:' .. period_text
    local carry_field = 'r:' .. period_text
    if requires ~= '0' and call('HEXISTS', keys[number(requires)], requires_field) == 0 then
      local consumed = call('HGET', key, consumed_field) or '0'
      groups[#groups + 1] = consumed .. ',' .. consumed .. ',0,-1,0,0,0'
    else
      -- One read for the steady state: carry, consumption, participation used or the activation mark.
      local state
      local allowance_field = 'a:' .. period_text
      if limit_field ~= '-' then
        state = call('HMGET', key, carry_field, consumed_field, limit_field, allowance_field)
      else
        state = call('HMGET', key, carry_field, consumed_field, 'activated', allowance_field)
      end
      local carry_text = state[1]
      local carry
      if carry_text then
        carry = number(carry_text)
      else
        carry = open_period(key, period, allowance, rollover == '1', number(full), number(retain),
          number(carry_base))
        carry_text = format('%d', carry)
      end
      local consumed_text = state[2] or '0'
      local consumed = number(consumed_text)
      if observe == '1' then
        -- observe: count the whole record, take nothing; mark activation once (R50, R51)
        local after = format('%d', consumed + quantity)
        local limit_at = number(threshold)
        local marked = '0'
        if (not state[3]) and (activate_now == '1' or (limit_at > 0 and consumed + quantity >= limit_at)) then
          call('HSET', key, consumed_field, after, 'activated', '1')
          marked = '1'
        else
          call('HSET', key, consumed_field, after)
        end
        groups[#groups + 1] = consumed_text .. ',' .. after .. ',' .. carry_text .. ',-1,0,0,' .. marked
      else
        local take = remaining
        local total_text = '-1'
        if unbounded ~= '1' then
          local total = allowance + carry
          if total - consumed < take then take = total - consumed end
          if take < 0 then take = 0 end
          total_text = format('%d', total)
        end
        local after = format('%d', consumed + take)
        if limit_field ~= '-' then
          local limit_before = number(state[3]) or 0
          local room = number(limit) - limit_before
          if room < take then
            take = room
            if take < 0 then take = 0 end
            after = format('%d', consumed + take)
          end
          local limit_after = format('%d', limit_before + take)
          if state[4] == allowance_text then
            call('HSET', key, consumed_field, after, limit_field, limit_after)
          else
            call('HSET', key, consumed_field, after, allowance_field, allowance_text, limit_field, limit_after)
          end
          groups[#groups + 1] = consumed_text .. ',' .. after .. ',' .. carry_text .. ',' .. total_text .. ','
            .. (state[3] or '0') .. ',' .. limit_after .. ',0'
        else
          if state[4] == allowance_text then
            call('HSET', key, consumed_field, after)
          else
            call('HSET', key, consumed_field, after, allowance_field, allowance_text)
          end
          groups[#groups + 1] = consumed_text .. ',' .. after .. ',' .. carry_text .. ',' .. total_text .. ',0,0,0'
        end
        remaining = remaining - take
      end
    end
  end
  local result = format('%d', remaining)
  if #groups > 0 then
    result = result .. ';' .. table.concat(groups, ';')
  end
  call('SET', keys[1], result, 'EX', ttl)
  return 'F' .. result
end

--[[
rater_fields(KEYS[1]): every field of a counter hash as a flat array (balances, settle reads).
rater_mark(KEYS[1], ARGV[1] field, ARGV[2] value): set once; 1 if this call set it.
rater_settle(KEYS[1] op key, KEYS[2] hash, ARGV[1] field, ARGV[2] value, ARGV[3] ttl): set the field once per
  operation; reply the value it had before the first call.
rater_adjust(KEYS[1] op key, KEYS[2] hash, ARGV[1] field, ARGV[2] expected, ARGV[3] value, ARGV[4] ttl,
  ARGV[5] payload): once per operation, and only while the field holds `expected`, set it to `value` and keep
  `payload` under the op key (ttl seconds); reply the payload kept (the first call's, on a repeat), or false
  when the field moved (the caller reads again).  R41: a cancellation's cut and its adjustment event.
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

local function adjust(keys, args)
  local done = redis.call('GET', keys[1])
  if done then
    return done
  end
  if (get(keys[2], args[1]) or 0) ~= tonumber(args[2]) then
    return false
  end
  redis.call('HSET', keys[2], args[1], args[3])
  redis.call('SET', keys[1], args[5], 'EX', tonumber(args[4]))
  return args[5]
end

redis.register_function('rater_draw', draw)
redis.register_function('rater_mark', mark)
redis.register_function('rater_settle', settle)
redis.register_function('rater_adjust', adjust)
