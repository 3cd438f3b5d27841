using System.Text;
using Gateway.Log;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Tests.Log;

/// <summary>
/// History's byte bound (<c>History:MaxBytes</c>): the oldest events leave first, the newest always
/// stays, and reads see the held ones in order. And its store: what is read back, or detached for
/// the state, is byte for byte what went in, across shared buffers and events that get their own.
/// </summary>
public sealed class EventHistoryTests
{
    // Each event: name "e" and data of dataBytes; capacity, bound, events published, the seqs held after.
    [TestCase(100, 0L, 20, 10, 1L, Description = "no byte bound: only the count")]
    [TestCase(100, 55L, 20, 10, 16L, Description = "11 bytes each: 5 fit in 55")]
    [TestCase(100, 54L, 20, 10, 17L, Description = "one byte less: 4 fit")]
    [TestCase(3, 1000L, 20, 10, 18L, Description = "the count bound binds first")]
    [TestCase(100, 5L, 20, 10, 20L, Description = "heavier than the bound alone: the newest stays")]
    [TestCase(100, 2000L, 40, 30, 1L, Description = "the ring grows past its first size under the bound")]
    public void The_oldest_events_leave_while_history_weighs_more_than_its_bound(int capacity, long maxBytes, int published, int dataBytes, long firstHeld)
    {
        var history = new EventHistory("s", capacity, maxBytes);
        for (long seq = 1; seq <= published; seq++)
        {
            history.Add(Event(seq, dataBytes), out _);
            while (history.TrimOldest() is not null)
            {
            }
        }

        List<SessionEvent> held = history.After(0, published, int.MaxValue, out bool complete);
        Assert.That(held.Select(e => e.Seq), Is.EqualTo(Enumerable.Range((int)firstHeld, published - (int)firstHeld + 1).Select(i => (long)i)));
        Assert.That(complete, Is.EqualTo(firstHeld == 1));
        Assert.That(history.OldestSeq, Is.EqualTo(firstHeld));
    }

    [Test]
    public void Events_of_different_sizes_are_weighed_each_by_its_own()
    {
        var history = new EventHistory("s", 100, 100);
        history.Add(Event(1, 80), out _);
        history.Add(Event(2, 9), out _);
        Assert.That(history.TrimOldest(), Is.Null, "81 + 10 bytes fit in 100");

        history.Add(Event(3, 9), out _);
        Assert.That(history.TrimOldest()?.Seq, Is.EqualTo(1), "101 bytes: the oldest, big one leaves");
        Assert.That(history.TrimOldest(), Is.Null, "20 bytes left");
        Assert.That(history.Count, Is.EqualTo(2));
    }

    // Data sizes in publish order; every event is read back and detached whole. Shared buffers are
    // 512 bytes, then 1, 2 and 4 KiB; a frame over 1 KiB gets a buffer of its own.
    private static IEnumerable<TestCaseData> Stores()
    {
        yield return new TestCaseData(new[] { 10 }).SetName("one small event");
        yield return new TestCaseData(Enumerable.Repeat(128, 200).ToArray()).SetName("many small events: buffers fill, grow to 4 KiB and follow each other");
        yield return new TestCaseData(new[] { 1, 1, 1 }).SetName("the shortest data: one digit");
        yield return new TestCaseData(new[] { 400, 400 }).SetName("the second does not fit in what is left of the first buffer");
        yield return new TestCaseData(new[] { 2000 }).SetName("one event with a buffer of its own");
        yield return new TestCaseData(new[] { 10, 1500, 10, 64 * 1024, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 10 }).SetName("small and large in turn: the small ones keep filling the shared buffer");
        yield return new TestCaseData(new[] { 880, 890, 900, 910, 920 }).SetName("frames around the 1 KiB line");
    }

    [TestCaseSource(nameof(Stores))]
    public void Every_event_reads_back_as_it_went_in(int[] dataSizes)
    {
        var history = new EventHistory("room", dataSizes.Length);
        var random = new Random(dataSizes.Length);
        var published = new List<SessionEvent>();
        var held = new List<HeldEvent>();
        for (int i = 0; i < dataSizes.Length; i++)
        {
            SessionEvent e = Published(i + 1, dataSizes[i], random);
            published.Add(e);
            held.Add(history.Add(e, out HeldEvent? evicted));
            Assert.That(evicted, Is.Null);
        }

        List<SessionEvent> read = history.After(0, dataSizes.Length, int.MaxValue, out bool complete);
        Assert.That(complete, Is.True);
        Assert.That(read, Has.Count.EqualTo(published.Count));
        for (int i = 0; i < read.Count; i++)
        {
            AssertSame(read[i], published[i]);
            Assert.That(read[i].DataInFrame, Is.True, "the data read back is a slice of the frame read back");
            AssertSame(held[i].Detached().ToEvent("room"), published[i]);
            Assert.That(held[i].Detached().ToStateEntry().Data.ToArray(), Is.EqualTo(published[i].Data.ToArray()));
        }
    }

    [Test]
    public void Data_apart_from_its_frame_is_held_and_read_back_too()
    {
        // Not how the memory log makes events (its data is in the frame), but what History accepts.
        var history = new EventHistory("s", 10);
        HeldEvent held = history.Add(new SessionEvent("s", "e", 1, DateTimeOffset.UnixEpoch, "[1,2,3]"u8.ToArray(), [0x81, 0x01, 0x41], id: null, final: false), out _);
        HeldEvent detached = held.Detached();
        foreach (SessionEvent e in new[] { history.After(0, 1, 10, out _).Single(), detached.ToEvent("s") })
        {
            Assert.That(e.Frame, Is.EqualTo(new byte[] { 0x81, 0x01, 0x41 }));
            Assert.That(Encoding.UTF8.GetString(e.Data.Span), Is.EqualTo("[1,2,3]"));
            Assert.That(e.DataInFrame, Is.False);
        }

        Assert.That(detached.StoredBytes, Is.EqualTo(3 + 7));
    }

    [Test]
    public void An_evicted_events_bytes_stay_readable_in_a_detached_copy()
    {
        var history = new EventHistory("room", 2);
        var random = new Random(7);
        SessionEvent first = Published(1, 100, random);
        HeldEvent firstHeld = history.Add(first, out _);
        HeldEvent detached = firstHeld.Detached();
        history.Add(Published(2, 100, random), out _);
        history.Add(Published(3, 100, random), out HeldEvent? evicted);

        Assert.That(evicted?.Seq, Is.EqualTo(1));
        Assert.That(history.OldestSeq, Is.EqualTo(2));
        AssertSame(detached.ToEvent("room"), first);
    }

    [Test]
    public void Reads_close_together_share_the_events_they_make_until_forgotten()
    {
        var history = new EventHistory("room", 100);
        var random = new Random(3);
        for (int seq = 1; seq <= 10; seq++)
        {
            history.Add(Published(seq, 50, random), out _);
        }

        List<SessionEvent> whole = history.After(0, 10, int.MaxValue, out _);
        List<SessionEvent> tail = history.After(5, 10, int.MaxValue, out _);
        Assert.That(tail, Is.EqualTo(whole.Skip(5)).Using<SessionEvent>(ReferenceEquals), "a read within the last one shares its events");

        // New events after the last read: the overlap is shared, the rest made, and kept for the next read.
        history.Add(Published(11, 50, random), out _);
        List<SessionEvent> longer = history.After(8, 11, int.MaxValue, out _);
        Assert.That(longer.Take(2), Is.EqualTo(whole.Skip(8)).Using<SessionEvent>(ReferenceEquals));
        Assert.That(longer[2].Seq, Is.EqualTo(11));
        Assert.That(history.After(10, 11, int.MaxValue, out _).Single(), Is.SameAs(longer[2]));

        history.ForgetReads();
        List<SessionEvent> again = history.After(8, 11, int.MaxValue, out _);
        Assert.That(again.Select(e => e.Seq), Is.EqualTo(new long[] { 9, 10, 11 }));
        Assert.That(again.Zip(longer).Any(pair => ReferenceEquals(pair.First, pair.Second)), Is.False, "forgotten: made again");
        for (int i = 0; i < again.Count; i++)
        {
            AssertSame(again[i], longer[i]);
        }
    }

    private static SessionEvent Published(long seq, int dataBytes, Random random)
    {
        // A JSON string of random letters, and now and then an id, an origin and a key.
        var text = new StringBuilder(dataBytes);
        for (int i = 0; i < Math.Max(0, dataBytes - 2); i++)
        {
            text.Append((char)('a' + random.Next(26)));
        }

        byte[] data = Encoding.UTF8.GetBytes(dataBytes == 1 ? "1" : $"\"{text}\"");
        EventOrigin? from = seq % 3 == 0 ? new EventOrigin($"c{seq}", "alice") : null;
        var traits = new EventTraits(seq % 4 == 0 ? $"k{seq}" : null);
        DateTimeOffset at = DateTimeOffset.UnixEpoch.AddSeconds(seq);
        byte[] frame = ServerFrames.CreateEventFrame(new EventMessage("room", $"name{seq % 5}", seq, at, data, from, traits.Key), out Range range);
        JsonScalar? id = seq % 2 == 0 ? JsonScalar.FromNumber(seq) : null;
        return new SessionEvent("room", $"name{seq % 5}", seq, at, frame.AsMemory(range), frame, id, final: seq == 1000, from: from, traits: traits);
    }

    private static void AssertSame(SessionEvent actual, SessionEvent expected)
    {
        Assert.That(actual.Session, Is.EqualTo(expected.Session));
        Assert.That(actual.Name, Is.EqualTo(expected.Name));
        Assert.That(actual.Seq, Is.EqualTo(expected.Seq));
        Assert.That(actual.Timestamp, Is.EqualTo(expected.Timestamp));
        Assert.That(actual.Frame, Is.EqualTo(expected.Frame), $"frame of seq {expected.Seq}");
        Assert.That(actual.Data.ToArray(), Is.EqualTo(expected.Data.ToArray()), $"data of seq {expected.Seq}");
        Assert.That(actual.Id, Is.EqualTo(expected.Id));
        Assert.That(actual.Final, Is.EqualTo(expected.Final));
        Assert.That(actual.From, Is.EqualTo(expected.From));
        Assert.That(actual.Traits, Is.EqualTo(expected.Traits));
    }

    private static SessionEvent Event(long seq, int dataBytes) =>
        new("s", "e", seq, DateTimeOffset.UnixEpoch, new byte[dataBytes], [], id: null, final: false);
}
