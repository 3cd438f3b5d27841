using System.Security.Cryptography;
using System.Text;

namespace Gateway.Protocol.Framing;

/// <summary>The opening handshake's computations (RFC 6455 section 4.2.2).</summary>
public static class WebSocketHandshake
{
    /// <summary>The subprotocol the gateway selects when a client offers it.</summary>
    public const string SubProtocol = "gateway.v1";

    /// <summary>The only protocol version RFC 6455 defines.</summary>
    public const string Version = "13";

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>True when <paramref name="key"/> is base64 of 16 bytes, as <c>Sec-WebSocket-Key</c> must be.</summary>
    public static bool IsValidKey(string? key)
    {
        if (key is null || key.Length != 24)
        {
            return false;
        }

        Span<byte> decoded = stackalloc byte[18];
        return Convert.TryFromBase64String(key, decoded, out int written) && written == 16;
    }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for <paramref name="key"/>.</summary>
    public static string ComputeAccept(string key)
    {
        Span<byte> input = stackalloc byte[64];
        int length = Encoding.ASCII.GetBytes(key + AcceptGuid, input);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input[..length], hash);
        return Convert.ToBase64String(hash);
    }

    /// <summary>True when a comma-separated <c>Sec-WebSocket-Protocol</c> header offers <see cref="SubProtocol"/>.</summary>
    public static bool OffersSubProtocol(IEnumerable<string?> headerValues)
    {
        foreach (string? value in headerValues)
        {
            if (value is null)
            {
                continue;
            }

            foreach (string token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (token == SubProtocol)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
