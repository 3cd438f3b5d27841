using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Log;

/// <summary>
/// A session's keyed state in memory (spec section 19): the latest event of each event name and
/// key, and for appends the text assembled so far. Not thread-safe: its session's lock guards it.
/// </summary>
/// <remarks>
/// Data is compact JSON, and an append's data is one JSON string: joining <c>"ab"</c> and
/// <c>"cd"</c> is the first without its closing quote followed by the second without its opening
/// one, on the raw bytes. Escapes stay whole (each chunk is valid JSON on its own), so nothing is
/// decoded. The text grows in a buffer that doubles, so that a long answer streamed in thousands
/// of small chunks costs linear copying, not quadratic; what an entry holds is its buffer's size.
/// </remarks>
internal sealed class KeyedState(int maxKeys, int maxAssembledBytes)
{
    // The entry object, its dictionary slot and tuple key, and array headers: an estimate in the
    // spirit of HistoryBudget's overhead per event.
    private const int Overhead = 128;

    // The smallest buffer an assembly starts with: a few tokens of an LLM answer.
    private const int MinimumCapacity = 64;

    private readonly Dictionary<(string Name, string Key), Entry> _entries = [];

    /// <summary>How many entries are held (against <c>Sessions:MaxKeys</c>).</summary>
    public int Count => _entries.Count;

    /// <summary>What every entry holds, in bytes, as charged to the history budget.</summary>
    public long Bytes { get; private set; }

    /// <summary>
    /// Checks what the new events of a batch (those whose <paramref name="skip"/> is false) would do
    /// to the keyed state, without changing it: an append past <c>Limits:MaxAssembledBytes</c> (the
    /// first one, in <see cref="KeyedCheck.Refused"/>), or more than <c>Sessions:MaxKeys</c> entries.
    /// On success, <see cref="KeyedCheck.Growth"/> is the bytes <see cref="Apply"/> will add.
    /// </summary>
    public KeyedCheck Check(IReadOnlyList<PublishRequest> requests, ReadOnlySpan<bool> skip)
    {
        Dictionary<(string, string), Planned>? planned = null;
        int count = _entries.Count;
        long growth = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            PublishRequest request = requests[i];
            if (skip[i] || request.Traits.Key is not { } key)
            {
                continue;
            }

            planned ??= [];
            (string, string) slot = (request.Event, key);
            if (!planned.TryGetValue(slot, out Planned before))
            {
                if (_entries.TryGetValue(slot, out Entry? held))
                {
                    before = new Planned(held.Chunks > 0, held.Length, held.Buffer.Length);
                }
                else
                {
                    before = new Planned(Assembly: false, Length: 0, Capacity: 0);
                    count++;
                }
            }

            Planned after;
            if (request.Traits.Append)
            {
                long length = before.Assembly ? (long)before.Length + request.Data.Length - 2 : request.Data.Length;
                if (length > maxAssembledBytes)
                {
                    return new KeyedCheck(PublishStatus.AssembledTooLarge, i, 0);
                }

                int capacity = before.Assembly ? Grow(before.Capacity, (int)length) : Grow(0, (int)length);
                after = new Planned(Assembly: true, (int)length, capacity);
            }
            else
            {
                after = new Planned(Assembly: false, request.Data.Length, request.Data.Length);
            }

            growth += Math.Max(0, after.Capacity - before.Capacity);
            planned[slot] = after;
        }

        if (count > maxKeys)
        {
            return new KeyedCheck(PublishStatus.TooManyKeys, -1, 0);
        }

        // Each new entry's name, key, origin and bookkeeping, counted in full as Apply does.
        for (int i = 0; i < requests.Count; i++)
        {
            if (!skip[i] && requests[i].Traits.Key is { } key)
            {
                growth += FixedCost(requests[i].Event, key, requests[i].From);
            }
        }

        return new KeyedCheck(PublishStatus.Accepted, -1, growth);
    }

    /// <summary>
    /// Keeps the keyed event <paramref name="e"/>: a replacement of its name and key's entry, or,
    /// for an append, its text added to the assembly (a new assembly when the entry held none).
    /// Call only after <see cref="Check"/> passed. Returns the change of <see cref="Bytes"/>.
    /// </summary>
    public long Apply(SessionEvent e)
    {
        string key = e.Key ?? throw new ArgumentException("the event has no key", nameof(e));
        (string, string) slot = (e.Name, key);
        _entries.TryGetValue(slot, out Entry? held);
        long before = held?.Cost ?? 0;
        ReadOnlySpan<byte> data = e.Data.Span;
        Entry entry;
        if (e.Traits.Append && held is { Chunks: > 0 })
        {
            // The closing quote of the text so far gives way to the chunk's content and its own quote.
            int length = held.Length + data.Length - 2;
            if (length > held.Buffer.Length)
            {
                byte[] larger = new byte[Grow(held.Buffer.Length, length)];
                held.Buffer.AsSpan(0, held.Length).CopyTo(larger);
                held.Buffer = larger;
            }

            data[1..].CopyTo(held.Buffer.AsSpan(held.Length - 1));
            held.Length = length;
            held.Chunks++;
            entry = held;
        }
        else
        {
            // A replacement, or the first chunk of an assembly: a buffer of its own, so that a
            // snapshot or a history event never shares bytes that a later append overwrites.
            byte[] buffer = new byte[e.Traits.Append ? Grow(0, data.Length) : data.Length];
            data.CopyTo(buffer);
            entry = new Entry(e.Name, key) { Buffer = buffer, Length = data.Length, Chunks = e.Traits.Append ? 1 : 0 };
            _entries[slot] = entry;
        }

        entry.Seq = e.Seq;
        entry.Timestamp = e.Timestamp;
        entry.From = e.From;
        entry.Cost = entry.Buffer.Length + FixedCost(e.Name, key, e.From);
        long change = entry.Cost - before;
        Bytes += change;
        return change;
    }

    /// <summary>Every entry, grouped by name (names in ordinal order), each name's keys in seq order; assembled texts copied.</summary>
    public KeyedEntry[] Snapshot()
    {
        var entries = new KeyedEntry[_entries.Count];
        int i = 0;
        foreach (Entry entry in _entries.Values)
        {
            // An assembly's buffer changes in place at its next append; a replaced entry's never does.
            ReadOnlyMemory<byte> data = entry.Chunks > 0 ? entry.Buffer.AsSpan(0, entry.Length).ToArray() : entry.Buffer;
            entries[i++] = new KeyedEntry(entry.Name, entry.Key, entry.Seq, entry.Timestamp, data, entry.Chunks, entry.From);
        }

        Array.Sort(entries, static (a, b) =>
            string.CompareOrdinal(a.Event, b.Event) is var byName and not 0 ? byName : a.Seq.CompareTo(b.Seq));
        return entries;
    }

    /// <summary>
    /// The buffer size for a text of <paramref name="needed"/> bytes held in <paramref name="capacity"/>:
    /// doubling, so that many small appends copy the text a logarithmic number of times, and never
    /// past the limit, which no text passes.
    /// </summary>
    private int Grow(int capacity, int needed) =>
        needed <= capacity ? capacity : Math.Max(needed, Math.Min(maxAssembledBytes, Math.Max(MinimumCapacity, 2 * capacity)));

    /// <summary>What an entry holds besides its buffer: its name and key strings, its origin and its bookkeeping.</summary>
    private static long FixedCost(string name, string key, EventOrigin? from) =>
        (2L * name.Length) + (2L * key.Length) + HistoryBudget.OriginCost(from) + Overhead;

    private readonly record struct Planned(bool Assembly, int Length, int Capacity);

    private sealed class Entry(string name, string key)
    {
        public string Name { get; } = name;

        public string Key { get; } = key;

        /// <summary>The data, compact JSON, in its first <see cref="Length"/> bytes; for an assembly, one JSON string.</summary>
        public required byte[] Buffer { get; set; }

        public required int Length { get; set; }

        /// <summary>How many appends built the text; 0 when the entry is a replacement.</summary>
        public required int Chunks { get; set; }

        public long Seq { get; set; }

        public DateTimeOffset Timestamp { get; set; }

        public EventOrigin? From { get; set; }

        /// <summary>What it holds, as charged.</summary>
        public long Cost { get; set; }
    }
}

/// <summary>What <see cref="KeyedState.Check"/> found.</summary>
/// <param name="Status"><see cref="PublishStatus.Accepted"/>, <see cref="PublishStatus.TooManyKeys"/> or <see cref="PublishStatus.AssembledTooLarge"/>.</param>
/// <param name="Refused">The index of the append past the limit, else -1.</param>
/// <param name="Growth">The bytes the batch will add to the keyed state, when accepted.</param>
internal readonly record struct KeyedCheck(PublishStatus Status, int Refused, long Growth);
