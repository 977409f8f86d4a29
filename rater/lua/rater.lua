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
  ARGV[3..]   the counters in consumption order, each as two arguments
                period, allowance
              led by its flags (letters) when it has options, and followed by the values its flags call
              for, in the order of the letters:
                k  its key was used before in this call    key index (into KEYS)
                u  unbounded (no cap)                      (none)
                r  rollover                                (none)
                f  rollover: full allowance other than the allowance       full allowance
                b  rollover: carry base other than 0 (carry what is left   carry base
                   of this fixed size rather than of the whole allowance)
                l  participant (R61): count its use        limit field, limit
                   (a participant without a limit comes with 2^53-1, a limit no draw reaches)
                o  observe (count, take nothing)           threshold (0: none)
                n  activate now (observe counters)         (none)
                q  requires a field to be set              key index (into KEYS), field
                t  retain other than 3 periods             retain
              A counter without flag k is on the next key: the one after the highest key index used so
              far (KEYS[1] is the record's), so a plain capped counter on a key of its own is just its two
              arguments.  Separate arguments rather than one packed string: splitting strings in Lua cost
              more than the extra arguments.

  Reply       a JSON array: [replayed 0/1, remaining, [before, after, carry, allowance or null,
              limit before, limit after, marked true/false], ...] with one array per counter.
              A replay returns the stored result (first value 1) and changes nothing; a result stored by
              the kernel before this reply format is returned as [1,<stored text>] for the client to read.

Counter hash fields: c:<period> consumed, l:<period>:<participant> participation used, latest (the latest
period drawn), activated (billing activation); a rollover counter also keeps r:<period> rollover carried in
and a:<period> last allowance.  A field is written only when its value changes: an absent c: or l: field
reads as 0.  Every number the kernel computes is written with %d (numbers passed through unchanged keep
their integer text): Lua numbers are doubles and tostring() would switch to exponent notation past 14
digits, so quantities stay exact up to 2^53.
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

-- The first draw of `period` in this hash (latest: the hash's latest period, or nil).  A rollover counter
-- computes its carry (R36) and records it in r:<period>; a period newer than the latest becomes the latest,
-- and fields of periods more than `retain` behind it go.  Returns the carry.
local function open_period(key, period, latest, rollover, full, retain, carry_base)
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
  local newer = (not latest) or period > latest
  if rollover and newer then
    redis.call('HSET', key, 'r:' .. int(period), int(carry), 'latest', int(period))
  elseif rollover then
    redis.call('HSET', key, 'r:' .. int(period), int(carry))
  elseif newer then
    redis.call('HSET', key, 'latest', int(period))
  end
  if newer and latest then
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
  -- The hot path: globals cached in locals (each global access is a table lookup).  They cannot be
  -- cached at file level, where the library-loading sandbox exposes only redis.register_function.
  -- Steady state per counter: one HMGET, and one HSET only if something changed.  Numbers are parsed
  -- only where arithmetic needs them (tonumber is among the dearest steps here): once the record is
  -- drawn in full, the counters after it are read and reported as they are.
  local call = redis.call
  local stored = call('GET', keys[1])
  if stored then
    if string.byte(stored, 1) ~= 91 then
      return '[1,' .. stored .. ']' -- stored by the kernel before the JSON reply; the client reads both
    end
    return '[1' .. string.sub(stored, 3)
  end
  local format = string.format
  local number = tonumber
  local byte = string.byte
  local quantity = number(args[1])
  local remaining = quantity
  local drawn = '' -- the counters' arrays of the reply, each led by a comma
  local n = 3
  local count = #args
  local top = 1 -- the highest key index used so far: a counter without flag k takes the next key
  while n <= count do
    local flags = ''
    local first = byte(args[n])
    if first and first > 57 then
      -- a letter, not a period: the counter's flags
      flags = args[n]
      n = n + 1
    end
    local period_text = args[n]
    local allowance_text = args[n + 1]
    n = n + 2
    local index
    local unbounded, activate_now, rollover, observe = false, false, false, false
    local full, carry_base, limit_field, limit, threshold, requires_index, requires_field, retain = allowance_text,
      '0', nil, '0', '0', nil, nil, '3'
    for i = 1, #flags do
      local flag = byte(flags, i)
      if flag == 107 then -- k
        index = number(args[n])
        n = n + 1
      elseif flag == 117 then -- u
        unbounded = true
      elseif flag == 114 then -- r
        rollover = true
      elseif flag == 102 then -- f
        full = args[n]
        n = n + 1
      elseif flag == 98 then -- b
        carry_base = args[n]
        n = n + 1
      elseif flag == 108 then -- l
        limit_field, limit = args[n], args[n + 1]
        n = n + 2
      elseif flag == 111 then -- o
        observe, threshold = true, args[n]
        n = n + 1
      elseif flag == 110 then -- n
        activate_now = true
      elseif flag == 113 then -- q
        requires_index, requires_field = number(args[n]), args[n + 1]
        n = n + 2
      elseif flag == 116 then -- t
        retain = args[n]
        n = n + 1
      else
        return redis.error_reply('rater_draw: unknown counter flag in ' .. flags)
      end
    end
    if not index then
      index = top + 1
    end
    if index > top then
      top = index
    end
    local requires_key
    if requires_index then
      requires_key = keys[requires_index]
      if requires_index > top then
        top = requires_index
      end
    end
    local key = keys[index]
    if not (key and period_text and allowance_text) or (requires_index and not requires_key) then
      return redis.error_reply('rater_draw: bad counter before argument ' .. n)
    end
    local consumed_field = 'c:' .. period_text
    if requires_key and call('HEXISTS', requires_key, requires_field) == 1 then
      requires_key = nil
    end
    if requires_key then
      local consumed = call('HGET', key, consumed_field) or '0'
      drawn = drawn .. ',[' .. consumed .. ',' .. consumed .. ',0,null,0,0,false]'
    else
      -- One read: consumption, the latest period, the limit or activation mark, and for rollover the
      -- carry and the last allowance.
      local mark_field = limit_field
      if observe then
        mark_field = 'activated'
      end
      local state
      local mark
      if rollover then
        state = call('HMGET', key, consumed_field, 'latest', 'r:' .. period_text, 'a:' .. period_text,
          mark_field or 'latest')
        if mark_field then
          mark = state[5]
        end
      elseif mark_field then
        state = call('HMGET', key, consumed_field, 'latest', mark_field)
        mark = state[3]
      else
        state = call('HMGET', key, consumed_field, 'latest')
      end
      local carry = 0
      local carry_text = '0'
      if rollover then
        carry_text = state[3]
        if carry_text then
          carry = number(carry_text)
        else
          carry = open_period(key, number(period_text), number(state[2]), true, number(full), number(retain),
            number(carry_base))
          carry_text = format('%d', carry)
        end
      elseif state[2] ~= period_text then
        -- not the latest period: a newer one opens; an older one (a late record) just draws
        local latest = number(state[2])
        local period = number(period_text)
        if (not latest) or period > latest then
          open_period(key, period, latest, false, 0, number(retain), 0)
        end
      end
      local consumed_text = state[1] or '0'
      if observe then
        -- observe: count the whole record, take nothing; mark activation once (R50, R51)
        local consumed = number(consumed_text)
        local after = consumed_text
        if quantity ~= 0 then
          after = format('%d', consumed + quantity)
        end
        local marked = 'false'
        if (not mark) and (activate_now or (number(threshold) > 0 and consumed + quantity >= number(threshold))) then
          if quantity ~= 0 then
            call('HSET', key, consumed_field, after, 'activated', '1')
          else
            call('HSET', key, 'activated', '1')
          end
          marked = 'true'
        elseif quantity ~= 0 then
          call('HSET', key, consumed_field, after)
        end
        drawn = drawn .. ',[' .. consumed_text .. ',' .. after .. ',' .. carry_text .. ',null,0,0,' .. marked .. ']'
      else
        local total_text = 'null'
        if not unbounded then
          if carry == 0 then
            total_text = allowance_text
          else
            total_text = format('%d', number(allowance_text) + carry)
          end
        end
        local limit_before = '0'
        if limit_field then
          limit_before = mark or '0'
        end
        local limit_after = limit_before
        local after = consumed_text
        local take = 0
        if remaining ~= 0 then
          -- take min(remaining, allowance + carry - consumed, limit - used), not below 0
          local consumed = number(consumed_text)
          take = remaining
          if not unbounded then
            local room = number(allowance_text) + carry - consumed
            if room < take then
              take = room
              if take < 0 then take = 0 end
            end
          end
          if limit_field then
            local used = number(limit_before)
            local room = number(limit) - used
            if room < take then
              take = room
              if take < 0 then take = 0 end
            end
            if take ~= 0 then
              limit_after = format('%d', used + take)
            end
          end
          if take ~= 0 then
            after = format('%d', consumed + take)
          end
        end
        if take ~= 0 then
          if rollover and state[4] ~= allowance_text then
            if limit_field then
              call('HSET', key, consumed_field, after, 'a:' .. period_text, allowance_text, limit_field, limit_after)
            else
              call('HSET', key, consumed_field, after, 'a:' .. period_text, allowance_text)
            end
          elseif limit_field then
            call('HSET', key, consumed_field, after, limit_field, limit_after)
          else
            call('HSET', key, consumed_field, after)
          end
        elseif rollover and state[4] ~= allowance_text then
          call('HSET', key, 'a:' .. period_text, allowance_text)
        end
        drawn = drawn .. ',[' .. consumed_text .. ',' .. after .. ',' .. carry_text .. ',' .. total_text .. ','
          .. limit_before .. ',' .. limit_after .. ',false]'
        remaining = remaining - take
      end
    end
  end
  local remaining_text
  if remaining == quantity then
    remaining_text = args[1]
  elseif remaining == 0 then
    remaining_text = '0'
  else
    remaining_text = format('%d', remaining)
  end
  local reply = '[0,' .. remaining_text .. drawn .. ']'
  call('SET', keys[1], reply, 'EX', args[2])
  return reply
end

--[[
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
