using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Log;

/// <summary>
/// An event as the memory log keeps it: a value in its history's ring or its state, with the
/// frame's bytes (the data among them) in a buffer the session shares with its other events. It
/// is no object of its own, so that history's thousands of events are a few objects for the
/// garbage collector to trace and copy, not two each (docs/architecture.md, the memory log).
/// A read makes the <see cref="SessionEvent"/> back (<see cref="ToEvent"/>). Its fields are packed
/// (80 bytes), since a full ring holds a thousand of them.
/// </summary>
internal readonly struct HeldEvent
{
    private readonly byte[] _store;
    private readonly string? _idText;
    private readonly EventOrigin? _from;
    private readonly string? _key;
    private readonly long _utcTicks;
    private readonly int _frameStart;
    private readonly int _frameLength;
    private readonly int _dataStart;
    private readonly int _dataLength;
    private readonly Marks _marks;

    /// <summary>Holds <paramref name="e"/>, whose frame is at <paramref name="frameStart"/> of <paramref name="store"/> and its data at <paramref name="dataStart"/>.</summary>
    public HeldEvent(SessionEvent e, byte[] store, int frameStart, int dataStart)
        : this(e.Name, e.Seq, e.Timestamp.UtcTicks, store, frameStart, e.Frame.Length, dataStart, e.Data.Length, e.Id?.Text, e.From, e.Traits.Key, MarksOf(e))
    {
    }

    private HeldEvent(string name, long seq, long utcTicks, byte[] store, int frameStart, int frameLength, int dataStart, int dataLength, string? idText, EventOrigin? from, string? key, Marks marks)
    {
        Name = name;
        Seq = seq;
        _utcTicks = utcTicks;
        _store = store;
        _frameStart = frameStart;
        _frameLength = frameLength;
        _dataStart = dataStart;
        _dataLength = dataLength;
        _idText = idText;
        _from = from;
        _key = key;
        _marks = marks;
    }

    [Flags]
    private enum Marks : byte
    {
        None = 0,
        IdIsString = 1,
        Final = 2,
        Append = 4,
        Conflate = 8,
    }

    public string Name { get; }

    public long Seq { get; }

    /// <summary>When it was accepted; the gateway's times are UTC (the frame's <c>ts</c> says so).</summary>
    public DateTimeOffset Timestamp => new(_utcTicks, TimeSpan.Zero);

    public JsonScalar? Id => _idText is null ? null : new JsonScalar(_idText, (_marks & Marks.IdIsString) != 0);

    public bool Final => (_marks & Marks.Final) != 0;

    public EventOrigin? From => _from;

    public EventTraits Traits => new(_key, (_marks & Marks.Append) != 0, (_marks & Marks.Conflate) != 0);

    /// <summary>The event's data, where it lies in the store (inside the frame, when the frame carries it verbatim).</summary>
    public ReadOnlyMemory<byte> Data => _store.AsMemory(_dataStart, _dataLength);

    /// <summary>The bytes this event takes in its store: the frame, and the data when that is not inside it.</summary>
    public int StoredBytes => _frameLength + (DataInFrame ? 0 : _dataLength);

    private bool DataInFrame => _dataStart >= _frameStart && _dataStart + _dataLength <= _frameStart + _frameLength;

    /// <summary>The event again, for a reader: its own frame, copied out of the store, with the data a slice of it.</summary>
    public SessionEvent ToEvent(string session)
    {
        byte[] frame = _store.AsSpan(_frameStart, _frameLength).ToArray();
        ReadOnlyMemory<byte> data = DataInFrame
            ? frame.AsMemory(_dataStart - _frameStart, _dataLength)
            : Data.ToArray();
        return new SessionEvent(session, Name, Seq, Timestamp, data, frame, Id, Final, from: _from, traits: Traits);
    }

    /// <summary>The same event with its bytes in an array of its own, for the state to show after history let the shared store go.</summary>
    public HeldEvent Detached()
    {
        byte[] own = new byte[StoredBytes];
        _store.AsSpan(_frameStart, _frameLength).CopyTo(own);
        int dataStart = _dataStart - _frameStart;
        if (!DataInFrame)
        {
            Data.Span.CopyTo(own.AsSpan(_frameLength));
            dataStart = _frameLength;
        }

        return new HeldEvent(Name, Seq, _utcTicks, own, 0, _frameLength, dataStart, _dataLength, _idText, _from, _key, _marks);
    }

    public StateEntry ToStateEntry() => new(Name, Seq, Timestamp, Data, _from);

    private static Marks MarksOf(SessionEvent e) =>
        (e.Id is { IsString: true } ? Marks.IdIsString : Marks.None)
        | (e.Final ? Marks.Final : Marks.None)
        | (e.Traits.Append ? Marks.Append : Marks.None)
        | (e.Traits.Conflate ? Marks.Conflate : Marks.None);
}
