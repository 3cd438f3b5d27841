using Gateway.Log;
using Gateway.Sessions;

namespace Gateway.Tests.Log;

/// <summary>History's byte bound (<c>History:MaxBytes</c>): the oldest events leave first, the newest always stays, and reads see the held ones in order.</summary>
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
        var history = new EventHistory(capacity, maxBytes);
        for (long seq = 1; seq <= published; seq++)
        {
            history.Add(Event(seq, dataBytes));
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
        var history = new EventHistory(100, 100);
        history.Add(Event(1, 80));
        history.Add(Event(2, 9));
        Assert.That(history.TrimOldest(), Is.Null, "81 + 10 bytes fit in 100");

        history.Add(Event(3, 9));
        Assert.That(history.TrimOldest()?.Seq, Is.EqualTo(1), "101 bytes: the oldest, big one leaves");
        Assert.That(history.TrimOldest(), Is.Null, "20 bytes left");
        Assert.That(history.Count, Is.EqualTo(2));
    }

    private static SessionEvent Event(long seq, int dataBytes) =>
        new("s", "e", seq, DateTimeOffset.UnixEpoch, new byte[dataBytes], [], id: null, final: false);
}
