using System.Security.Cryptography;

namespace Gateway.Connections;

/// <summary>Connection ids: 16 characters of lowercase base32, random, so that ids from different nodes never collide.</summary>
internal static class ConnectionIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string Next()
    {
        Span<byte> random = stackalloc byte[10];
        RandomNumberGenerator.Fill(random);

        // The bits go to the formatter as numbers: a connect allocates the id and nothing else.
        return string.Create(16, (High: BitConverter.ToUInt64(random), Low: BitConverter.ToUInt16(random[8..])), static (chars, bits) =>
        {
            // 80 bits, 5 at a time.
            ulong high = bits.High;
            ushort low = bits.Low;
            for (int i = 0; i < 12; i++)
            {
                chars[i] = Alphabet[(int)(high >> (i * 5)) & 31];
            }

            ulong rest = (high >> 60) | ((ulong)low << 4);
            for (int i = 12; i < 16; i++)
            {
                chars[i] = Alphabet[(int)(rest >> ((i - 12) * 5)) & 31];
            }
        });
    }
}
