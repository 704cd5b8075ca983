"""The Lua scripts that make state changes atomic (each one EVALSHA, one round trip), and reply decoding.

Every key a script touches is passed in ``KEYS`` (built by :class:`worker.keys.Keys`); no script formats a
key itself. :data:`OBSERVE_PAGE` is explained in :mod:`worker.state`, the others in :mod:`worker.outbox`.
"""

from __future__ import annotations

__all__ = ["ADVANCE_CURSOR", "OBSERVE_PAGE", "RELEASE_LEASE", "reply_text"]


def reply_text(value: bytes | str) -> str:
    """A string from a script's or command's reply, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else value


# KEYS: 1 running set, 2 finished sorted set, 3 baseline marker, 4 outbox stream,
#       then per task i: state hash (4 + 2i - 1), log list (4 + 2i).
# ARGV: 1 now (ms), 2 now (seconds, JSON text), 3 source, 4 announce running on baseline (1/0),
#       5 retention (ms), 6 stall minimum (ms), 7 stall factor, 8 finished memory (entries),
#       9 cluster JSON members ("cluster_name":…,"cluster_labels":{…}), 10 cluster id,
#       11 the page as one JSON array (one argument: packing thousands is what costs most), one
#       [task id, class (R running, F final, U unknown), status, step, total steps (-1 when unknown),
#       task JSON text] per task, in KEYS order.
# Returns every transition emitted, in order, as emit() describes it.
OBSERVE_PAGE = """
local now = tonumber(ARGV[1])
local now_s = ARGV[2]
local source = ARGV[3]
local retention = tonumber(ARGV[5])
local stall_min = tonumber(ARGV[6])
local stall_factor = tonumber(ARGV[7])
local memory = tonumber(ARGV[8])
local cluster_json = ARGV[9]
local cluster_id = ARGV[10]
local running, finished, outbox = KEYS[1], KEYS[2], KEYS[4]
local baseline = redis.call('EXISTS', KEYS[3]) == 1
local announce_new_running = baseline or ARGV[4] == '1'
local out = {}
local finished_added = false

local function seconds(ms)
  return string.format('%.3f', tonumber(ms) / 1000)
end

-- Log one transition of the page's task t and return it as
-- {page index, kind, sequence, first seen (ms), previous step (-1 for none), fingerprint}.
local function emit(t, kind, detail, first_seen, previous_step)
  local seq = redis.call('HINCRBY', t.sk, 'seq', 1)
  local prev = -1
  if previous_step ~= nil and previous_step >= 0 then prev = previous_step end
  local fingerprint = t.key .. '/' .. kind .. '/' .. detail
  local json = '{"kind":"' .. kind .. '","sequence":' .. string.format('%d', seq)
    .. ',"fingerprint":' .. cjson.encode(fingerprint) .. ',"task_key":' .. cjson.encode(t.key)
    .. ',' .. cluster_json .. ',"first_seen":' .. seconds(first_seen) .. ',"observed_at":' .. now_s
    .. ',"previous_step":' .. (prev >= 0 and string.format('%d', prev) or 'null')
    .. ',"task":' .. t.json .. '}'
  redis.call('RPUSH', t.lk, json)
  out[#out + 1] = {t.i, kind, seq, tonumber(first_seen), prev, fingerprint}
end

local function finish(sk, lk, task_id)
  redis.call('SREM', running, task_id)
  redis.call('ZADD', finished, now, task_id)
  redis.call('PEXPIRE', sk, retention)
  redis.call('PEXPIRE', lk, retention)
  finished_added = true
end

for i, item in ipairs(cjson.decode(ARGV[11])) do
  local task_id, class, status, step, total, task_json = unpack(item)
  local sk, lk = KEYS[4 + 2 * i - 1], KEYS[4 + 2 * i]
  local task_key = cluster_id .. '/' .. task_id
  local t = {i = i, sk = sk, lk = lk, key = task_key, json = task_json}
  local before = #out
  -- A final task never changes again. Its hash says so while it lasts; the finished set remembers longer.
  local st = class ~= 'U' and redis.call('HMGET', sk, 'step', 'first_seen', 'step_since', 'announce',
    'stalled_step', 'first_step', 'final')
  if not st or st[7] == '1' or (not st[1] and redis.call('ZSCORE', finished, task_id)) then
    -- nothing to do: unknown status, or known final
  elseif not st[1] then
    if class == 'R' then
      local announce = announce_new_running and '1' or '0'
      redis.call('HSET', sk, 'status', status, 'step', step, 'total', total, 'first_seen', now,
        'last_seen', now, 'step_since', now, 'first_step', step, 'seq', 0, 'announce', announce,
        'final', 0, 'stalled_step', '')
      redis.call('SADD', running, task_id)
      if announce == '1' then emit(t, 'started', status, now, nil) end
    elseif baseline or source ~= 'archive' then
      -- Seen for the first time already final: it started and ended between two polls.
      redis.call('HSET', sk, 'status', status, 'step', step, 'total', total, 'first_seen', now,
        'last_seen', now, 'step_since', now, 'first_step', step, 'seq', 0, 'announce', 1, 'final', 1)
      emit(t, 'finished', status, now, nil)
      finish(sk, lk, task_id)
    else
      -- Baseline: history that ended before we watched is remembered, never announced.
      redis.call('ZADD', finished, now, task_id)
      finished_added = true
    end
  else
    local old_step, first_seen = tonumber(st[1]), st[2]
    local announced = st[4] == '1'
    redis.call('HSET', sk, 'last_seen', now)
    if class == 'F' then
      redis.call('HSET', sk, 'status', status, 'step', step, 'total', total, 'final', 1)
      if announced then emit(t, 'finished', status, first_seen, old_step) end
      finish(sk, lk, task_id)
    elseif step >= 0 and (old_step < 0 or step > old_step) then
      redis.call('HSET', sk, 'status', status, 'step', step, 'total', total, 'step_since', now)
      if old_step < 0 then
        redis.call('HSET', sk, 'first_step', step)
      elseif announced then
        emit(t, 'progressed', string.format('%d', step), first_seen, old_step)
      end
    elseif step == old_step and announced and st[5] ~= string.format('%d', step) then
      -- Stalled: on this step longer than max(minimum, factor x this task's mean step so far).
      local step_since, first_step = tonumber(st[3]), tonumber(st[6])
      local limit = stall_min
      if first_step >= 0 and step > first_step then
        local mean = (step_since - tonumber(first_seen)) / (step - first_step)
        limit = math.max(stall_min, stall_factor * mean)
      end
      if now - step_since >= limit then
        redis.call('HSET', sk, 'stalled_step', step)
        emit(t, 'stalled', string.format('%d', step), first_seen, old_step)
      end
    end
  end
  if #out > before then redis.call('XADD', outbox, '*', 'task_key', task_key) end
end

if finished_added then redis.call('ZREMRANGEBYRANK', finished, 0, -(memory + 1)) end
return out
"""

# KEYS: 1 cursor. ARGV: 1 sequence, 2 retention (ms). Moves the cursor forward only; returns its value.
ADVANCE_CURSOR = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return wanted
end
return current
"""

# KEYS: 1 lease. ARGV: 1 owner token. Deletes the lease only if its owner asks; returns 1 if it did.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
