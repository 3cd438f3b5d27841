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
/// ids, clients, the set of all sessions, the nodes' liveness (a sorted set: node id scored by
/// the time its liveness runs out), presence and keyed. No script makes up a key name: each key it
/// touches is in KEYS.
/// </remarks>
internal static class RedisScripts
{
    /// <summary>
    /// Appends a batch. ARGV: session, channel, max events, max names, idle ttl ms, completed ttl
    /// ms, max sessions, n, a new epoch (taken when this creates the session's life), then for each
    /// event: id key (empty for none), name, data, flags (<see cref="RedisEntry.Flags"/>), from
    /// (compact JSON; empty for none), key (empty for none); and last, max keys, max assembled
    /// bytes, and the most bytes of names and data history may hold (0: no such bound), counted
    /// from the end so that they stay put whatever comes before them.
    /// Returns <c>{status, seq, ts, seq1, ..., seqN}</c>; a duplicate's seq is negative. A refused
    /// batch returns <c>{status, seq, index}</c>: index is the (0-based) append past the limit for
    /// <c>assembled</c>.
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
        local meta, events, state, ids, clients, all, keyed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[9]

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
        local exists = redis.call('EXISTS', meta) == 1
        local seq, complete, epoch = 0, false, ARGV[9]
        if exists then
          local m = redis.call('HMGET', meta, 'seq', 'complete', 'epoch')
          seq = tonumber(m[1]) or 0
          complete = m[2] == '1'
          epoch = m[3] or epoch
        elseif redis.call('SCARD', all) >= tonumber(ARGV[7]) and redis.call('SISMEMBER', all, ARGV[1]) == 0 then
          return {'limit', 0, 0}
        end

        local result, anyNew = {}, false
        for i = 1, n do
          local id = ARGV[4 + 6 * i]
          local known = id ~= '' and redis.call('ZSCORE', ids, id)
          if known then result[i] = -tonumber(known) else result[i] = 0; anyNew = true end
        end
        if anyNew and complete then return {'complete', seq, 0} end

        if anyNew then
          local names, added = redis.call('HLEN', state), {}
          for i = 1, n do
            local name = ARGV[5 + 6 * i]
            if result[i] == 0 and ARGV[9 + 6 * i] == '' and not added[name] and redis.call('HEXISTS', state, name) == 0 then
              added[name] = true
              names = names + 1
            end
          end
          if names > tonumber(ARGV[4]) then return {'names', seq, 0} end

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
        local final = false
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
              redis.call('RPUSH', events, entry)
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
              redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n' .. epoch .. '\n' .. entry)
              result[i] = seq
              if string.sub(flags, 1, 1) == '1' then final = true end
            end
          end
        end

        local max, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[#ARGV])
        local len = redis.call('LLEN', events)
        local drop = 0
        if len > max then drop = len - max end
        if anyNew and maxBytes > 0 then
          -- meta's seq is still the one before this batch: the entries after it are this batch's.
          local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '')
          local pushed = seq - (tonumber(redis.call('HGET', meta, 'seq')) or 0)
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
        elseif anyNew then
          redis.call('HDEL', meta, 'bytes')
        end
        if drop > 0 then
          redis.call('LTRIM', events, drop, -1)
          -- An id leaves with its event: idempotency holds within history.
          redis.call('ZREMRANGEBYSCORE', ids, '-inf', '(' .. string.format('%d', seq - (len - drop) + 1))
        end

        if anyNew then
          redis.call('HSET', meta, 'seq', string.format('%d', seq), 'last', string.format('%d', ts))
          -- A life begins with the session's keys: a session Redis lost (a restart without
          -- persistence, expiry, DELETE) starts again at seq 1 with a new epoch.
          redis.call('HSETNX', meta, 'epoch', epoch)
          if final then redis.call('HSET', meta, 'complete', '1') end
          local ttl = final and ARGV[6] or ARGV[5]
          for _, key in ipairs({meta, events, state, ids, clients, keyed}) do redis.call('PEXPIRE', key, ttl) end
        end
        if not exists then redis.call('SADD', all, ARGV[1]) end

        local out = {'ok', seq, ts}
        for i = 1, n do out[3 + i] = result[i] end
        return out
        """;

    /// <summary>
    /// Reads where a session stands and the held events after <c>since</c>, creating the session
    /// when asked. ARGV: session, since (-1: no events wanted), limit, node id (non-empty: count a
    /// client of that node), idle ttl ms, max sessions (-1: do not create), touch (1: a client
    /// joins, so the session's idle time starts again), a new epoch (taken when this creates the
    /// session's life, or finds one from before epochs).
    /// Returns <c>{found, seq, complete, held, more, epoch, clients, entry...}</c>: found is 0 when the
    /// session does not exist, -1 when the session limit forbids creating it; held is 0 when
    /// history no longer holds every event after since; more is 1 when the limit cut the page short;
    /// clients is, when this read counted a client in, the session's clients on every live node
    /// after counting it (1: its first), else 0.
    /// </summary>
    public const string Read = LiveClients + """
        local meta, events, clients, all = KEYS[1], KEYS[2], KEYS[5], KEYS[6]
        if redis.call('EXISTS', meta) == 0 then
          if ARGV[6] == '-1' then return {0, 0, 0, 1, 0, '', 0} end
          if redis.call('SCARD', all) >= tonumber(ARGV[6]) and redis.call('SISMEMBER', all, ARGV[1]) == 0 then
            return {-1, 0, 0, 1, 0, '', 0}
          end
          redis.call('HSET', meta, 'seq', '0', 'epoch', ARGV[8])
          redis.call('PEXPIRE', meta, ARGV[5])
          redis.call('SADD', all, ARGV[1])
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
            counted = live(clients, KEYS[7], ARGV[4])
          end
          if ARGV[7] == '1' then
            for _, key in ipairs({meta, events, KEYS[3], KEYS[4], clients, KEYS[9]}) do redis.call('PEXPIRE', key, ARGV[5]) end
          end
        end

        local out = {1, seq, complete and 1 or 0, 1, 0, epoch, counted}
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
    /// A node's client leaves: ARGV node id. The count's field goes when it reaches zero. Returns
    /// the session's clients on every live node that remain (0: the last one left), or -1 when
    /// this node had none counted (a count restated, or a session deleted, meanwhile).
    /// </summary>
    public const string Leave = LiveClients + """
        local left = redis.call('HINCRBY', KEYS[5], ARGV[1], -1)
        if left <= 0 then redis.call('HDEL', KEYS[5], ARGV[1]) end
        if left < 0 then return -1 end
        return live(KEYS[5], KEYS[7], ARGV[1])
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
    /// A Lua function for the scripts that count clients: the sum of a session's counts over the
    /// nodes still alive (and <c>self</c>, the caller, which is), dropping the counts of nodes whose
    /// liveness ran out, as <see cref="Snapshot"/> does. So a dead node's clients stop counting once
    /// its liveness runs out and another node counts or leaves.
    /// </summary>
    private const string LiveClients = """
        local function live(clients, nodes, self)
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
          local counts, sum = redis.call('HGETALL', clients), 0
          for i = 1, #counts, 2 do
            local alive = counts[i] == self or redis.call('ZSCORE', nodes, counts[i])
            if alive == true or (alive and tonumber(alive) > now) then
              sum = sum + tonumber(counts[i + 1])
            else
              redis.call('HDEL', clients, counts[i])
            end
          end
          return sum
        end

        """;

    /// <summary>
    /// Where a session stands. ARGV: the session, with state (1: its entries follow). Returns
    /// <c>{found, seq, complete, last, clients, epoch}</c>, and with state <c>n, state entry * n,
    /// keyed value...</c> (keyed values as the keyed hash holds them). Counts of nodes whose liveness
    /// has run out (a node that died) are dropped; a session whose keys expired leaves the set of
    /// sessions.
    /// </summary>
    public const string Snapshot = """
        local meta, state, clients, all, nodes = KEYS[1], KEYS[3], KEYS[5], KEYS[6], KEYS[7]
        if redis.call('EXISTS', meta) == 0 then
          redis.call('SREM', all, ARGV[1])
          return {0}
        end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local m = redis.call('HMGET', meta, 'seq', 'complete', 'last', 'epoch')
        local counts, sum = redis.call('HGETALL', clients), 0
        for i = 1, #counts, 2 do
          local alive = redis.call('ZSCORE', nodes, counts[i])
          if alive and tonumber(alive) > now then
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
          local keyed = redis.call('HVALS', KEYS[9])
          for i = 1, #keyed do out[7 + #entries + i] = keyed[i] end
        end
        return out
        """;

    /// <summary>Forgets a session and tells every node. ARGV: session, channel. Returns 1, or 0 when it did not exist.</summary>
    public const string Delete = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], KEYS[9])
        redis.call('SREM', KEYS[6], ARGV[1])
        redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n#deleted\n' .. epoch)
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
            for _, i in ipairs({1, 2, 3, 4, 5, 8, 9}) do redis.call('PEXPIRE', KEYS[i], idle) end
          end
        end
        return 1
        """;

    /// <summary>
    /// A node says it is alive for another liveness period, and nodes whose period ran out are
    /// forgotten. KEYS[1] the nodes' sorted set; ARGV: node id, liveness ttl ms. Returns 1 when
    /// the node was not in the set (its first visit, or it had been taken for dead), else 0.
    /// </summary>
    public const string Alive = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        """;

    /// <summary>
    /// A presence member joins (spec section 17) and the nodes are told. ARGV: session, channel,
    /// connection, member (<c>node \n since(ms) \n user \n info</c>), idle ttl ms. On the channel:
    /// <c>session \n #presence \n + \n connection \n member</c>.
    /// </summary>
    public const string PresenceJoin = """
        redis.call('HSET', KEYS[8], ARGV[3], ARGV[4])
        redis.call('PEXPIRE', KEYS[8], ARGV[5])
        redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n+\n' .. ARGV[3] .. '\n' .. ARGV[4])
        return 1
        """;

    /// <summary>
    /// A presence member leaves and the nodes are told (<c>-</c> in place of <c>+</c>), once: a
    /// member that was not there is not announced. ARGV: session, channel, connection.
    /// </summary>
    public const string PresenceLeave = """
        local member = redis.call('HGET', KEYS[8], ARGV[3])
        if not member then return 0 end
        redis.call('HDEL', KEYS[8], ARGV[3])
        redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n-\n' .. ARGV[3] .. '\n' .. member)
        return 1
        """;

    /// <summary>
    /// The start of a presence script: <c>isAlive(node)</c>, true while the node's liveness in
    /// KEYS[7] has not run out, each node looked up once per script.
    /// </summary>
    private const string LiveMemberNodes = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local alive = {}
        local function isAlive(node)
          if alive[node] == nil then
            local until_ = redis.call('ZSCORE', KEYS[7], node)
            alive[node] = until_ ~= false and tonumber(until_) > now
          end
          return alive[node]
        end

        """;

    /// <summary>
    /// A session's presence members whose node is alive. ARGV: none. Returns
    /// <c>{found, connection, member, ...}</c>; found is 0 when the session does not exist.
    /// </summary>
    public const string PresenceRead = LiveMemberNodes + """
        local out = {redis.call('EXISTS', KEYS[1])}
        local all = redis.call('HGETALL', KEYS[8])
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
    /// nodes each leave, once. ARGV: session, channel. Returns how many left.
    /// </summary>
    public const string PresenceReap = LiveMemberNodes + """
        local gone = 0
        local all = redis.call('HGETALL', KEYS[8])
        for i = 1, #all, 2 do
          if not isAlive(string.match(all[i + 1], '^[^\n]*')) then
            redis.call('HDEL', KEYS[8], all[i])
            redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n-\n' .. all[i] .. '\n' .. all[i + 1])
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
        local all = redis.call('HGETALL', KEYS[8])
        for i = 1, #all, 2 do
          if string.match(all[i + 1], '^[^\n]*') == ARGV[3] and not here[all[i]] then
            redis.call('HDEL', KEYS[8], all[i])
            redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n-\n' .. all[i] .. '\n' .. all[i + 1])
          end
        end
        for i = 1, n do
          local connection, member = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
          if redis.call('HSETNX', KEYS[8], connection, member) == 1 then
            redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\n#presence\n+\n' .. connection .. '\n' .. member)
          end
        end
        if n > 0 then redis.call('PEXPIRE', KEYS[8], ARGV[4]) end
        return 1
        """;

    /// <summary>
    /// Drops a session's name from the set of sessions when its keys have expired. ARGV: session.
    /// Returns 1 when it was dropped.
    /// </summary>
    public const string Forget = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        return redis.call('SREM', KEYS[6], ARGV[1])
        """;
}
