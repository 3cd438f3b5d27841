using System.Text;

namespace Gateway.Protocol.Framing;

/// <summary>
/// What the server agreed to for one connection's permessage-deflate (RFC 7692): each message is
/// compressed on its own both ways. The server keeps no context between the messages it sends
/// (<c>server_no_context_takeover</c>), and asks the same of the client
/// (<c>client_no_context_takeover</c>, which section 7.1.1.2 lets a server answer whether or not
/// the client offered it): no window is kept between a client's messages, and a client message
/// that ends in a final block (section 7.2.3.3) spoils none after it.
/// </summary>
/// <param name="ServerMaxWindowBits">The window the client asked the server to keep to (8 to 15; 15 when it did not ask), answered as <c>server_max_window_bits</c>.</param>
/// <param name="WindowBitsOffered">True when the offer carried <c>server_max_window_bits</c>, which the answer must then repeat.</param>
public readonly record struct PerMessageDeflateAgreement(int ServerMaxWindowBits, bool WindowBitsOffered)
{
    /// <summary>
    /// The largest payload the server may send compressed. The server always compresses with a
    /// 32 KB window, and a message compressed on its own never points back further than its own
    /// start: so a payload no longer than the window the client asked for is safe to compress, and
    /// a longer one goes plain (RFC 7692 lets any message go uncompressed).
    /// </summary>
    public int MaxCompressedPayload => ServerMaxWindowBits >= PerMessageDeflateNegotiation.MaxWindowBits ? int.MaxValue : 1 << ServerMaxWindowBits;

    /// <summary>The <c>Sec-WebSocket-Extensions</c> value of the 101 response.</summary>
    public string ResponseHeader
    {
        get
        {
            var answer = new StringBuilder(PerMessageDeflateNegotiation.ExtensionName).Append("; server_no_context_takeover; client_no_context_takeover");
            if (WindowBitsOffered)
            {
                answer.Append("; server_max_window_bits=").Append(ServerMaxWindowBits);
            }

            return answer.ToString();
        }
    }
}

/// <summary>
/// Reads a client's <c>Sec-WebSocket-Extensions</c> offers and picks the first permessage-deflate
/// offer the server can honour (RFC 7692 section 5 and 7.1). Pure: no I/O, no options.
/// </summary>
/// <remarks>
/// An offer the server cannot honour (an unknown or repeated parameter, a value out of range) is
/// declined, and the next one is considered. A header that does not parse at all
/// (RFC 6455 section 9.1's grammar) is not trusted for any offer: the connection proceeds
/// uncompressed, never refused.
/// </remarks>
public static class PerMessageDeflateNegotiation
{
    /// <summary>The extension's registered name.</summary>
    public const string ExtensionName = "permessage-deflate";

    /// <summary>The smallest window a peer may ask for (RFC 7692 section 7.1.2).</summary>
    public const int MinWindowBits = 8;

    /// <summary>The largest window, 32 KB, which is also the default.</summary>
    public const int MaxWindowBits = 15;

    // A client's header is a few dozen bytes; anything far longer is not worth parsing.
    private const int MaxHeaderLength = 4096;

    /// <summary>Negotiates from every <c>Sec-WebSocket-Extensions</c> header line of the request.</summary>
    public static bool TryNegotiate(IEnumerable<string?> headerValues, out PerMessageDeflateAgreement agreement)
    {
        agreement = default;
        string? joined = null;
        foreach (string? value in headerValues)
        {
            if (!string.IsNullOrEmpty(value))
            {
                // Several header lines are one comma-separated list (RFC 9110 section 5.3).
                joined = joined is null ? value : joined + "," + value;
            }
        }

        return joined is not null && TryNegotiateHeader(joined, out agreement);
    }

    /// <summary>Negotiates from one header value; false when it holds no permessage-deflate offer the server accepts.</summary>
    public static bool TryNegotiateHeader(string header, out PerMessageDeflateAgreement agreement)
    {
        agreement = default;
        if (header.Length > MaxHeaderLength || !TryParse(header, out List<Extension> extensions))
        {
            return false;
        }

        foreach (Extension extension in extensions)
        {
            if (string.Equals(extension.Name, ExtensionName, StringComparison.OrdinalIgnoreCase) && TryAccept(extension.Parameters, out agreement))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Accepts one offer, or declines it when any parameter is unknown, repeated or out of range.</summary>
    private static bool TryAccept(List<(string Name, string? Value)> parameters, out PerMessageDeflateAgreement agreement)
    {
        agreement = default;
        bool serverNoContext = false, clientNoContext = false, serverBits = false, clientBits = false;
        int serverWindow = MaxWindowBits;
        foreach ((string name, string? value) in parameters)
        {
            switch (name.ToLowerInvariant())
            {
                case "server_no_context_takeover" when value is null && !serverNoContext:
                    // The server answers with it whether asked or not.
                    serverNoContext = true;
                    break;
                case "client_no_context_takeover" when value is null && !clientNoContext:
                    // Answered whether offered or not.
                    clientNoContext = true;
                    break;
                case "server_max_window_bits" when value is not null && !serverBits && TryParseWindowBits(value, out serverWindow):
                    serverBits = true;
                    break;
                case "client_max_window_bits" when !clientBits && (value is null || TryParseWindowBits(value, out _)):
                    // A hint that the client can keep to a window the server names. The server
                    // inflates with the largest window, so it names none and the client keeps its own.
                    clientBits = true;
                    break;
                default:
                    return false;
            }
        }

        agreement = new PerMessageDeflateAgreement(serverWindow, serverBits);
        return true;
    }

    /// <summary>8 to 15, in decimal without leading zeros (RFC 7692 section 7.1.2.1).</summary>
    private static bool TryParseWindowBits(string value, out int bits)
    {
        bits = 0;
        if (value.Length is 0 or > 2 || value[0] == '0')
        {
            return false;
        }

        foreach (char c in value)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            bits = (bits * 10) + (c - '0');
        }

        return bits is >= MinWindowBits and <= MaxWindowBits;
    }

    private readonly record struct Extension(string Name, List<(string Name, string? Value)> Parameters);

    /// <summary>
    /// <c>extension-list = 1#( extension-token *( ";" extension-param ) )</c>, where a param is a
    /// token, optionally <c>= token</c> or <c>= quoted-string</c>; whitespace around separators.
    /// </summary>
    private static bool TryParse(string header, out List<Extension> extensions)
    {
        extensions = [];
        int i = 0;
        while (true)
        {
            SkipSpace(header, ref i);
            if (i < header.Length && header[i] == ',')
            {
                // Empty list elements are allowed and ignored (RFC 9110 section 5.6.1).
                i++;
                continue;
            }

            if (i == header.Length)
            {
                return true;
            }

            if (!TryReadToken(header, ref i, out string name))
            {
                return false;
            }

            var parameters = new List<(string, string?)>();
            SkipSpace(header, ref i);
            while (i < header.Length && header[i] == ';')
            {
                i++;
                SkipSpace(header, ref i);
                if (!TryReadToken(header, ref i, out string parameter))
                {
                    return false;
                }

                SkipSpace(header, ref i);
                string? value = null;
                if (i < header.Length && header[i] == '=')
                {
                    i++;
                    SkipSpace(header, ref i);
                    if (!(i < header.Length && header[i] == '"' ? TryReadQuoted(header, ref i, out value) : TryReadToken(header, ref i, out value)))
                    {
                        return false;
                    }

                    SkipSpace(header, ref i);
                }

                parameters.Add((parameter, value));
            }

            extensions.Add(new Extension(name, parameters));
            if (i == header.Length)
            {
                return true;
            }

            if (header[i] != ',')
            {
                return false;
            }

            i++;
        }
    }

    private static void SkipSpace(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t')
        {
            i++;
        }
    }

    private static bool TryReadToken(string s, ref int i, out string token)
    {
        int start = i;
        while (i < s.Length && IsTokenChar(s[i]))
        {
            i++;
        }

        token = s[start..i];
        return i > start;
    }

    /// <summary>A quoted-string whose content, once unescaped, must itself be a token (RFC 6455 section 9.1).</summary>
    private static bool TryReadQuoted(string s, ref int i, out string? value)
    {
        value = null;
        var content = new StringBuilder();
        for (i++; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '"')
            {
                i++;
                value = content.ToString();
                return value.Length > 0 && value.All(IsTokenChar);
            }

            if (c == '\\')
            {
                if (++i == s.Length)
                {
                    return false;
                }

                c = s[i];
            }

            content.Append(c);
        }

        return false;
    }

    /// <summary>RFC 9110's tchar.</summary>
    private static bool IsTokenChar(char c) =>
        c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
            or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
}
