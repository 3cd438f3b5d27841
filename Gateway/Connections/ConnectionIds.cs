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
        return string.Create(16, random.ToArray(), static (chars, bytes) =>
        {
            // 80 bits, 5 at a time.
            ulong high = BitConverter.ToUInt64(bytes, 0);
            ushort low = BitConverter.ToUInt16(bytes, 8);
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
