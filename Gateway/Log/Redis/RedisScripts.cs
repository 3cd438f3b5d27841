namespace Gateway.Log.Redis;

/// <summary>
/// The Lua scripts that do every change to a session in Redis, each one atomically. A session's
/// keys share the hash tag <c>{name}</c>: <c>meta</c> (a hash: seq, epoch, last event time, complete),
/// <c>events</c> (a list, the history, oldest first, seq = last seq - length + 1 + index),
/// <c>state</c> (a hash: event name to its latest entry), <c>ids</c> (a sorted set: idempotency key
/// scored by its seq), <c>clients</c> (a hash: node id to that node's client count),
/// <c>presence</c> (a hash: connection id to its node, join time, user and info) and <c>keyed</c>
/// (a hash: <c>name \n key</c> to <c>chunks \n entry</c>, the latest event of each name and key,
/// whose data, when chunks is above 0, is the text its appends assembled: spec section 19).
/// </summary>
/// <remarks>
/// An entry, in history, in state and on the events channel, is
/// <c>seq \n ts(ms) \n flags \n name \n data</c>: the name alphabet has no newline, and data
/// is the rest of the string, so nothing needs escaping. The flags are <c>0</c> or <c>1</c> (final),
/// then any of <c>f</c> (a <c>from</c> line follows the name: compact JSON, which escapes any
/// newline), <c>k</c> (a key line follows that), <c>a</c> (append) and <c>c</c> (conflate), in that
/// order: <c>seq \n ts \n 0fk \n name \n {"connection":..,"user":..} \n key \n data</c>. Entries
/// written before the later flags existed read as they always did. On the channel it is preceded by
/// <c>session \n epoch \n</c> (so that a node sees a session begin a new life under it);
/// <c>session \n #deleted \n epoch</c> tells the nodes a session's life was deleted.
/// Every session script takes the same keys, from <see cref="RedisKeys.Of"/>: meta, events, state,
/// ids, clients, presence and keyed, all in the session's hash slot, and publishes only on the
/// session's own sharded channel (<see cref="RedisKeys.Channel"/>, same slot), so that each runs
/// whole on one shard of a Redis Cluster. No script makes up a key name: each key it touches is in
/// KEYS. The set of sessions and the nodes' liveness live outside every session's slot: the
/// scripts never touch them; the caller does, with commands of their own, and hands the scripts
/// its copy of the nodes' liveness (<see cref="NodeLiveness"/>).
/// </remarks>
internal static class RedisScripts
{
    /// <summary>
    /// Appends a batch. ARGV: session, channel, max events, max names, idle ttl ms, completed ttl
    /// ms, create (1: the session may be created; it holds its place in the set of sessions), n,
    /// a new epoch (taken when this creates the session's life), then for each
    /// event: id key (empty for none), name, data, flags (<see cref="RedisEntry.Flags"/>), from
    /// (compact JSON; empty for none), key (empty for none); and last, max keys, max assembled
    /// bytes, and the most bytes of names and data history may hold (0: no such bound), counted
    /// from the end so that they stay put whatever comes before them.
    /// Returns <c>{status, seq, created, seq1, ..., seqN}</c>; a duplicate's seq is negative; created
    /// is 1 when this made the session. A refused batch returns <c>{status, seq, index}</c>: index is
    /// the (0-based) append past the limit for <c>assembled</c>; <c>missing</c> says the session does
    /// not exist and create was not given.
    /// </summary>
    /// <remarks>
    /// An append joins two JSON strings on their raw text (the first without its closing quote,
    /// the second without its opening one): escapes stay whole, nothing is decoded. Lua copies
    /// the text at each append, which <c>Limits:MaxAssembledBytes</c> bounds. With a byte bound,
    /// meta's <c>bytes</c> holds what history weighs (weighed afresh when it is missing, as in a
    /// session written without a bound); without one it is dropped, so that a bound set later never
    /// starts from a stale count.
    /// </remarks>
    public const string Publish = KeyedText + """
        local meta, events, state, ids, clients, keyed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[7]

        -- What an entry weighs against the byte bound: its name and data (not seq, time, flags, from, key).
        local function weigh(e)
          local a = string.find(e, '\n', 1, true)
          local b = string.find(e, '\n', a + 1, true)
          local c = string.find(e, '\n', b + 1, true)
          local d = string.find(e, '\n', c + 1, true)
          local name = d - c - 1
          local flags = string.sub(e, b + 1, c - 1)
          if string.find(flags, 'f', 1, true) then d = string.find(e, '\n', d + 1, true) end
          if string.find(flags, 'k', 1, true) then d = string.find(e, '\n', d + 1, true) end
          return name + #e - d
        end

        local n = tonumber(ARGV[8])
        -- meta holds a seq from the moment it is made (here or by a read): without one there is no session.
        local m = redis.call('HMGET', meta, 'seq', 'complete', 'epoch', 'bytes')
        local exists = m[1] ~= false
        local seq, complete, epoch = 0, false, ARGV[9]
        if exists then
          seq = tonumber(m[1]) or 0
          complete = m[2] == '1'
          epoch = m[3] or epoch
        elseif ARGV[7] ~= '1' then
          -- Creating a session takes a place in the set of sessions first, outside this script.
          return {'missing', 0, 0}
        end

        local result, anyNew = {}, false
        for i = 1, n do
          local id = ARGV[4 + 6 * i]
          local known = id ~= '' and redis.call('ZSCORE', ids, id)
          if known then result[i] = -tonumber(known) else result[i] = 0; anyNew = true end
        end
        if anyNew and complete then return {'complete', seq, 0} end

        if anyNew then
          -- Each name is looked up only when counting every one as new could pass the bound.
          local names, added, maxNames = redis.call('HLEN', state), {}, tonumber(ARGV[4])
          if names + n > maxNames then
            for i = 1, n do
              local name = ARGV[5 + 6 * i]
              if result[i] == 0 and ARGV[9 + 6 * i] == '' and not added[name] and redis.call('HEXISTS', state, name) == 0 then
                added[name] = true
                names = names + 1
              end
            end
          end
          if names > maxNames then return {'names', seq, 0} end

          -- Keyed state: each append's text length as the batch would leave it (-1: not an assembly).
          local count, planned, repeated = redis.call('HLEN', keyed), {}, {}
          for i = 1, n do
            local id, name, data, flags, key = ARGV[4 + 6 * i], ARGV[5 + 6 * i], ARGV[6 + 6 * i], ARGV[7 + 6 * i], ARGV[9 + 6 * i]
            local again = id ~= '' and repeated[id]
            if id ~= '' then repeated[id] = true end
            if result[i] == 0 and not again and key ~= '' then
              local field = name .. '\n' .. key
              local length = planned[field]
              if length == nil then
                local held = redis.call('HGET', keyed, field)
                length = -1
                if held then
                  local _, text = assembled(held)
                  if text then length = #text end
                else
                  count = count + 1
                end
              end
              if string.find(flags, 'a', 2, true) then
                if length >= 0 then length = length + #data - 2 else length = #data end
                if length > tonumber(ARGV[#ARGV - 1]) then return {'assembled', seq, i - 1} end
              else
                length = -1
              end
              planned[field] = length
            end
          end
          if count > tonumber(ARGV[#ARGV - 2]) then return {'keys', seq, 0} end
        end

        local t = redis.call('TIME')
        local ts = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local final, len = false, nil
        for i = 1, n do
          if result[i] == 0 then
            local id, name, data, flags, from, key = ARGV[4 + 6 * i], ARGV[5 + 6 * i], ARGV[6 + 6 * i], ARGV[7 + 6 * i], ARGV[8 + 6 * i], ARGV[9 + 6 * i]
            local earlier = id ~= '' and redis.call('ZSCORE', ids, id)
            if earlier then
              result[i] = -tonumber(earlier)
            else
              seq = seq + 1
              local entry = string.format('%d\n%d\n%s\n%s\n', seq, ts, flags, name)
              if from ~= '' then entry = entry .. from .. '\n' end
              if key ~= '' then entry = entry .. key .. '\n' end
              entry = entry .. data
              len = redis.call('RPUSH', events, entry)
              if key == '' then
                redis.call('HSET', state, name, entry)
              else
                -- A keyed event lives under its name and key only: replaced, or its text appended.
                local field, chunks, text = name .. '\n' .. key, 0, data
                if string.find(flags, 'a', 2, true) then
                  local held, before, sofar = redis.call('HGET', keyed, field), 0, nil
                  if held then before, sofar = assembled(held) end
                  if sofar then text = string.sub(sofar, 1, -2) .. string.sub(data, 2) end
                  chunks = before + 1
                end
                redis.call('HSET', keyed, field, string.format('%d\n', chunks) .. string.sub(entry, 1, #entry - #data) .. text)
              end
              if id ~= '' then redis.call('ZADD', ids, seq, id) end
              redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n' .. epoch .. '\n' .. entry)
              result[i] = seq
              if string.sub(flags, 1, 1) == '1' then final = true end
            end
          end
        end

        local max, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[#ARGV])
        len = len or redis.call('LLEN', events)
        local drop = 0
        if len > max then drop = len - max end
        if anyNew and maxBytes > 0 then
          -- m holds meta as it was before this batch: the entries after its seq are this batch's.
          local bytes = tonumber(m[4] or '')
          local pushed = seq - (tonumber(m[1]) or 0)
          local from = bytes and math.max(len - pushed, 0) or 0
          bytes = bytes or 0
          for _, e in ipairs(redis.call('LRANGE', events, from, -1)) do bytes = bytes + weigh(e) end
          if drop > 0 then
            for _, e in ipairs(redis.call('LRANGE', events, 0, drop - 1)) do bytes = bytes - weigh(e) end
          end
          -- Then the oldest while history weighs more than the bound; the newest always stays.
          while bytes > maxBytes and len - drop > 1 do
            bytes = bytes - weigh(redis.call('LINDEX', events, drop))
            drop = drop + 1
          end
          redis.call('HSET', meta, 'bytes', string.format('%d', bytes))
        elseif anyNew and m[4] then
          redis.call('HDEL', meta, 'bytes')
        end
        if drop > 0 then
          redis.call('LTRIM', events, drop, -1)
          -- An id leaves with its event: idempotency holds within history.
          redis.call('ZREMRANGEBYSCORE', ids, '-inf', '(' .. string.format('%d', seq - (len - drop) + 1))
        end

        if anyNew then
          local fields = {'seq', string.format('%d', seq), 'last', string.format('%d', ts)}
          -- A life begins with the session's keys: a session Redis lost (a restart without
          -- persistence, expiry, DELETE) starts again at seq 1 with a new epoch.
          if not m[3] then fields[#fields + 1] = 'epoch'; fields[#fields + 1] = epoch end
          if final then fields[#fields + 1] = 'complete'; fields[#fields + 1] = '1' end
          redis.call('HSET', meta, unpack(fields))
          local ttl = final and ARGV[6] or ARGV[5]
          for _, key in ipairs({meta, events, state, ids, clients, keyed}) do redis.call('PEXPIRE', key, ttl) end
        end
        local out = {'ok', seq, (not exists and anyNew) and 1 or 0}
        for i = 1, n do out[3 + i] = result[i] end
        return out
        """;

    /// <summary>
    /// Reads where a session stands and the held events after <c>since</c>, creating the session
    /// when asked. ARGV: session, since (-1: no events wanted), limit, node id (non-empty: count a
    /// client of that node), idle ttl ms, create (1: create the session when it does not exist),
    /// touch (1: a client joins, so the session's idle time starts again), a new epoch (taken when
    /// this creates the session's life, or finds one from before epochs), the nodes (<see cref="NodeLiveness"/>).
    /// Returns <c>{found, seq, complete, held, more, epoch, clients, entry...}</c>: found is 0 when the
    /// session does not exist, 2 when this read created it, else 1; held is 0 when
    /// history no longer holds every event after since; more is 1 when the limit cut the page short;
    /// clients is, when this read counted a client in, the session's clients on every live node
    /// after counting it (1: its first), else 0.
    /// </summary>
    public const string Read = NodeLiveness + LiveClients + """
        local meta, events, clients = KEYS[1], KEYS[2], KEYS[5]
        local found = 1
        if redis.call('EXISTS', meta) == 0 then
          if ARGV[6] ~= '1' then return {0, 0, 0, 1, 0, '', 0} end
          redis.call('HSET', meta, 'seq', '0', 'epoch', ARGV[8])
          redis.call('PEXPIRE', meta, ARGV[5])
          found = 2
        end

        local m = redis.call('HMGET', meta, 'seq', 'complete', 'epoch')
        local seq, complete, epoch = tonumber(m[1]) or 0, m[2] == '1', m[3]
        if not epoch then
          epoch = ARGV[8]
          redis.call('HSET', meta, 'epoch', epoch)
        end
        local counted = 0
        if not complete then
          if ARGV[4] ~= '' then
            redis.call('HINCRBY', clients, ARGV[4], 1)
            counted = live(clients, ARGV[9], ARGV[4])
          end
          if ARGV[7] == '1' then
            for _, key in ipairs({meta, events, KEYS[3], KEYS[4], clients, KEYS[7]}) do redis.call('PEXPIRE', key, ARGV[5]) end
          end
        end

        local out = {found, seq, complete and 1 or 0, 1, 0, epoch, counted}
        local since = tonumber(ARGV[2])
        if since >= 0 and since < seq then
          local oldest = seq - redis.call('LLEN', events) + 1
          local from = math.max(since + 1, oldest)
          local to = math.min(seq, from + tonumber(ARGV[3]) - 1)
          if since + 1 < oldest then out[4] = 0 end
          if to < seq then out[5] = 1 end
          if from <= to then
            local entries = redis.call('LRANGE', events, from - oldest, to - oldest)
            for i = 1, #entries do out[7 + i] = entries[i] end
          end
        end
        return out
        """;

    /// <summary>
    /// A node's client leaves: ARGV node id, the nodes (<see cref="NodeLiveness"/>). The count's field goes when it reaches zero. Returns
    /// the session's clients on every live node that remain (0: the last one left), or -1 when
    /// this node had none counted (a count restated, or a session deleted, meanwhile).
    /// </summary>
    public const string Leave = NodeLiveness + LiveClients + """
        local left = redis.call('HINCRBY', KEYS[5], ARGV[1], -1)
        if left <= 0 then redis.call('HDEL', KEYS[5], ARGV[1]) end
        if left < 0 then return -1 end
        return live(KEYS[5], ARGV[2], ARGV[1])
        """;

    /// <summary>
    /// A Lua function for the scripts that keep keyed state: <c>assembled(value)</c> reads a keyed
    /// hash value (<c>chunks \n seq \n ts \n flags \n name \n [from \n] key \n data</c>) and returns
    /// its chunks and, when appends assembled it (chunks above 0), its data: the text so far.
    /// </summary>
    private const string KeyedText = """
        local function assembled(v)
          local p = string.find(v, '\n', 1, true)
          local chunks = tonumber(string.sub(v, 1, p - 1))
          if chunks == 0 then return 0, nil end
          local flags
          for line = 1, 3 do
            local q = string.find(v, '\n', p + 1, true)
            if line == 3 then flags = string.sub(v, p + 1, q - 1) end
            p = q
          end
          for _ = 1, string.find(flags, 'f', 2, true) and 3 or 2 do p = string.find(v, '\n', p + 1, true) end
          return chunks, string.sub(v, p + 1)
        end

        """;

    /// <summary>
    /// A Lua function for the scripts that count clients (after <see cref="NodeLiveness"/>): the sum
    /// of a session's counts over the nodes still alive (and <c>self</c>, the caller, which is),
    /// dropping the counts of nodes whose liveness ran out, as <see cref="Snapshot"/> does. So a dead node's clients stop counting once
    /// its liveness runs out and another node counts or leaves.
    /// </summary>
    private const string LiveClients = """
        local function live(clients, nodes, self)
          local isAlive = liveness(nodes)
          local counts, sum = redis.call('HGETALL', clients), 0
          for i = 1, #counts, 2 do
            if counts[i] == self or isAlive(counts[i]) then
              sum = sum + tonumber(counts[i + 1])
            else
              redis.call('HDEL', clients, counts[i])
            end
          end
          return sum
        end

        """;

    /// <summary>
    /// Where a session stands. ARGV: the session, with state (1: its entries follow), the nodes
    /// (<see cref="NodeLiveness"/>). Returns
    /// <c>{found, seq, complete, last, clients, epoch}</c>, and with state <c>n, state entry * n,
    /// keyed value...</c> (keyed values as the keyed hash holds them). Counts of nodes whose liveness
    /// has run out (a node that died) are dropped.
    /// </summary>
    public const string Snapshot = NodeLiveness + """
        local meta, state, clients = KEYS[1], KEYS[3], KEYS[5]
        if redis.call('EXISTS', meta) == 0 then return {0} end
        local isAlive = liveness(ARGV[3])
        local m = redis.call('HMGET', meta, 'seq', 'complete', 'last', 'epoch')
        local counts, sum = redis.call('HGETALL', clients), 0
        for i = 1, #counts, 2 do
          if isAlive(counts[i]) then
            sum = sum + tonumber(counts[i + 1])
          else
            redis.call('HDEL', clients, counts[i])
          end
        end
        local out = {1, tonumber(m[1]) or 0, m[2] == '1' and 1 or 0, tonumber(m[3] or '0'), sum, m[4] or ''}
        if ARGV[2] == '1' then
          local entries = redis.call('HVALS', state)
          out[7] = #entries
          for i = 1, #entries do out[7 + i] = entries[i] end
          local keyed = redis.call('HVALS', KEYS[7])
          for i = 1, #keyed do out[7 + #entries + i] = keyed[i] end
        end
        return out
        """;

    /// <summary>Forgets a session and tells every node. ARGV: session, channel. Returns 1, or 0 when it did not exist.</summary>
    public const string Delete = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
        redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n#deleted\n' .. epoch)
        return 1
        """;

    /// <summary>
    /// A node's periodic visit to one session it has clients in (or, after a reconnect, any session
    /// it holds): keeps the session alive and, with set, states the node's client count afresh.
    /// ARGV: node id, idle ttl ms, set counts (1: write the count as is), this node's client count.
    /// </summary>
    public const string Touch = """
        local node, idle, count = ARGV[1], ARGV[2], tonumber(ARGV[4])
        local m = redis.call('HMGET', KEYS[1], 'seq', 'complete')
        if m[1] and m[2] ~= '1' then
          if ARGV[3] == '1' then
            if count > 0 then redis.call('HSET', KEYS[5], node, count) else redis.call('HDEL', KEYS[5], node) end
          end
          if count > 0 then
            for _, i in ipairs({1, 2, 3, 4, 5, 6, 7}) do redis.call('PEXPIRE', KEYS[i], idle) end
          end
        end
        return 1
        """;

    /// <summary>
    /// A node says it is alive for another liveness period. KEYS[1] the nodes' sorted set; ARGV:
    /// node id, liveness ttl ms, how long (ms) a node whose liveness ran out stays in the set.
    /// Returns <c>{dead, now, node, until, ...}</c>: dead is 1 when the node was not alive before
    /// (its first visit, or it had been taken for dead), then every node in the set with the time
    /// its liveness runs out, which the caller hands to the session scripts (<see cref="NodeLiveness"/>).
    /// </summary>
    /// <remarks>
    /// A dead node stays in the set, with its past time, long after it died: a session script
    /// only knows a node is dead from a copy of this set, and drops that node's counts and members
    /// then. A node missing from a copy (one that started after it was taken) counts as alive.
    /// </remarks>
    public const string Alive = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        local out = {(not before or tonumber(before) <= now) and 1 or 0, now}
        local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        for i = 1, #all do out[2 + i] = all[i] end
        return out
        """;

    /// <summary>
    /// A presence member joins (spec section 17) and the nodes are told. ARGV: session, channel,
    /// connection, member (<c>node \n since(ms) \n user \n info</c>), idle ttl ms. On the channel:
    /// <c>session \n #presence \n + \n connection \n member</c>.
    /// </summary>
    public const string PresenceJoin = """
        redis.call('HSET', KEYS[6], ARGV[3], ARGV[4])
        redis.call('PEXPIRE', KEYS[6], ARGV[5])
        redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n+\n' .. ARGV[3] .. '\n' .. ARGV[4])
        return 1
        """;

    /// <summary>
    /// A presence member leaves and the nodes are told (<c>-</c> in place of <c>+</c>), once: a
    /// member that was not there is not announced. ARGV: session, channel, connection.
    /// </summary>
    public const string PresenceLeave = """
        local member = redis.call('HGET', KEYS[6], ARGV[3])
        if not member then return 0 end
        redis.call('HDEL', KEYS[6], ARGV[3])
        redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n-\n' .. ARGV[3] .. '\n' .. member)
        return 1
        """;

    /// <summary>
    /// A Lua function for the scripts that need to know which nodes are alive without a key
    /// outside their session (in a Redis Cluster the nodes' set lives in another slot):
    /// <c>liveness(nodes)</c> takes the caller's copy of that set, <c>id=until,id=until</c> (ms),
    /// and returns <c>isAlive(node)</c>: true unless the copy holds the node with a time that has
    /// passed. An empty copy (the caller's is too old to trust) takes every node for alive.
    /// </summary>
    private const string NodeLiveness = """
        local function liveness(nodes)
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          local untils = {}
          for id, until_ in string.gmatch(nodes, '([^=,]+)=(%d+)') do untils[id] = tonumber(until_) end
          return function(node)
            local until_ = untils[node]
            return until_ == nil or until_ > now
          end
        end

        """;

    /// <summary>
    /// A session's presence members whose node is alive. ARGV: the nodes (<see cref="NodeLiveness"/>).
    /// Returns <c>{found, connection, member, ...}</c>; found is 0 when the session does not exist.
    /// </summary>
    public const string PresenceRead = NodeLiveness + """
        local isAlive = liveness(ARGV[1])
        local out = {redis.call('EXISTS', KEYS[1])}
        local all = redis.call('HGETALL', KEYS[6])
        for i = 1, #all, 2 do
          if isAlive(string.match(all[i + 1], '^[^\n]*')) then
            out[#out + 1] = all[i]
            out[#out + 1] = all[i + 1]
          end
        end
        return out
        """;

    /// <summary>
    /// Drops the presence members of nodes whose liveness ran out (a node that died), telling the
    /// nodes each leave, once. ARGV: session, channel, the nodes (<see cref="NodeLiveness"/>).
    /// Returns how many left.
    /// </summary>
    public const string PresenceReap = NodeLiveness + """
        local isAlive = liveness(ARGV[3])
        local gone = 0
        local all = redis.call('HGETALL', KEYS[6])
        for i = 1, #all, 2 do
          if not isAlive(string.match(all[i + 1], '^[^\n]*')) then
            redis.call('HDEL', KEYS[6], all[i])
            redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n-\n' .. all[i] .. '\n' .. all[i + 1])
            gone = gone + 1
          end
        end
        return gone
        """;

    /// <summary>
    /// States a node's presence members of a session afresh (after a reconnection, or after it was
    /// taken for dead): its members that are no longer there leave, those missing join, each told
    /// to the nodes. ARGV: session, channel, node, idle ttl ms, n, then n pairs of connection and member.
    /// </summary>
    public const string PresenceRestate = """
        local n = tonumber(ARGV[5])
        local here = {}
        for i = 1, n do here[ARGV[4 + 2 * i]] = true end
        local all = redis.call('HGETALL', KEYS[6])
        for i = 1, #all, 2 do
          if string.match(all[i + 1], '^[^\n]*') == ARGV[3] and not here[all[i]] then
            redis.call('HDEL', KEYS[6], all[i])
            redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n-\n' .. all[i] .. '\n' .. all[i + 1])
          end
        end
        for i = 1, n do
          local connection, member = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
          if redis.call('HSETNX', KEYS[6], connection, member) == 1 then
            redis.call('SPUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n+\n' .. connection .. '\n' .. member)
          end
        end
        if n > 0 then redis.call('PEXPIRE', KEYS[6], ARGV[4]) end
        return 1
        """;

    /// <summary>
    /// Takes a place in the set of sessions for a session about to be created, unless
    /// <c>Sessions:MaxSessions</c> are held already. KEYS[1] the set of sessions (in no session's
    /// slot: a script of its own); ARGV: session, max sessions. Returns 1 when the session has its
    /// place (it had one already, or took one), 0 when the limit forbids it.
    /// </summary>
    public const string Reserve = """
        if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
        if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
        return redis.call('SADD', KEYS[1], ARGV[1])
        """;
}
