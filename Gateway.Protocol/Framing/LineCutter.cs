using System.Buffers;

namespace Gateway.Protocol.Framing;

/// <summary>What <see cref="LineCutter.TryCut"/> found.</summary>
public enum LineStatus
{
    /// <summary>No complete line yet: read more, then call again with what was left.</summary>
    NeedMore,

    /// <summary>A line (without its <c>\n</c> or a <c>\r</c> before it), at most the limit long.</summary>
    Line,

    /// <summary>A line longer than the limit ended here; its bytes were dropped as they came.</summary>
    TooLong,
}

/// <summary>
/// Cuts a streamed body into lines ended by <c>\n</c> (a <c>\r</c> before it is dropped), for
/// streaming ingest. A line longer than the limit is never held whole: once more than the limit
/// is buffered without a newline, the cutter drops bytes until the next newline and then reports
/// the line as too long, so a hostile producer costs at most the limit and one read.
/// </summary>
public struct LineCutter
{
    private readonly int _maxLineBytes;
    private bool _skipping;

    /// <summary>Creates a cutter for lines of at most <paramref name="maxLineBytes"/> bytes, line end excluded.</summary>
    public LineCutter(int maxLineBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        _maxLineBytes = maxLineBytes;
    }

    /// <summary>
    /// Cuts the next line from the front of <paramref name="buffer"/>, which is moved past what was
    /// used. On <see cref="LineStatus.NeedMore"/> the rest of <paramref name="buffer"/> must be kept
    /// (it is empty when the cutter is dropping an overlong line) and offered again with more bytes.
    /// </summary>
    public LineStatus TryCut(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        line = default;
        SequencePosition? newline = buffer.PositionOf((byte)'\n');
        if (_skipping)
        {
            if (newline is null)
            {
                buffer = buffer.Slice(buffer.End);
                return LineStatus.NeedMore;
            }

            buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
            _skipping = false;
            return LineStatus.TooLong;
        }

        if (newline is null)
        {
            // One byte more than the limit may still be a line at the limit whose "\r\n" is
            // half here; past that, the line is too long whatever follows.
            if (buffer.Length > _maxLineBytes + 1L)
            {
                buffer = buffer.Slice(buffer.End);
                _skipping = true;
            }

            return LineStatus.NeedMore;
        }

        line = TrimCarriageReturn(buffer.Slice(0, newline.Value));
        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        return line.Length > _maxLineBytes ? LineStatus.TooLong : LineStatus.Line;
    }

    /// <summary>
    /// At the end of the body: the last line when it had no newline. Returns false when there is
    /// none (nothing left, and no overlong line being dropped).
    /// </summary>
    public bool TryFinish(in ReadOnlySequence<byte> rest, out LineStatus status, out ReadOnlySequence<byte> line)
    {
        line = default;
        if (_skipping)
        {
            _skipping = false;
            status = LineStatus.TooLong;
            return true;
        }

        if (rest.IsEmpty)
        {
            status = LineStatus.NeedMore;
            return false;
        }

        line = TrimCarriageReturn(rest);
        status = line.Length > _maxLineBytes ? LineStatus.TooLong : LineStatus.Line;
        return true;
    }

    private static ReadOnlySequence<byte> TrimCarriageReturn(ReadOnlySequence<byte> line)
    {
        if (line.IsEmpty)
        {
            return line;
        }

        SequencePosition last = line.GetPosition(line.Length - 1);
        return line.Slice(last).FirstSpan[0] == (byte)'\r' ? line.Slice(0, line.Length - 1) : line;
    }
}
