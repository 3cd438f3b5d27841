using System.Buffers.Text;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Log.Redis;

/// <summary>
/// An event as Redis holds it and as a session's channel carries it:
/// <c>seq \n ts(ms) \n flags \n name \n [from \n] [key \n] data</c> (see <see cref="RedisScripts"/>).
/// The scripts write it; this reads it back into the <see cref="SessionEvent"/> the connections send.
/// </summary>
internal static class RedisEntry
{
    /// <summary>What follows <c>session \n</c> on the channel when a session was deleted.</summary>
    public static ReadOnlySpan<byte> DeletedMarker => "#deleted"u8;

    /// <summary>
    /// The flags line the publish script writes for <paramref name="request"/>: <c>0</c> or <c>1</c>
    /// (final), then <c>f</c> (a from line), <c>k</c> (a key line), <c>a</c> (append), <c>c</c> (conflate) as they apply.
    /// </summary>
    public static string Flags(PublishRequest request)
    {
        EventTraits traits = request.Traits;
        return string.Concat(
            request.Final ? "1" : "0",
            request.From is null ? "" : "f",
            traits.Key is null ? "" : "k",
            traits.Append ? "a" : "",
            traits.Conflate ? "c" : "");
    }

    /// <summary>Reads only the seq, so that a node can drop an event it already has without decoding it.</summary>
    public static bool TryReadSeq(ReadOnlySpan<byte> entry, out long seq)
    {
        seq = 0;
        int end = entry.IndexOf((byte)'\n');
        return end > 0 && Utf8Parser.TryParse(entry[..end], out seq, out int used) && used == end && seq > 0;
    }

    /// <summary>
    /// Decodes an entry of <paramref name="session"/> that starts at <paramref name="offset"/> of
    /// <paramref name="buffer"/> and runs to its end. <paramref name="now"/> and <paramref name="time"/>
    /// place the event's publish moment on this node's clock (for the delivery latency metric).
    /// Null when the entry is not one the scripts write.
    /// </summary>
    public static SessionEvent? TryDecode(string session, byte[] buffer, int offset, DateTimeOffset now, TimeProvider time)
    {
        ReadOnlySpan<byte> rest = buffer.AsSpan(offset);
        if (!TryTakeLine(ref rest, out ReadOnlySpan<byte> seqText) || !Utf8Parser.TryParse(seqText, out long seq, out int used) || used != seqText.Length
            || !TryTakeLine(ref rest, out ReadOnlySpan<byte> tsText) || !Utf8Parser.TryParse(tsText, out long ms, out used) || used != tsText.Length
            || !TryTakeLine(ref rest, out ReadOnlySpan<byte> flags) || !TryReadFlags(flags, out bool final, out bool hasFrom, out bool hasKey, out bool append, out bool conflate)
            || !TryTakeLine(ref rest, out ReadOnlySpan<byte> nameText) || rest.IsEmpty)
        {
            return null;
        }

        EventOrigin? from = null;
        if (hasFrom)
        {
            if (!TryTakeLine(ref rest, out ReadOnlySpan<byte> fromText) || rest.IsEmpty || EventOrigin.TryParse(fromText) is not { } origin)
            {
                return null;
            }

            from = origin;
        }

        string? key = null;
        if (hasKey)
        {
            if (!TryTakeLine(ref rest, out ReadOnlySpan<byte> keyText) || rest.IsEmpty)
            {
                return null;
            }

            key = System.Text.Encoding.UTF8.GetString(keyText);
            if (!Names.IsValidKey(key))
            {
                return null;
            }
        }

        string name = System.Text.Encoding.UTF8.GetString(nameText);
        if (!Names.IsValidEventName(name) || ms < 0 || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return null;
        }

        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        ReadOnlyMemory<byte> data = buffer.AsMemory(buffer.Length - rest.Length);
        var traits = new EventTraits(key, append, conflate);
        byte[] frame = ServerFrames.CreateTextFrame(new EventMessage(session, name, seq, timestamp, data, from, key, append));

        // Published on another node's clock: place it on ours through wall time (both are NTP-close;
        // a negative age means the clocks disagree, and counts as zero).
        long age = Math.Max(0, (now - timestamp).Ticks) * time.TimestampFrequency / TimeSpan.TicksPerSecond;
        return new SessionEvent(session, name, seq, timestamp, data, frame, id: null, final, publishedAt: time.GetTimestamp() - age, from, traits);
    }

    /// <summary>
    /// Decodes a value of a session's keyed hash, <c>chunks \n entry</c> (see <see cref="RedisScripts"/>):
    /// the entry's event, whose data is the assembled text when chunks is above 0. Null when it is
    /// not one the scripts write.
    /// </summary>
    public static KeyedEntry? TryDecodeKeyed(string session, byte[] value, DateTimeOffset now, TimeProvider time)
    {
        int end = value.AsSpan().IndexOf((byte)'\n');
        if (end <= 0 || !Utf8Parser.TryParse(value.AsSpan(0, end), out int chunks, out int used) || used != end || chunks < 0
            || TryDecode(session, value, end + 1, now, time) is not { Key: { } key } e)
        {
            return null;
        }

        return new KeyedEntry(e.Name, key, e.Seq, e.Timestamp, e.Data, chunks, e.From);
    }

    /// <summary>Reads a flags line: <c>0</c> or <c>1</c>, then each of <c>f k a c</c> at most once, in that order.</summary>
    private static bool TryReadFlags(ReadOnlySpan<byte> flags, out bool final, out bool from, out bool key, out bool append, out bool conflate)
    {
        final = from = key = append = conflate = false;
        if (flags.IsEmpty || flags[0] is not ((byte)'0' or (byte)'1'))
        {
            return false;
        }

        final = flags[0] == (byte)'1';
        ReadOnlySpan<byte> rest = flags[1..];
        from = TakeFlag(ref rest, (byte)'f');
        key = TakeFlag(ref rest, (byte)'k');
        append = TakeFlag(ref rest, (byte)'a');
        conflate = TakeFlag(ref rest, (byte)'c');
        return rest.IsEmpty;
    }

    private static bool TakeFlag(ref ReadOnlySpan<byte> rest, byte flag)
    {
        if (!rest.IsEmpty && rest[0] == flag)
        {
            rest = rest[1..];
            return true;
        }

        return false;
    }

    private static bool TryTakeLine(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> line)
    {
        int end = rest.IndexOf((byte)'\n');
        if (end < 0)
        {
            line = default;
            return false;
        }

        line = rest[..end];
        rest = rest[(end + 1)..];
        return true;
    }
}
