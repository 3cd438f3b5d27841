using System.Buffers.Text;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Log.Redis;

/// <summary>
/// An event as Redis holds it and as the events channel carries it:
/// <c>seq \n ts(ms) \n final(0|1) \n name \n data</c>, or for an event a client published
/// <c>seq \n ts(ms) \n final(0|1)f \n name \n from \n data</c> (see <see cref="RedisScripts"/>). The scripts
/// write it; this reads it back into the <see cref="SessionEvent"/> the connections send.
/// </summary>
internal static class RedisEntry
{
    /// <summary>What follows <c>session \n</c> on the channel when a session was deleted.</summary>
    public static ReadOnlySpan<byte> DeletedMarker => "#deleted"u8;

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
            || !TryTakeLine(ref rest, out ReadOnlySpan<byte> finalText) || finalText.Length is not (1 or 2) || finalText[0] is not ((byte)'0' or (byte)'1')
            || !TryTakeLine(ref rest, out ReadOnlySpan<byte> nameText) || rest.IsEmpty)
        {
            return null;
        }

        EventOrigin? from = null;
        if (finalText.Length == 2)
        {
            if (finalText[1] != (byte)'f' || !TryTakeLine(ref rest, out ReadOnlySpan<byte> fromText) || rest.IsEmpty
                || EventOrigin.TryParse(fromText) is not { } origin)
            {
                return null;
            }

            from = origin;
        }

        string name = System.Text.Encoding.UTF8.GetString(nameText);
        if (!Names.IsValidEventName(name) || ms < 0 || ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return null;
        }

        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        ReadOnlyMemory<byte> data = buffer.AsMemory(buffer.Length - rest.Length);
        byte[] frame = ServerFrames.CreateTextFrame(new EventMessage(session, name, seq, timestamp, data, from));

        // Published on another node's clock: place it on ours through wall time (both are NTP-close;
        // a negative age means the clocks disagree, and counts as zero).
        long age = Math.Max(0, (now - timestamp).Ticks) * time.TimestampFrequency / TimeSpan.TicksPerSecond;
        return new SessionEvent(session, name, seq, timestamp, data, frame, id: null, final: finalText[0] == (byte)'1', publishedAt: time.GetTimestamp() - age, from);
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
