using System.Text;

namespace Gateway.Log.Redis;

/// <summary>
/// The hash slots of a Redis Cluster, computed here as the cluster does (CRC16-XMODEM of the key,
/// or of its hash tag, modulo 16,384), and a short hash tag for every slot: the names of the
/// per-slot channels (<c>Gateway:Backplane:Channels</c> = <c>slot</c>). The client library keeps
/// its own copy of this hashing internal, and returns no slot at all outside a cluster; the
/// channel names must be the same on one server as on a cluster, and on every node.
/// </summary>
internal static class RedisSlots
{
    /// <summary>How many hash slots a Redis Cluster has.</summary>
    public const int Count = 16384;

    // The characters of the tags, tried shortest first and in this order, so that every node
    // (and every version of the gateway) picks the same tag for a slot: changing it renames the
    // channels, which nodes of one deployment must agree on.
    private const string TagAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    private static readonly ushort[] Table = BuildTable();
    private static readonly Lazy<string[]> Tags = new(BuildTags);

    /// <summary>The slot of <paramref name="key"/>: of its hash tag (the first <c>{...}</c> with something inside), else of all of it.</summary>
    public static int Of(string key)
    {
        int open = key.IndexOf('{', StringComparison.Ordinal);
        if (open >= 0)
        {
            int close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }

        Span<byte> bytes = key.Length <= 256 ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)] : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        int length = Encoding.UTF8.GetBytes(key, bytes);
        return Crc16(bytes[..length]) & (Count - 1);
    }

    /// <summary>A short tag (one to three letters or digits) whose slot is <paramref name="slot"/>.</summary>
    public static string TagOf(int slot) => Tags.Value[slot];

    /// <summary>CRC16-XMODEM (polynomial 0x1021, initial 0, not reflected), the cluster's key hash.</summary>
    public static ushort Crc16(ReadOnlySpan<byte> bytes)
    {
        ushort crc = 0;
        foreach (byte b in bytes)
        {
            crc = (ushort)((crc << 8) ^ Table[((crc >> 8) ^ b) & 0xff]);
        }

        return crc;
    }

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (int i = 0; i < 256; i++)
        {
            int crc = i << 8;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }

            table[i] = (ushort)crc;
        }

        return table;
    }

    private static string[] BuildTags()
    {
        var tags = new string[Count];
        int found = 0;
        Span<byte> bytes = stackalloc byte[3];
        for (int length = 1; length <= 3 && found < Count; length++)
        {
            int combinations = (int)Math.Pow(TagAlphabet.Length, length);
            for (int n = 0; n < combinations && found < Count; n++)
            {
                int rest = n;
                for (int i = length - 1; i >= 0; i--)
                {
                    bytes[i] = (byte)TagAlphabet[rest % TagAlphabet.Length];
                    rest /= TagAlphabet.Length;
                }

                int slot = Crc16(bytes[..length]) & (Count - 1);
                if (tags[slot] is null)
                {
                    tags[slot] = Encoding.ASCII.GetString(bytes[..length]);
                    found++;
                }
            }
        }

        // Three characters of 62 cover every slot (checked by the tests); a gap would be a bug here.
        return found == Count ? tags : throw new InvalidOperationException($"no tag of three characters for {Count - found} hash slots");
    }
}
