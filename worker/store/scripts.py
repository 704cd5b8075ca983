"""The Lua scripts that make state changes atomic (each one EVALSHA, one round trip), and reply decoding.

Every key a script touches is passed in ``KEYS`` (built by :class:`worker.store.keys.Keys`); no script formats
a key itself. :data:`OBSERVE_PAGE` is explained in :mod:`worker.detect.diff`, the cursor and lease scripts in
:mod:`worker.deliver.outbox` and :mod:`worker.store.lease`, :data:`RAISE_WATERMARK` in
:mod:`worker.detect.oplog`, the others next to the store that runs them.
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE_BUDGET",
    "ADVANCE_CURSOR",
    "END_MUTE",
    "EXTEND_LEASE",
    "INCIDENT_FAILED",
    "INCIDENT_SUCCEEDED",
    "KEEP_MUTED",
    "LEAVE_BACKLOG",
    "OBSERVE_PAGE",
    "PUT_MESSAGE_REF",
    "PUT_REPLY_REF",
    "RAISE_WATERMARK",
    "RELEASE_LEASE",
    "RESTORE_TASK",
    "SAVE_CURSOR",
    "SCHEDULE_HINT",
    "reply_text",
]


def reply_text(value: bytes | str) -> str:
    """A string from a script's or command's reply, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else value


# KEYS: 1 running set, 2 finished sorted set, 3 baseline marker, 4 outbox stream, 5 poll lease,
#       then per task i: state hash (5 + 2i - 1), log list (5 + 2i).
# ARGV: 1 now (ms), 2 now (seconds, JSON text), 3 source, 4 announce running on baseline (1/0),
#       5 retention (ms), 6 stall minimum (ms), 7 stall factor, 8 finished memory (entries),
#       9 cluster JSON members ("cluster_name":…,"cluster_labels":{…}), 10 cluster id,
#       11 fence: the poll lease's owner token ('' = unfenced); another owner means the poll lost its lease
#       and nothing is written (error FENCED),
#       12 the page's facts as one JSON array (packing many small arguments costs most), one
#       [task id, class (R running, F final, U unknown, L lost), status, step, total steps (-1 when
#       unknown)] per task in KEYS order, then 12 + i: task i's JSON text (kept apart: no escaping).
# Returns every transition emitted, in order, as emit() describes it. The task's JSON text is spliced into
# the log's JSON as is: a cjson round trip would turn its empty lists into objects.
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
if ARGV[11] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[11] then
  return redis.error_reply('FENCED the poll lease is held by another poll')
end
local baseline = redis.call('EXISTS', KEYS[3]) == 1
local announce_new_running = baseline or ARGV[4] == '1'
local out = {}
local changed = {}
local finished_added = false

local function seconds(ms)
  return string.format('%.3f', tonumber(ms) / 1000)
end

-- Log one transition of the page's task t and return it as one string (cheaper to read than an array):
-- "<page index> <kind> <sequence> <first seen (ms)> <previous step (-1 for none)> <last seen (ms, -1 unless
-- LOST)> <fingerprint>".
local function emit(t, kind, detail, first_seen, previous_step, last_seen)
  t.seq = t.seq + 1
  local prev = -1
  if previous_step ~= nil and previous_step >= 0 then prev = previous_step end
  local fingerprint = t.key .. '/' .. kind .. '/' .. detail
  local json = '{"kind":"' .. kind .. '","sequence":' .. string.format('%d', t.seq)
    .. ',"fingerprint":' .. cjson.encode(fingerprint) .. ',"task_key":' .. cjson.encode(t.key)
    .. ',' .. cluster_json .. ',"first_seen":' .. seconds(first_seen) .. ',"observed_at":' .. now_s
    .. ',"previous_step":' .. (prev >= 0 and string.format('%d', prev) or 'null')
    .. (last_seen and (',"last_seen":' .. seconds(last_seen)) or '') .. ',"task":' .. t.json .. '}'
  redis.call('RPUSH', t.lk, json)
  out[#out + 1] = table.concat({t.i, kind, t.seq, first_seen, prev, last_seen or -1, fingerprint}, ' ')
  if changed[#changed] ~= t.key then changed[#changed + 1] = t.key end
end

local function finish(t, task_id)
  redis.call('SREM', running, task_id)
  redis.call('ZADD', finished, now, task_id)
  redis.call('PEXPIRE', t.sk, retention)
  redis.call('PEXPIRE', t.lk, retention)
  finished_added = true
end

-- Per task: one HMGET and one HSET, plus a few writes when something happened.
for i, item in ipairs(cjson.decode(ARGV[12])) do
  local task_id, class, status, step, total = unpack(item)
  local t = {i = i, sk = KEYS[4 + 2 * i], lk = KEYS[5 + 2 * i], key = cluster_id .. '/' .. task_id,
    json = ARGV[12 + i], seq = 0}
  local st = class ~= 'U' and redis.call('HMGET', t.sk, 'step', 'first_seen', 'step_since', 'announce',
    'stalled_step', 'first_step', 'final', 'seq', 'last_seen')
  -- A final task never changes again. Its hash says so while it lasts; the finished set remembers longer.
  if not st or st[7] == '1' or (not st[1] and redis.call('ZSCORE', finished, task_id)) then
    -- nothing to do: unknown status, or known final
  elseif not st[1] then
    if class == 'L' then
      -- never tracked: nothing to close
    elseif class == 'R' then
      local announce = announce_new_running and '1' or '0'
      if announce == '1' then emit(t, 'started', status, now, nil) end
      redis.call('HSET', t.sk, 'status', status, 'step', step, 'total', total, 'first_seen', now,
        'last_seen', now, 'step_since', now, 'first_step', step, 'seq', t.seq, 'announce', announce)
      redis.call('SADD', running, task_id)
    elseif baseline or source ~= 'archive' then
      -- Seen for the first time already final: it started and ended between two polls.
      emit(t, 'finished', status, now, nil)
      redis.call('HSET', t.sk, 'status', status, 'step', step, 'total', total, 'first_seen', now,
        'last_seen', now, 'step_since', now, 'first_step', step, 'seq', t.seq, 'announce', 1, 'final', 1)
      finish(t, task_id)
    else
      -- Baseline: history that ended before we watched is remembered, never announced.
      redis.call('ZADD', finished, now, task_id)
      finished_added = true
    end
  else
    t.seq = tonumber(st[8])
    local old_step, first_seen = tonumber(st[1]), st[2]
    local announced = st[4] == '1'
    local fields = {'last_seen', now}
    if class == 'L' then
      -- E-HPC no longer reports it: closed for good, its last sighting in the transition.
      if announced then emit(t, 'lost', status, first_seen, old_step, st[9]) end
      fields = {'final', 1, 'lost', 1}
      finish(t, task_id)
    elseif class == 'F' then
      if announced then emit(t, 'finished', status, first_seen, old_step) end
      fields = {'last_seen', now, 'status', status, 'step', step, 'total', total, 'final', 1}
      finish(t, task_id)
    elseif step >= 0 and (old_step < 0 or step > old_step) then
      fields = {'last_seen', now, 'status', status, 'step', step, 'total', total, 'step_since', now}
      if old_step < 0 then
        fields[#fields + 1], fields[#fields + 2] = 'first_step', step
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
        fields = {'last_seen', now, 'stalled_step', step}
        emit(t, 'stalled', string.format('%d', step), first_seen, old_step)
      end
    end
    fields[#fields + 1], fields[#fields + 2] = 'seq', t.seq
    redis.call('HSET', t.sk, unpack(fields))
  end
end

-- One outbox entry per page that changed something: the keys of the tasks whose log grew.
-- Capped (approximately, oldest first) so an outbox nobody reads can't fill Redis; see OUTBOX_CAP.
if #changed > 0 then
  redis.call('XADD', outbox, 'MAXLEN', '~', '100000', '*', 'task_keys', cjson.encode(changed))
end
if finished_added then redis.call('ZREMRANGEBYRANK', finished, 0, -(memory + 1)) end
return out
"""

# KEYS: 1 poll lease, 2 scan cursor, 3 seen-running set. ARGV: 1 fence token ('' = unfenced), 2 cursor JSON,
# 3 reset the set first (1/0), 4… IDs to add to it. Error FENCED (nothing written) if another poll holds the
# lease. Explained in worker.detect.cursor.
SAVE_CURSOR = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED the poll lease is held by another poll')
end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[3] == '1' then redis.call('DEL', KEYS[3]) end
for i = 4, #ARGV, 1000 do
  redis.call('SADD', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return 1
"""

# Fencing, shared by the scripts below: KEYS[2] is the delivery lease and ARGV[1] the token of the delivery
# writing ('' = not written under a lease). A writer whose lease expired or passed to another worker is
# refused (-1) inside the same script that would write, so no late writer can slip in between a check and
# the write.
_FENCE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return -1
end
"""

# Makes KEYS[1] outlive the task's log (KEYS[3]) by ``margin`` ms: no expiry while the log has none (a
# running task, however long it runs), the log's remaining life plus the margin once it has one.
_OUTLIVE_LOG = """
local function outlive_log(margin)
  local life = redis.call('PTTL', KEYS[3])
  if life == -1 then
    redis.call('PERSIST', KEYS[1])
  else
    redis.call('PEXPIRE', KEYS[1], math.max(life, 0) + margin)
  end
end
"""

# KEYS: 1 cursor, 2 lease, 3 the task's log. ARGV: 1 token, 2 sequence, 3 margin (ms) beyond the log's
# life. Moves the cursor forward only; returns its value, or -1 when the writer no longer holds the lease.
ADVANCE_CURSOR = (
    _FENCE
    + _OUTLIVE_LOG
    + """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[2])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[2])
  outlive_log(tonumber(ARGV[3]))
  return wanted
end
return current
"""
)

# KEYS: 1 the task's message hash, 2 lease, 3 the task's log. ARGV: 1 token, 2 margin (s) beyond the log's
# life, 3 channel, 4 ts, 5 sequence.
# Records where the task's message is and the sequence it shows, never going back to a lower sequence
# (a late writer can't make the message look older than it is). Returns 1 written, 0 kept, -1 fenced.
PUT_MESSAGE_REF = (
    _FENCE
    + _OUTLIVE_LOG
    + """
local shown = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '-1')
if tonumber(ARGV[5]) < shown then
  return 0
end
redis.call('HSET', KEYS[1], 'channel', ARGV[3], 'ts', ARGV[4], 'sequence', ARGV[5])
outlive_log(tonumber(ARGV[2]) * 1000)
return 1
"""
)

# KEYS: 1 the task's message hash, 2 lease, 3 the task's log. ARGV: 1 token, 2 margin (s), 3 field,
# 4 value. Returns 1 or -1.
PUT_REPLY_REF = (
    _FENCE
    + _OUTLIVE_LOG
    + """
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
outlive_log(tonumber(ARGV[2]) * 1000)
return 1
"""
)

# KEYS: 1 state hash, 2 log list, 3 running set, 4 finished sorted set. ARGV: 1 task id, 2 sequence shown,
# 3 status, 4 step, 5 total steps, 6 first seen (ms), 7 now (ms), 8 the log's placeholder text.
# Follows a task again after a state loss, as its Slack message shows it: announced, running, its counter at
# the sequence shown, and the log padded to that length (index = sequence - 1 keeps holding). Returns 1,
# or 0 and changes nothing when Redis still knows the task.
RESTORE_TASK = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'step', ARGV[4], 'total', ARGV[5], 'first_seen', ARGV[6],
  'last_seen', ARGV[7], 'step_since', ARGV[7], 'first_step', ARGV[4], 'seq', ARGV[2], 'announce', '1')
local padding = {}
for i = 1, tonumber(ARGV[2]) do padding[i] = ARGV[8] end
if #padding > 0 then redis.call('RPUSH', KEYS[2], unpack(padding)) end
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

# KEYS: 1 lease. ARGV: 1 owner token. Deletes the lease only if its owner asks; returns 1 if it did.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: 1 lease. ARGV: 1 owner token, 2 new TTL in ms. Returns 1 if the owner still held it.
EXTEND_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: 1 watermark. ARGV: 1 Unix seconds. Moves the watermark forward only (a poll that outlived its lease
# must not pull it back); returns its value.
RAISE_WATERMARK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
"""

# the Slack channel budget (:mod:`worker.deliver.budget`)

# KEYS: 1 bucket hash. ARGV: 1 rate (tokens/second), 2 burst (tokens).
# Returns the wait in seconds as a string (Lua numbers would be truncated to integers on the way out).
ACQUIRE_BUDGET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""


# cluster mutes (:mod:`worker.deliver.mutes`)

# KEYS: mute hash, kept hash. ARGV: now (epoch s), fingerprint, transition JSON, cap. Keeps it only while
# the mute lasts, so a transition arriving after the end is delivered normally instead of waiting for a
# summary. Returns 0 (not muted: send it), 1 (kept, or kept already), 2 (muted, the hash is full: counted).
KEEP_MUTED = """
local ends = redis.call('HGET', KEYS[1], 'until')
if not ends or tonumber(ends) <= tonumber(ARGV[1]) then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 1 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then
  redis.call('HINCRBY', KEYS[1], 'overflow', 1)
  return 2
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


# KEYS: mute hash, kept hash, ends zset, summary hash, summary items, pending summaries set.
# ARGV: cluster id, now (epoch s), force ("1": end it even if due later), summary id.
# Ends the mute once and claims its summary: returns 1, or false if not (or no longer) due, e.g. another
# beat ended it first or someone extended it meanwhile.
END_MUTE = """
local ends = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not ends then return false end
if ARGV[3] ~= '1' and tonumber(ends) > tonumber(ARGV[2]) then return false end
redis.call('ZREM', KEYS[3], ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then redis.call('HSET', KEYS[4], unpack(fields)) end
redis.call('HSET', KEYS[4], 'cluster', ARGV[1], 'ended', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[5]) end
redis.call('SADD', KEYS[6], ARGV[4])
redis.call('DEL', KEYS[1])
return 1
"""


# a Slack channel's backlog (:mod:`worker.deliver.backlog`)

# KEYS: 1 backlog, then each task's log. ARGV: each task key, then each covered sequence (same order).
# Takes a task out of the backlog unless its log grew past what was delivered (atomic with a park, which
# always follows the log's growth).
LEAVE_BACKLOG = """
local count = #KEYS - 1
for i = 1, count do
  if redis.call('LLEN', KEYS[1 + i]) <= tonumber(ARGV[count + i]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return count
"""


# the incident ledger (:mod:`worker.deliver.target_state`)

# KEYS: 1 ledger hash. ARGV: 1 task key, 2 failure end (ms), 3 TTL (ms).
# Returns the recovering success's JSON if one began after this failure ended, else false.
INCIDENT_FAILED = """
redis.call('HSET', KEYS[1], 'f:' .. ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local began = tonumber(redis.call('HGET', KEYS[1], 'success_began') or '-1')
if tonumber(ARGV[2]) < began then return redis.call('HGET', KEYS[1], 'success') end
return false
"""


# KEYS: 1 ledger hash. ARGV: 1 success start (ms), 2 success JSON, 3 TTL (ms), 4 forget after (ms).
# Returns {still open (0/1), task keys of the failures that ended before this success began...}.
INCIDENT_SUCCEEDED = """
local began = tonumber(ARGV[1])
local latest = tonumber(redis.call('HGET', KEYS[1], 'success_began') or '-1')
if began > latest then
  redis.call('HSET', KEYS[1], 'success_began', ARGV[1], 'success', ARGV[2])
  latest = began
end
local open, recovered = 0, {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local name = fields[i]
  if string.sub(name, 1, 2) == 'f:' then
    local ended = tonumber(fields[i + 1])
    if ended < began then recovered[#recovered + 1] = string.sub(name, 3) end
    if ended >= latest then open = 1 end
    if ended < latest - tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], name) end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
table.insert(recovered, 1, open)
return recovered
"""


# KEYS: 1 the cluster's next free hint slot (ms, a string), 2 marker of a deferred hinted poll.
# ARGV: 1 now (ms), 2 interval (ms).
# Returns 0: poll now; N > 0: poll in N ms (one deferred poll at the slot's start); -1: one is already
# deferred, which will see this event's change too. Hinted polls are ``interval`` apart at least, and
# every event is followed by a poll within ``interval``. Both keys expire (bounded).
SCHEDULE_HINT = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if now >= slot then
  redis.call('SET', KEYS[1], tostring(now + interval), 'PX', interval + 1000)
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
local wait = slot - now
redis.call('SET', KEYS[2], '1', 'PX', wait)
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', wait + interval + 1000)
return wait
"""
