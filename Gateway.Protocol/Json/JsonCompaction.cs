namespace Gateway.Protocol.Json;

/// <summary>
/// Removes insignificant whitespace from JSON text that a reader has already validated, so that
/// every event goes out on one line (an SSE <c>data:</c> line, a log line) and costs no spare bytes.
/// </summary>
public static class JsonCompaction
{
    /// <summary>
    /// Compacts <paramref name="json"/> in place and returns the compact length. The input must be
    /// valid JSON: outside strings, whitespace then only ever separates tokens.
    /// </summary>
    public static int CompactInPlace(Span<byte> json)
    {
        // Most data has no whitespace at all; one vectorized search settles that case.
        int first = json.IndexOfAny(" \t\r\n"u8);
        if (first < 0)
        {
            return json.Length;
        }

        int write = 0;
        bool inString = false;
        for (int read = 0; read < json.Length; read++)
        {
            byte b = json[read];
            if (inString)
            {
                json[write++] = b;
                if (b == (byte)'\\')
                {
                    // An escape: the next byte belongs to it, even when it is a quote.
                    json[write++] = json[++read];
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            switch (b)
            {
                case (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n':
                    break;
                case (byte)'"':
                    inString = true;
                    json[write++] = b;
                    break;
                default:
                    json[write++] = b;
                    break;
            }
        }

        return write;
    }
}
