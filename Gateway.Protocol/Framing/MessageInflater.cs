using System.Buffers;
using System.IO.Compression;

namespace Gateway.Protocol.Framing;

/// <summary>What <see cref="MessageInflater.Inflate"/> made of a compressed message.</summary>
public enum InflateStatus
{
    /// <summary>The message inflated within the limit.</summary>
    Inflated,

    /// <summary>It would inflate past the limit; inflating stopped there.</summary>
    TooLarge,

    /// <summary>Its bytes are not valid DEFLATE data.</summary>
    Invalid,
}

/// <summary>
/// Inflates one connection's compressed messages (RFC 7692 section 7.2.2): the payload with
/// 00 00 ff ff appended, as raw DEFLATE. The gateway always agrees
/// <c>client_no_context_takeover</c> (<see cref="PerMessageDeflateAgreement"/>), so each message
/// gets a fresh inflater, dropped after it: nothing is held between messages, a message never
/// reads an earlier one's text, and one that ends in a final block (section 7.2.3.3) leaves the
/// next one whole.
/// </summary>
/// <remarks>Not thread-safe: the receive loop is its one user.</remarks>
public sealed class MessageInflater
{
    private static readonly byte[] FlushMarker = [0x00, 0x00, 0xFF, 0xFF];

    private readonly FeedStream _input = new();

    /// <summary>
    /// Inflates <paramref name="compressed"/> into a buffer rented from the shared pool, which the
    /// caller returns (only when the result is <see cref="InflateStatus.Inflated"/>: otherwise
    /// <paramref name="output"/> is null). Never writes more than <paramref name="maxBytes"/>
    /// bytes: a message that would inflate past them (a decompression bomb) is
    /// <see cref="InflateStatus.TooLarge"/> as soon as the limit is passed by one byte.
    /// </summary>
    public InflateStatus Inflate(ReadOnlyMemory<byte> compressed, int maxBytes, out byte[]? output, out int length)
    {
        output = null;
        length = 0;
        _input.Feed(compressed, FlushMarker);
        var inflater = new DeflateStream(_input, CompressionMode.Decompress, leaveOpen: true);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(256, compressed.Length * 4), maxBytes + 1));
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null!;
                        return InflateStatus.TooLarge;
                    }

                    // Doubling, but never past one byte over the limit: that byte is how a bomb is seen.
                    byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = inflater.Read(buffer.AsSpan(length, Math.Min(buffer.Length, maxBytes + 1) - length));
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null!;
                    return InflateStatus.TooLarge;
                }
            }

            output = buffer;
            buffer = null!;
            return InflateStatus.Inflated;
        }
        catch (InvalidDataException)
        {
            return InflateStatus.Invalid;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _input.Feed(default, default);
            inflater.Dispose();
        }
    }

    /// <summary>Hands the inflater one message's bytes, then the flush marker, then "nothing more for now".</summary>
    private sealed class FeedStream : Stream
    {
        private ReadOnlyMemory<byte> _first;
        private ReadOnlyMemory<byte> _second;

        public void Feed(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second)
        {
            _first = first;
            _second = second;
        }

        public override int Read(Span<byte> buffer)
        {
            ref ReadOnlyMemory<byte> source = ref _first.IsEmpty ? ref _second : ref _first;
            int count = Math.Min(buffer.Length, source.Length);
            source.Span[..count].CopyTo(buffer);
            source = source[count..];
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
