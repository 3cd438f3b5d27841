using System.Buffers.Binary;
using Gateway.Protocol.Framing;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class WebSocketMaskTests
{
    private static readonly uint[] Keys = [0x00000000, 0x3D21FA37, 0x12345678, 0xFFFFFFFF, 0x80000001];

    /// <summary>RFC 6455 section 5.3, byte by byte: octet i is XOR-ed with octet (i mod 4) of the key as sent.</summary>
    private static byte[] NaiveMask(ReadOnlySpan<byte> source, uint key, int offset)
    {
        Span<byte> keyBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(keyBytes, key);
        var result = new byte[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            result[i] = (byte)(source[i] ^ keyBytes[(offset + i) % 4]);
        }

        return result;
    }

    private static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Test]
    public void Matches_the_naive_mask_for_every_offset_and_length([ValueSource(nameof(Keys))] uint key)
    {
        Assert.Multiple(() =>
        {
            for (int offset = 0; offset < 4; offset++)
            {
                for (int length = 0; length <= 40; length++)
                {
                    byte[] source = Payload(length, length * 4 + offset);
                    var masked = new byte[length];
                    int next = WebSocketMask.Apply(source, masked, key, offset);
                    Assert.That(Hex(masked), Is.EqualTo(Hex(NaiveMask(source, key, offset))), $"offset {offset}, length {length}");
                    Assert.That(next, Is.EqualTo((offset + length) % 4), $"next offset, offset {offset}, length {length}");

                    var unmasked = new byte[length];
                    WebSocketMask.Apply(masked, unmasked, key, offset);
                    Assert.That(Hex(unmasked), Is.EqualTo(Hex(source)), $"round trip, offset {offset}, length {length}");
                }
            }
        });
    }

    [Test]
    public void Masks_in_place_and_into_a_longer_destination()
    {
        byte[] source = Payload(37, 5);
        byte[] inPlace = source.ToArray();
        WebSocketMask.Apply(inPlace, inPlace, 0x12345678, 3);

        var longer = Enumerable.Repeat((byte)0xAB, 50).ToArray();
        WebSocketMask.Apply(source, longer, 0x12345678, 3);
        Assert.Multiple(() =>
        {
            Assert.That(Hex(inPlace), Is.EqualTo(Hex(NaiveMask(source, 0x12345678, 3))));
            Assert.That(Hex(longer.AsSpan(0, 37)), Is.EqualTo(Hex(inPlace)));
            Assert.That(longer.Skip(37), Is.All.EqualTo(0xAB), "bytes past the source are left alone");
        });
    }

    [Test]
    public void Pieces_chained_by_the_returned_offset_equal_one_pass()
    {
        byte[] source = Payload(100, 9);
        byte[] expected = NaiveMask(source, 0x3D21FA37, 0);
        Assert.Multiple(() =>
        {
            foreach (int[] cuts in new[] { new[] { 1, 2, 3, 94 }, new[] { 7, 9, 13, 71 }, new[] { 33, 0, 67 }, Enumerable.Repeat(1, 100).ToArray() })
            {
                var masked = new byte[100];
                int offset = 0, position = 0;
                foreach (int cut in cuts)
                {
                    offset = WebSocketMask.Apply(source.AsSpan(position, cut), masked.AsSpan(position), 0x3D21FA37, offset);
                    position += cut;
                }

                Assert.That(Hex(masked), Is.EqualTo(Hex(expected)), string.Join(",", cuts.Take(5)));
            }
        });
    }

    [Test]
    public void Destination_shorter_than_source_throws()
    {
        Assert.That(() => WebSocketMask.Apply(new byte[5], new byte[4], 1, 0), Throws.ArgumentException);
    }
}
