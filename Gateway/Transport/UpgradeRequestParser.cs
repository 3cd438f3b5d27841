using System.Buffers;
using System.Text;

namespace Gateway.Transport;

/// <summary>What <see cref="UpgradeRequestParser.TryParse"/> made of the bytes so far.</summary>
internal enum HeadStatus
{
    /// <summary>The bytes so far may still be the head of a WebSocket upgrade: read more.</summary>
    NeedMore,

    /// <summary>Not an upgrade this parser takes, or not one it is sure of: Kestrel gets every byte and answers as it always has.</summary>
    PassThrough,

    /// <summary>A complete, well-formed <c>GET /ws/{session}</c> upgrade head over HTTP/1.1.</summary>
    Upgrade,
}

/// <summary>The size limits of a request head: never more than Kestrel's own, so that nothing Kestrel would refuse is taken.</summary>
/// <param name="MaxRequestLine">The longest request line, its CRLF included (Kestrel's <c>MaxRequestLineSize</c>).</param>
/// <param name="MaxHeadersTotal">The most bytes of header lines, CRLFs included (Kestrel's <c>MaxRequestHeadersTotalSize</c>).</param>
/// <param name="MaxHeaderCount">The most header lines (Kestrel's <c>MaxRequestHeaderCount</c>).</param>
internal readonly record struct HeadLimits(int MaxRequestLine, int MaxHeadersTotal, int MaxHeaderCount)
{
    /// <summary>Kestrel's defaults: 8 KiB, 32 KiB, 100.</summary>
    public static readonly HeadLimits Default = new(8 * 1024, 32 * 1024, 100);
}

/// <summary>A WebSocket upgrade's head, as <see cref="UpgradeRequestParser"/> read it.</summary>
/// <param name="Session">The path's last segment, as sent (it has no <c>%</c>, so there is nothing to decode).</param>
/// <param name="Path">The path, <c>/ws/{session}</c>.</param>
/// <param name="QueryString">The query with its <c>?</c>, or empty: raw, as Kestrel hands it on.</param>
/// <param name="RawTarget">The request target as sent.</param>
/// <param name="Headers">The header lines in order, names as sent, values without their surrounding whitespace.</param>
internal sealed record UpgradeRequestHead(string Session, string Path, string QueryString, string RawTarget, IReadOnlyList<KeyValuePair<string, string>> Headers);

/// <summary>
/// Recognises the head of a WebSocket upgrade (<c>GET /ws/{session} HTTP/1.1</c> with
/// <c>Connection: Upgrade</c> and <c>Upgrade: websocket</c>) at the start of a connection, without
/// consuming anything. It is deliberately narrow: whatever it is not sure of (another method,
/// path or version, a body, a bare LF, obs-fold, a byte outside printable ASCII, a duplicate Host,
/// a percent-encoded or dot segment, a head past the limits) is <see cref="HeadStatus.PassThrough"/>,
/// so that Kestrel answers it exactly as it did before this parser existed.
/// </summary>
internal static class UpgradeRequestParser
{
    private static ReadOnlySpan<byte> Prefix => "GET /ws/"u8;

    private static ReadOnlySpan<byte> VersionSuffix => " HTTP/1.1"u8;

    /// <summary>
    /// Reads <paramref name="buffer"/> from its start. On <see cref="HeadStatus.Upgrade"/>,
    /// <paramref name="head"/> is the request and <paramref name="end"/> the position just past its
    /// blank line; otherwise both are default.
    /// </summary>
    public static HeadStatus TryParse(in ReadOnlySequence<byte> buffer, HeadLimits limits, out UpgradeRequestHead? head, out SequencePosition end)
    {
        head = null;
        end = default;

        // The first bytes decide most connections: anything but this prefix goes to Kestrel at once.
        int prefixLength = (int)Math.Min(buffer.Length, Prefix.Length);
        Span<byte> start = stackalloc byte[Prefix.Length];
        buffer.Slice(0, prefixLength).CopyTo(start);
        if (!start[..prefixLength].SequenceEqual(Prefix[..prefixLength]))
        {
            return HeadStatus.PassThrough;
        }

        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> requestLine, (byte)'\n'))
        {
            return buffer.Length >= limits.MaxRequestLine ? HeadStatus.PassThrough : HeadStatus.NeedMore;
        }

        if (requestLine.Length + 1 > limits.MaxRequestLine || !TryReadRequestLine(requestLine, out string? target))
        {
            return HeadStatus.PassThrough;
        }

        long headersStart = reader.Consumed;
        var headers = new List<KeyValuePair<string, string>>();
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                return buffer.Length - headersStart >= limits.MaxHeadersTotal ? HeadStatus.PassThrough : HeadStatus.NeedMore;
            }

            if (reader.Consumed - headersStart > limits.MaxHeadersTotal)
            {
                return HeadStatus.PassThrough;
            }

            if (line.Length == 1 && line.FirstSpan[0] == (byte)'\r')
            {
                break;
            }

            if (headers.Count == limits.MaxHeaderCount || !TryReadHeader(line, out KeyValuePair<string, string> header))
            {
                return HeadStatus.PassThrough;
            }

            headers.Add(header);
        }

        if (!IsUpgrade(headers))
        {
            return HeadStatus.PassThrough;
        }

        int query = target.IndexOf('?');
        string path = query < 0 ? target : target[..query];
        head = new UpgradeRequestHead(path["/ws/".Length..], path, query < 0 ? "" : target[query..], target, headers);
        end = reader.Position;
        return HeadStatus.Upgrade;
    }

    /// <summary>
    /// <c>GET /ws/{segment}[?query] HTTP/1.1</c> and its CR: one segment that routing matches as it
    /// stands (no <c>%</c> to decode, no dot segment to remove), and only characters that Kestrel
    /// takes in a target as they are.
    /// </summary>
    private static bool TryReadRequestLine(in ReadOnlySequence<byte> line, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? target)
    {
        target = null;
        Span<byte> bytes = line.Length <= 1024 ? stackalloc byte[(int)line.Length] : new byte[line.Length];
        line.CopyTo(bytes);

        // A bare LF is not taken here, whatever Kestrel's setting on it.
        if (bytes.Length < Prefix.Length + VersionSuffix.Length + 1 || bytes[^1] != (byte)'\r')
        {
            return false;
        }

        bytes = bytes[..^1];
        if (!bytes.EndsWith(VersionSuffix))
        {
            return false;
        }

        // The target, from its "/ws/"; the segment and query follow that.
        Span<byte> raw = bytes["GET ".Length..^VersionSuffix.Length];
        const int SegmentStart = 4;
        bool inQuery = false;
        int segmentLength = 0;
        for (int i = SegmentStart; i < raw.Length; i++)
        {
            byte b = raw[i];
            if (b == (byte)'?' && !inQuery)
            {
                inQuery = true;
            }
            else if (inQuery ? !IsQueryByte(b) : !IsSegmentByte(b))
            {
                return false;
            }
            else if (!inQuery)
            {
                segmentLength++;
            }
        }

        if (segmentLength == 0 || raw[SegmentStart..(SegmentStart + segmentLength)] is [(byte)'.'] or [(byte)'.', (byte)'.'])
        {
            return false;
        }

        target = Encoding.ASCII.GetString(raw);
        return true;
    }

    /// <summary>A <c>name: value</c> line with its CR: a token name right before the colon, a value of printable ASCII and tabs.</summary>
    private static bool TryReadHeader(in ReadOnlySequence<byte> line, out KeyValuePair<string, string> header)
    {
        header = default;
        Span<byte> bytes = line.Length <= 1024 ? stackalloc byte[(int)line.Length] : new byte[line.Length];
        line.CopyTo(bytes);
        if (bytes.Length < 2 || bytes[^1] != (byte)'\r')
        {
            return false;
        }

        bytes = bytes[..^1];
        int colon = bytes.IndexOf((byte)':');
        if (colon <= 0)
        {
            // Also a line that begins with whitespace (obs-fold, RFC 9112 section 5.2): its name is not a token.
            return false;
        }

        foreach (byte b in bytes[..colon])
        {
            if (!IsTokenByte(b))
            {
                return false;
            }
        }

        Span<byte> value = bytes[(colon + 1)..].Trim(" \t"u8);
        foreach (byte b in value)
        {
            if (b != (byte)'\t' && b is < 0x20 or > 0x7E)
            {
                return false;
            }
        }

        header = new(Encoding.ASCII.GetString(bytes[..colon]), Encoding.ASCII.GetString(value));
        return true;
    }

    /// <summary>
    /// What makes it an upgrade this parser takes: one valid Host, no body (no Content-Length,
    /// no Transfer-Encoding), an <c>upgrade</c> token in Connection, and one <c>Upgrade: websocket</c>.
    /// The rest of the handshake (version, key) is the shared admission's to check and refuse.
    /// </summary>
    private static bool IsUpgrade(List<KeyValuePair<string, string>> headers)
    {
        int hosts = 0;
        int upgrades = 0;
        bool connectionUpgrade = false;
        foreach ((string name, string value) in headers)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                if (++hosts > 1 || !IsHost(value))
                {
                    return false;
                }
            }
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                if (++upgrades > 1 || !value.Equals("websocket", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (string token in value.Split(','))
                {
                    connectionUpgrade |= token.Trim(' ', '\t').Equals("upgrade", StringComparison.OrdinalIgnoreCase);
                }
            }
        }

        return hosts == 1 && upgrades == 1 && connectionUpgrade;
    }

    /// <summary>A host name, IPv4 or bracketed IPv6 address, with an optional port: nothing Kestrel's Host check would refuse.</summary>
    private static bool IsHost(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '[' or ']' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    // RFC 3986 pchar without '%': unreserved, sub-delims, ':' and '@'.
    private static bool IsSegmentByte(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~'
            or (byte)'!' or (byte)'$' or (byte)'&' or (byte)'\'' or (byte)'(' or (byte)')' or (byte)'*' or (byte)'+' or (byte)',' or (byte)';' or (byte)'='
            or (byte)':' or (byte)'@';

    // RFC 3986 query: pchar, '%' (kept raw, decoded by the query parser as on Kestrel's path), '/' and '?'.
    private static bool IsQueryByte(byte b) => IsSegmentByte(b) || b is (byte)'%' or (byte)'/' or (byte)'?';

    // RFC 9110 section 5.6.2.
    private static bool IsTokenByte(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\''
            or (byte)'*' or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
}
