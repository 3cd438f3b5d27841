using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Gateway.Protocol.Framing;

/// <summary>What <see cref="WebSocketMessageReader.TryRead"/> found.</summary>
public enum WebSocketReadStatus
{
    /// <summary>The buffer holds no complete message or control frame yet; read more bytes.</summary>
    NeedMore,

    /// <summary>A complete, valid UTF-8 text message.</summary>
    Text,

    /// <summary>A ping frame; its payload is to be echoed in a pong.</summary>
    Ping,

    /// <summary>A pong frame.</summary>
    Pong,

    /// <summary>A close frame; <see cref="WebSocketMessageReader.CloseCode"/> and <see cref="WebSocketMessageReader.CloseReason"/> tell what it said.</summary>
    Close,

    /// <summary>A binary message began. Its bytes are skipped, not read.</summary>
    Binary,

    /// <summary>A message is longer than the limit. Its bytes are skipped, not read.</summary>
    TooLarge,

    /// <summary>A text message that is not valid UTF-8.</summary>
    InvalidUtf8,

    /// <summary>The peer broke the framing rules; <see cref="WebSocketMessageReader.Problem"/> says how. Nothing more can be read.</summary>
    ProtocolError,
}

/// <summary>
/// Cuts WebSocket messages out of the bytes of one connection: reads frame headers, unmasks
/// payloads, assembles fragments, lets control frames through between them, and enforces the
/// message size limit from the header, before any payload is buffered.
/// </summary>
/// <remarks>
/// One instance per connection; not thread-safe. A text payload stays valid until the next call.
/// Payload bytes are consumed as they arrive, so a frame never has to fit in the caller's buffer.
/// A binary or oversized message is reported as soon as its first header is read; the reader then
/// skips its bytes, so that frames after it (the peer's close) are still read.
/// </remarks>
public sealed class WebSocketMessageReader
{
    private const int MaxControlPayload = 125;

    private readonly int _maxMessageBytes;
    private readonly bool _expectMasked;

    // Set when permessage-deflate was negotiated (RFC 7692): RSV1 then marks a compressed message.
    private readonly MessageInflater? _inflater;

    // The frame whose payload is being consumed.
    private bool _inFrame;
    private bool _frameFin;
    private uint _frameMask;
    private int _maskOffset;
    private ulong _frameRemaining;

    // The data message being assembled.
    private bool _inMessage;
    private bool _discarding;
    private bool _compressed;
    private byte[]? _message;
    private int _messageLength;
    private bool _deliveredMessage;

    // A control frame's unmasked payload. Made for the first that carries bytes, not with the
    // reader: an idle connection's control frames are pongs to the gateway's empty pings, and a
    // buffer for each of thousands of idle connections would be 150 bytes apiece held for nothing.
    private byte[]? _control;
    private bool _broken;

    /// <summary>Creates a reader.</summary>
    /// <param name="maxMessageBytes">The largest message accepted, in payload bytes.</param>
    /// <param name="expectMasked">True on a server, where every frame must be masked; false on a client, where none may be.</param>
    /// <param name="inflater">
    /// The connection's inflater when permessage-deflate was negotiated: a message whose first frame
    /// has RSV1 set is inflated, and its inflated size is held to <paramref name="maxMessageBytes"/>
    /// as well as its compressed size. Null: RSV1 is a protocol error, as every reserved bit.
    /// </param>
    public WebSocketMessageReader(int maxMessageBytes, bool expectMasked = true, MessageInflater? inflater = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxMessageBytes);
        _maxMessageBytes = maxMessageBytes;
        _expectMasked = expectMasked;
        _inflater = inflater;
    }

    /// <summary>The payload of the last <see cref="WebSocketReadStatus.Text"/>, <see cref="WebSocketReadStatus.Ping"/> or <see cref="WebSocketReadStatus.Pong"/>; valid until the next call.</summary>
    public ReadOnlySequence<byte> Payload { get; private set; }

    /// <summary>The status code of the last close frame, or <see cref="CloseCodes.NoStatus"/> when it had none.</summary>
    public ushort CloseCode { get; private set; }

    /// <summary>The reason text of the last close frame.</summary>
    public string CloseReason { get; private set; } = string.Empty;

    /// <summary>What rule the peer broke, after <see cref="WebSocketReadStatus.ProtocolError"/>.</summary>
    public string Problem { get; private set; } = string.Empty;

    /// <summary>True while a message buffer is rented (between a text message and the next call).</summary>
    public bool HoldsBuffer => _message is not null;

    /// <summary>
    /// Reads from the start of <paramref name="buffer"/> and slices off what it consumed. Call again
    /// until it returns <see cref="WebSocketReadStatus.NeedMore"/> (or
    /// <see cref="WebSocketReadStatus.ProtocolError"/>, which it then returns for ever, consuming
    /// everything); then advance the pipe to <c>buffer.Start</c> (consumed) and <c>buffer.End</c> (examined).
    /// </summary>
    public WebSocketReadStatus TryRead(ref ReadOnlySequence<byte> buffer)
    {
        ReleaseDeliveredMessage();
        Payload = default;
        if (_broken)
        {
            // Nothing after a framing error can be trusted to be a frame boundary.
            buffer = buffer.Slice(buffer.End);
            return WebSocketReadStatus.ProtocolError;
        }

        while (true)
        {
            if (!_inFrame)
            {
                if (!WebSocketFrameHeader.TryParse(buffer, out WebSocketFrameHeader header))
                {
                    return WebSocketReadStatus.NeedMore;
                }

                WebSocketReadStatus? status = StartFrame(ref buffer, header);
                if (status is not null)
                {
                    return status.Value;
                }
            }

            // Consume as much of the frame's payload as has arrived.
            long available = Math.Min((long)Math.Min(_frameRemaining, long.MaxValue), buffer.Length);
            if (available > 0)
            {
                ReadOnlySequence<byte> chunk = buffer.Slice(0, available);
                if (!_discarding)
                {
                    // The buffer grows with the bytes that have arrived, not with what the header
                    // promised: a header alone costs nothing.
                    EnsureCapacity(_messageLength + (int)available);
                    foreach (ReadOnlyMemory<byte> segment in chunk)
                    {
                        _maskOffset = WebSocketMask.Apply(segment.Span, _message.AsSpan(_messageLength), _frameMask, _maskOffset);
                        _messageLength += segment.Length;
                    }
                }

                buffer = buffer.Slice(available);
                _frameRemaining -= (ulong)available;
            }

            if (_frameRemaining > 0)
            {
                return WebSocketReadStatus.NeedMore;
            }

            _inFrame = false;
            if (!_frameFin)
            {
                continue;
            }

            // The message is complete.
            _inMessage = false;
            if (_discarding)
            {
                _discarding = false;
                continue;
            }

            _deliveredMessage = true;
            EnsureCapacity(_messageLength);
            if (_compressed && InflateMessage() is { } refused)
            {
                return refused;
            }

            var text = new ReadOnlySequence<byte>(_message!, 0, _messageLength);
            if (!Utf8.IsValid(_message.AsSpan(0, _messageLength)))
            {
                return WebSocketReadStatus.InvalidUtf8;
            }

            Payload = text;
            return WebSocketReadStatus.Text;
        }
    }

    /// <summary>Returns the message buffer to the pool; call when the connection ends.</summary>
    public void Reset()
    {
        _deliveredMessage = true;
        ReleaseDeliveredMessage();
        _inFrame = _inMessage = _discarding = _compressed = false;
    }

    /// <summary>Checks a new frame's header and starts consuming it; returns a status to report, or null to go on.</summary>
    private WebSocketReadStatus? StartFrame(ref ReadOnlySequence<byte> buffer, WebSocketFrameHeader header)
    {
        if (header.Reserved != 0 && CheckReservedBits(header) is { } broken)
        {
            return broken;
        }

        if (header.Masked != _expectMasked)
        {
            return Break(_expectMasked ? "frames from a client must be masked" : "frames from a server must not be masked");
        }

        if (header.PayloadLength > long.MaxValue)
        {
            return Break("the most significant bit of a 64-bit payload length must be 0");
        }

        if (header.IsControl)
        {
            return ReadControlFrame(ref buffer, header);
        }

        switch (header.Opcode)
        {
            case WebSocketOpcode.Text or WebSocketOpcode.Binary when _inMessage:
                return Break("a new message began before the previous fragmented message ended");
            case WebSocketOpcode.Continuation when !_inMessage:
                return Break("a continuation frame arrived with no message to continue");
            case WebSocketOpcode.Text or WebSocketOpcode.Binary or WebSocketOpcode.Continuation:
                break;
            default:
                return Break($"opcode 0x{(byte)header.Opcode:X} is reserved");
        }

        buffer = buffer.Slice(header.HeaderLength);
        _inFrame = true;
        _frameFin = header.Fin;
        _frameMask = header.MaskKey;
        _maskOffset = 0;
        _frameRemaining = header.PayloadLength;

        if (header.Opcode == WebSocketOpcode.Continuation)
        {
            return _discarding ? null : Reserve(header.PayloadLength);
        }

        _inMessage = true;
        _messageLength = 0;
        _compressed = (header.Reserved & ReservedRsv1) != 0;
        if (header.Opcode == WebSocketOpcode.Binary)
        {
            _discarding = true;
            return WebSocketReadStatus.Binary;
        }

        return Reserve(header.PayloadLength);
    }

    // RSV1 as WebSocketFrameHeader.Reserved holds it (the three bits shifted down).
    private const byte ReservedRsv1 = 0x4;

    /// <summary>
    /// Which reserved bits a frame may carry: none without an extension; with permessage-deflate,
    /// RSV1 on the first frame of a data message only (RFC 7692 section 6.1). Null when allowed.
    /// </summary>
    private WebSocketReadStatus? CheckReservedBits(WebSocketFrameHeader header)
    {
        if (_inflater is null)
        {
            return Break("reserved bits RSV1-3 must be 0: no extension was negotiated");
        }

        if (header.Reserved != ReservedRsv1)
        {
            return Break("reserved bits RSV2 and RSV3 must be 0: permessage-deflate uses RSV1 only");
        }

        if (header.IsControl)
        {
            return Break("control frames are never compressed: RSV1 must be 0 on close, ping and pong (RFC 7692 section 6.1)");
        }

        return header.Opcode == WebSocketOpcode.Continuation
            ? Break("RSV1 marks a compressed message on its first frame only, never on a continuation frame (RFC 7692 section 6.1)")
            : null;
    }

    /// <summary>
    /// Replaces the assembled compressed payload with its inflated bytes; a status to report when
    /// it would inflate past the limit (<see cref="WebSocketReadStatus.TooLarge"/>) or is not DEFLATE data.
    /// </summary>
    private WebSocketReadStatus? InflateMessage()
    {
        _compressed = false;
        InflateStatus status = _inflater!.Inflate(_message.AsMemory(0, _messageLength), _maxMessageBytes, out byte[]? inflated, out int length);
        ReturnBuffer();
        _messageLength = 0;
        switch (status)
        {
            case InflateStatus.TooLarge:
                return WebSocketReadStatus.TooLarge;
            case InflateStatus.Invalid:
                return Break("a compressed message's payload is not valid DEFLATE data");
        }

        _message = inflated;
        _messageLength = length;
        return null;
    }

    /// <summary>Reports the message as too large when <paramref name="more"/> payload bytes would take it past the limit.</summary>
    private WebSocketReadStatus? Reserve(ulong more)
    {
        if ((ulong)_messageLength + more > (ulong)_maxMessageBytes)
        {
            _discarding = true;
            ReturnBuffer();
            return WebSocketReadStatus.TooLarge;
        }

        return null;
    }

    private void EnsureCapacity(int needed)
    {
        if (_message is not null && _message.Length >= needed)
        {
            return;
        }

        // Grow by doubling so that many small reads do not copy quadratically.
        int size = Math.Min(_maxMessageBytes, Math.Max(needed, (_message?.Length ?? 0) * 2));
        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(size, 256));
        if (_message is not null)
        {
            _message.AsSpan(0, _messageLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_message);
        }

        _message = larger;
    }

    private WebSocketReadStatus? ReadControlFrame(ref ReadOnlySequence<byte> buffer, WebSocketFrameHeader header)
    {
        if (!header.Fin)
        {
            return Break("control frames must not be fragmented");
        }

        if (header.PayloadLength > MaxControlPayload)
        {
            return Break("control frames carry at most 125 bytes");
        }

        if (header.Opcode is not (WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            return Break($"opcode 0x{(byte)header.Opcode:X} is reserved");
        }

        int length = (int)header.PayloadLength;
        if (buffer.Length < header.HeaderLength + length)
        {
            // Control frames are small: wait until the whole frame is here.
            return WebSocketReadStatus.NeedMore;
        }

        byte[] control = length == 0 ? [] : _control ??= new byte[MaxControlPayload];
        int offset = 0;
        foreach (ReadOnlyMemory<byte> segment in buffer.Slice(header.HeaderLength, length))
        {
            WebSocketMask.Apply(segment.Span, control.AsSpan(offset), header.MaskKey, offset & 3);
            offset += segment.Length;
        }

        buffer = buffer.Slice(header.HeaderLength + length);
        switch (header.Opcode)
        {
            case WebSocketOpcode.Ping:
                Payload = new ReadOnlySequence<byte>(control, 0, length);
                return WebSocketReadStatus.Ping;
            case WebSocketOpcode.Pong:
                Payload = new ReadOnlySequence<byte>(control, 0, length);
                return WebSocketReadStatus.Pong;
            default:
                return ReadClose(control.AsSpan(0, length));
        }
    }

    private WebSocketReadStatus ReadClose(ReadOnlySpan<byte> payload)
    {
        if (payload.Length == 0)
        {
            CloseCode = CloseCodes.NoStatus;
            CloseReason = string.Empty;
            return WebSocketReadStatus.Close;
        }

        if (payload.Length == 1)
        {
            return Break("a close frame's payload must be empty or start with a 2-byte status code");
        }

        ushort code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!IsValidReceivedCloseCode(code))
        {
            return Break($"close code {code} may not be sent by an endpoint");
        }

        if (!Utf8.IsValid(payload[2..]))
        {
            return Break("a close frame's reason must be UTF-8 text");
        }

        CloseCode = code;
        CloseReason = Encoding.UTF8.GetString(payload[2..]);
        return WebSocketReadStatus.Close;
    }

    /// <summary>The codes RFC 6455 section 7.4 lets an endpoint put in a close frame.</summary>
    private static bool IsValidReceivedCloseCode(ushort code) =>
        code is >= 1000 and <= 1003 or >= 1007 and <= 1014 or >= 3000 and <= 4999;

    private WebSocketReadStatus Break(string problem)
    {
        _broken = true;
        Problem = problem;
        return WebSocketReadStatus.ProtocolError;
    }

    private void ReleaseDeliveredMessage()
    {
        if (_deliveredMessage)
        {
            _deliveredMessage = false;
            _messageLength = 0;
            ReturnBuffer();
        }
    }

    private void ReturnBuffer()
    {
        if (_message is not null)
        {
            ArrayPool<byte>.Shared.Return(_message);
            _message = null;
        }
    }
}
