#!lua name=rater
--[[
The rater kernel: the one atomic step of rating (docs/consumption.md §6).  Its Python twin, the reference
for every behaviour here, is rater.state.MemoryStore; the contract suite runs both.

rater_draw(KEYS, ARGV): draw one record down its ordered counters.

  KEYS[1]     the record's result key rater:{root}:record:<record id> (dedupe, R1)
  KEYS[2..]   the hashes the counters live in and the hashes their `requires` fields live in; every key
              carries the same {root} hash tag, so one call touches one cluster slot
  ARGV[1]     quantity, integer base units; led by '=' for a whole-or-nothing draw: when the counters
              cannot take the whole quantity, nothing is written and the reply is [2, what would be left]
              (a record whose overflow could not be priced draws nothing: rater.batch)
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
                e  keep tier entries (R17): count, then    count n, E(1) .. E(n)
                   the cumulative ends of the tiers
                   before the last (n = k - 1; E(k) is
                   the allowance), before carry
              A counter without flag k is on the next key: the one after the highest key index used so
              far (KEYS[1] is the record's), so a plain capped counter on a key of its own is just its two
              arguments.  Separate arguments rather than one packed string: splitting strings in Lua cost
              more than the extra arguments.

  Reply       a JSON array: [replayed 0/1, remaining, [before, after, carry, allowance or null,
              limit before, limit after, marked true/false, entered or null], ...] with one array per
              counter.  A replay returns the stored result (first value 1) and changes nothing; a result
              stored by the kernel before this reply format is returned as [1,<stored text>] for the client
              to read (and one stored before `entered` has 7 values per counter).

Counter hash fields: c:<period> consumed, l:<period>:<participant> participation used, latest (the latest
period drawn), activated (billing activation); a rollover counter also keeps r:<period> rollover carried in
and a:<period> last allowance; a counter with flag e keeps e:<period>, the highest tier occurrence ordinal
the period has entered.  A field is written only when its value changes: an absent c: or l: field reads as
0, an absent e: field as the ordinal the consumption reaches.

Tier entries (flag e; rater.tiers names the rule, rater.state.MemoryStore is the reference): the tier
occurrences of a period are numbered as a counter reaches them: tier j of k is j, repeat r of the last tier
(flag u) k + r, and without repeats the allowance used up (consumption reaching E(k)) k + 1.  With the carry
added to every end, a value C > 0 reaches k + 1 when C >= E(k) without repeats, k + ceil((C - E(k)) / s(k))
when C > E(k) with repeats and s(k) > 0, else the first j < k with C <= E(j), or k.  The reply's `entered` is the
ordinal the period had entered before the draw: e:<period>, or null when absent (the client then takes the
one `before` reaches, the same rule, at no cost to the server).  A draw that takes something writes
e:<period> = max(entered, the ordinal `after` reaches) when the field is absent or below it (in the same
HSET as c:<period>; the ordinal grows with the counter, so when absent that is the one `after` reaches), so
a tier boundary that moves within a period never lets an occurrence be entered twice.  Counters without
flag e reply null and keep no e: field.

Exact integers: every number the kernel computes is written with %d (numbers passed through unchanged keep
their integer text): Lua numbers are doubles and tostring() would switch to exponent notation past 14
digits.  Doubles are exact up to 2^53, and no number written or replied passes MAX = 2^53 - 1: every
counter saturates there.  Its cap is min(allowance + carry, MAX) (MAX when unbounded), reported as the
allowance; what a full counter cannot take stays in `remaining` and overflows like the rest of an exhausted
allowance; an observe counter stops counting at MAX; a rollover carry is at most MAX; an ordinal is at most
MAX.  Sums are formed only where the true value is at most MAX or compared against a value at most MAX (a
double above 2^53 rounds to at least 2^53, so such comparisons stay right).  Arguments (allowances, ends,
limits, carry bases) are at most MAX: the client's contract.
]]

local MAX = 9007199254740991 -- 2^53 - 1

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

-- The first draw of `period` in this hash (latest: the hash's latest period, or nil); its writes go through
-- `put` (redis.call, or nothing in a dry run).  A rollover counter
-- computes its carry (R36) and records it in r:<period>; a period newer than the latest becomes the latest,
-- and fields of periods more than `retain` behind it go.  Returns the carry.
local function open_period(put, key, period, latest, rollover, full, retain, carry_base)
  local carry = 0
  if rollover and latest and latest < period then
    local state = redis.call('HMGET', key, 'a:' .. int(latest), 'r:' .. int(latest), 'c:' .. int(latest))
    local used = tonumber(state[3]) or 0
    if carry_base > 0 then
      if latest < period - 1 then used = 0 end
      carry = carry_base - used
    else
      -- what the latest period left (its allowance less its use, plus its own carry), then whole
      -- allowances of the periods nobody drew from; saturated at MAX
      carry = ((tonumber(state[1]) or full) - used) + (tonumber(state[2]) or 0)
      if carry > MAX then carry = MAX end
      if carry < 0 then carry = 0 end
      for _ = latest + 1, period - 1 do
        carry = full + carry
        if carry > MAX then carry = MAX end
      end
    end
    if carry < 0 then carry = 0 end
  end
  local newer = (not latest) or period > latest
  if rollover and newer then
    put('HSET', key, 'r:' .. int(period), int(carry), 'latest', int(period))
  elseif rollover then
    put('HSET', key, 'r:' .. int(period), int(carry))
  elseif newer then
    put('HSET', key, 'latest', int(period))
  end
  if newer and latest then
    for _, name in ipairs(redis.call('HKEYS', key)) do
      local prefix = string.sub(name, 1, 2)
      if prefix == 'c:' or prefix == 'r:' or prefix == 'a:' or prefix == 'l:' or prefix == 'e:' then
        local field_period = tonumber(string.match(name, '^%a:(%-?%d+)'))
        if field_period and field_period < period - retain then
          put('HDEL', key, name)
        end
      end
    end
  end
  return carry
end

-- The highest tier occurrence ordinal `value` reaches (header: tier entries).  The ends E(1)..E(count) are
-- args[at .. at + count - 1], before `carry`; `total` is E(k) with the carry.
local function reached(value, args, at, count, carry, total, repeats)
  if value <= 0 then
    return 0
  end
  local last = count + 1
  if value >= total then
    if not repeats then
      return last + 1
    end
    if value > total then
      local previous = 0
      if count > 0 then
        previous = tonumber(args[at + count - 1]) + carry
      end
      local size = total - previous
      if size > 0 then
        -- ceil(over / size) in exact steps (a double quotient may round)
        local over = value - total
        local r = math.floor(over / size)
        while r * size < over do r = r + 1 end
        while r > 0 and (r - 1) * size >= over do r = r - 1 end
        if last + r > MAX then
          return MAX
        end
        return last + r
      end
    end
  end
  for j = 1, count do
    if value <= tonumber(args[at + j - 1]) + carry then
      return j
    end
  end
  return last
end

-- One pass of the draw down the counters: reads through redis.call, writes through `put` (redis.call, or
-- nothing in the dry run of a whole-or-nothing draw).  Returns the reply and the quantity left, or an error
-- reply.
local function run(keys, args, quantity_text, put)
  -- The hot path: globals cached in locals (each global access is a table lookup).  They cannot be
  -- cached at file level, where the library-loading sandbox exposes only redis.register_function.
  -- Steady state per counter: one HMGET, and one HSET only if something changed.  Numbers are parsed
  -- only where arithmetic needs them (tonumber is among the dearest steps here): once the record is
  -- drawn in full, the counters after it are read and reported as they are.
  local call = redis.call
  local format = string.format
  local number = tonumber
  local byte = string.byte
  local quantity = number(quantity_text)
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
    local ends_at, ends_count = nil, 0
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
      elseif flag == 101 then -- e
        ends_count = number(args[n]) or -1
        ends_at = n + 1
        n = n + 1 + ends_count
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
    if not (key and period_text and allowance_text) or (requires_index and not requires_key)
      or ends_count < 0 or n > count + 1 then
      return redis.error_reply('rater_draw: bad counter before argument ' .. n)
    end
    local consumed_field = 'c:' .. period_text
    if requires_key and call('HEXISTS', requires_key, requires_field) == 1 then
      requires_key = nil
    end
    if requires_key then
      local consumed = call('HGET', key, consumed_field) or '0'
      drawn = drawn .. ',[' .. consumed .. ',' .. consumed .. ',0,null,0,0,false,null]'
    else
      -- One read: consumption, the latest period, the limit or activation mark, the tier entries, and for
      -- rollover the carry and the last allowance.
      local mark_field = limit_field
      if observe then
        mark_field = 'activated'
      end
      local entered_field
      if ends_at then
        entered_field = 'e:' .. period_text
      end
      local state
      local mark
      local entered_text
      if rollover then
        state = call('HMGET', key, consumed_field, 'latest', 'r:' .. period_text, 'a:' .. period_text,
          mark_field or 'latest', entered_field or 'latest')
        if mark_field then
          mark = state[5]
        end
        if entered_field then
          entered_text = state[6]
        end
      elseif entered_field then
        state = call('HMGET', key, consumed_field, 'latest', mark_field or 'latest', entered_field)
        if mark_field then
          mark = state[3]
        end
        entered_text = state[4]
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
          carry = open_period(put, key, number(period_text), number(state[2]), true, number(full), number(retain),
            number(carry_base))
          carry_text = format('%d', carry)
        end
      elseif state[2] ~= period_text then
        -- not the latest period: a newer one opens; an older one (a late record) just draws
        local latest = number(state[2])
        local period = number(period_text)
        if (not latest) or period > latest then
          open_period(put, key, period, latest, false, 0, number(retain), 0)
        end
      end
      local consumed_text = state[1] or '0'
      if observe then
        -- observe: count the whole record (up to MAX), take nothing; mark activation once (R50, R51)
        local consumed = number(consumed_text)
        local counted = consumed
        local after = consumed_text
        if quantity ~= 0 then
          counted = consumed + quantity
          if quantity > MAX - consumed then
            counted = MAX
          end
          after = format('%d', counted)
        end
        local marked = 'false'
        if (not mark) and (activate_now or (number(threshold) > 0 and counted >= number(threshold))) then
          if counted ~= consumed then
            put('HSET', key, consumed_field, after, 'activated', '1')
          else
            put('HSET', key, 'activated', '1')
          end
          marked = 'true'
        elseif counted ~= consumed then
          put('HSET', key, consumed_field, after)
        end
        drawn = drawn .. ',[' .. consumed_text .. ',' .. after .. ',' .. carry_text .. ',null,0,0,' .. marked
          .. ',null]'
      else
        -- the cap: allowance + carry, saturated at MAX (MAX when unbounded)
        local total_text = 'null'
        local cap = MAX
        if not unbounded then
          if carry == 0 then
            total_text = allowance_text
          else
            cap = number(allowance_text) + carry
            if cap > MAX then
              cap = MAX
            end
            total_text = format('%d', cap)
          end
        end
        local limit_before = '0'
        if limit_field then
          limit_before = mark or '0'
        end
        local limit_after = limit_before
        local after = consumed_text
        local take = 0
        local consumed
        if remaining ~= 0 then
          -- take min(remaining, cap - consumed, limit - used), not below 0
          consumed = number(consumed_text)
          take = remaining
          if carry == 0 and not unbounded then
            cap = number(allowance_text)
            if cap > MAX then
              cap = MAX
            end
          end
          local room = cap - consumed
          if room < take then
            take = room
            if take < 0 then take = 0 end
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
        -- tier entries: reply the ordinal entered before the draw as stored (null when absent: the client
        -- takes what `before` reaches, the same rule); a draw that took something records the ordinal
        -- `after` reaches when it is higher, or when the field is absent (the ordinal grows with the
        -- counter, so it is then max(what `before` reaches, what `after` reaches))
        local entered_reply = 'null'
        local entered_write
        if entered_field then
          if entered_text then
            entered_reply = entered_text
          end
          if take ~= 0 then
            local now = reached(consumed + take, args, ends_at, ends_count, carry, number(allowance_text) + carry,
              unbounded)
            if (not entered_text) or now > number(entered_text) then
              entered_write = format('%d', now)
            end
          end
        end
        local allowance_changed = rollover and state[4] ~= allowance_text
        if entered_write then
          -- rare: the period enters a new tier occurrence (or records its first); one HSET of every field
          local fields = { consumed_field, after, entered_field, entered_write }
          if allowance_changed then
            fields[#fields + 1] = 'a:' .. period_text
            fields[#fields + 1] = allowance_text
          end
          if limit_field then
            fields[#fields + 1] = limit_field
            fields[#fields + 1] = limit_after
          end
          put('HSET', key, unpack(fields))
        elseif take ~= 0 then
          if allowance_changed then
            if limit_field then
              put('HSET', key, consumed_field, after, 'a:' .. period_text, allowance_text, limit_field, limit_after)
            else
              put('HSET', key, consumed_field, after, 'a:' .. period_text, allowance_text)
            end
          elseif limit_field then
            put('HSET', key, consumed_field, after, limit_field, limit_after)
          else
            put('HSET', key, consumed_field, after)
          end
        elseif allowance_changed then
          put('HSET', key, 'a:' .. period_text, allowance_text)
        end
        drawn = drawn .. ',[' .. consumed_text .. ',' .. after .. ',' .. carry_text .. ',' .. total_text .. ','
          .. limit_before .. ',' .. limit_after .. ',false,' .. entered_reply .. ']'
        remaining = remaining - take
      end
    end
  end
  local remaining_text
  if remaining == quantity then
    remaining_text = quantity_text
  elseif remaining == 0 then
    remaining_text = '0'
  else
    remaining_text = format('%d', remaining)
  end
  return '[0,' .. remaining_text .. drawn .. ']', remaining
end

local function nothing() end

local function draw(keys, args)
  local stored = redis.call('GET', keys[1])
  if stored then
    if string.byte(stored, 1) ~= 91 then
      return '[1,' .. stored .. ']' -- stored by the kernel before the JSON reply; the client reads both
    end
    return '[1' .. string.sub(stored, 3)
  end
  local quantity_text = args[1]
  if string.byte(quantity_text, 1) == 61 then
    -- '=': whole or nothing.  A dry run first; if the counters cannot take the whole quantity, nothing is
    -- written (no counter, no stored result) and the reply is [2, what would be left].
    quantity_text = string.sub(quantity_text, 2)
    local dry, left = run(keys, args, quantity_text, nothing)
    if type(dry) ~= 'string' then
      return dry -- an error reply
    end
    if left ~= 0 then
      return '[2,' .. string.format('%d', left) .. ']'
    end
  end
  local reply = run(keys, args, quantity_text, redis.call)
  if type(reply) == 'string' then
    redis.call('SET', keys[1], reply, 'EX', args[2])
  end
  return reply
end

--[[
rater_mark(KEYS[1], ARGV[1] field, ARGV[2] value): set once; 1 if this call set it.
rater_settle(KEYS[1] op key, KEYS[2] hash, ARGV[1] field, ARGV[2] value, ARGV[3] ttl[, ARGV[4] field,
  ARGV[5] value]): set the field (and the optional second one) once per operation; reply the value the first
  field had before the first call.
rater_adjust(KEYS[1] op key, KEYS[2] hash, ARGV[1] field, ARGV[2] expected, ARGV[3] value, ARGV[4] ttl,
  ARGV[5] payload[, ARGV[6] field, ARGV[7] value]): once per operation, and only while the field holds
  `expected`, set it to `value` (and the optional second field to its value) and keep `payload` under the op
  key (ttl seconds); reply the payload kept (the first call's, on a repeat), or false when the field moved
  (the caller reads again).  R41: a cancellation's cut, the tier entries it reaches (e:<period>) and its
  adjustment event.
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
  if args[4] then
    redis.call('HSET', keys[2], args[1], args[2], args[4], args[5])
  else
    redis.call('HSET', keys[2], args[1], args[2])
  end
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
  if args[6] then
    redis.call('HSET', keys[2], args[1], args[3], args[6], args[7])
  else
    redis.call('HSET', keys[2], args[1], args[3])
  end
  redis.call('SET', keys[1], args[5], 'EX', tonumber(args[4]))
  return args[5]
end

--[[
rater_release(KEYS[1] claim key, ARGV[1] fingerprint): delete the record id's claim if it still holds this
  fingerprint (the record drew nothing and became a rating exception: it leaves no key).  1 if deleted.
]]
local function release(keys, args)
  if redis.call('GET', keys[1]) == args[1] then
    return redis.call('DEL', keys[1])
  end
  return 0
end

redis.register_function('rater_draw', draw)
redis.register_function('rater_release', release)
redis.register_function('rater_mark', mark)
redis.register_function('rater_settle', settle)
redis.register_function('rater_adjust', adjust)
