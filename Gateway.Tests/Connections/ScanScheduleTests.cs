using Gateway.Connections;

namespace Gateway.Tests.Connections;

/// <summary>
/// The heartbeat scan's schedule on its own: ticks at the times given in, the parts each tick
/// visits out. Four parts of 10 timestamps each: a scan period is 40.
/// </summary>
public sealed class ScanScheduleTests
{
    private const int Span = 10;
    private const int Shards = 4;

    private static IEnumerable<TestCaseData> Ticks()
    {
        // Each tick: "now -> first+count" (the parts it visits; "-" for none).
        yield return Case("ticks on time visit one part each, in turn, wrapping", "10 -> 0+1", "20 -> 1+1", "30 -> 2+1", "40 -> 3+1", "50 -> 0+1");
        yield return Case("ticks at half a part's time visit a part every other tick", "5 -> -", "10 -> 0+1", "15 -> -", "20 -> 1+1");
        yield return Case("a late tick visits the parts it missed and keeps the remainder", "10 -> 0+1", "35 -> 1+2", "40 -> 3+1");
        yield return Case("exactly a scan period visits every part once", "40 -> 0+4", "50 -> 0+1");
        yield return Case("more than a scan period visits every part once, with no backlog after", "10 -> 0+1", "100 -> 1+4", "105 -> -", "110 -> 1+1");
        yield return Case("a clock that goes back adds nothing and counts again from there", "10 -> 0+1", "5 -> -", "15 -> 1+1");
        yield return Case("the same time twice: the second tick visits nothing", "10 -> 0+1", "10 -> -");
        yield return Case("fractions add up across ticks", "7 -> -", "14 -> 0+1", "21 -> 1+1", "28 -> -", "35 -> 2+1", "42 -> 3+1");
        yield return Case("nothing before the first part's time", "9 -> -", "19 -> 0+1");
    }

    private static TestCaseData Case(string name, params string[] ticks) => new TestCaseData((object)ticks).SetName(name);

    [TestCaseSource(nameof(Ticks))]
    public void Ticks_visit_these_parts(string[] ticks)
    {
        var schedule = new ScanSchedule(Span, Shards, start: 0);
        foreach (string tick in ticks)
        {
            string[] sides = tick.Split(" -> ");
            (int first, int count) = schedule.Tick(long.Parse(sides[0]));
            string visited = count == 0 ? "-" : $"{first}+{count}";
            Assert.That(visited, Is.EqualTo(sides[1]), $"the tick at {sides[0]}");
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Under_ticks_that_fall_anyhow_every_part_is_visited_once_per_scan_period_give_or_take_a_tick(int seed)
    {
        // Gaps up to a part and a half, never a whole scan period: no tick starts afresh.
        const int MaxGap = Span * 3 / 2;
        var random = new Random(seed);
        var schedule = new ScanSchedule(Span, Shards, start: 0);
        var visits = new List<long>[Shards];
        for (int i = 0; i < Shards; i++)
        {
            visits[i] = [];
        }

        long now = 0;
        long visited = 0;
        while (now < 100_000)
        {
            now += random.Next(0, MaxGap + 1);
            (int first, int count) = schedule.Tick(now);
            for (int i = 0; i < count; i++)
            {
                visits[(first + i) % Shards].Add(now);
            }

            visited += count;
        }

        Assert.That(visited, Is.InRange(now / Span - 1, now / Span), "one part visited for each part's time gone by");
        for (int part = 0; part < Shards; part++)
        {
            List<long> times = visits[part];
            Assert.That(times[0], Is.LessThanOrEqualTo(Span * Shards + MaxGap), $"part {part}'s first visit");
            for (int i = 1; i < times.Count; i++)
            {
                Assert.That(times[i] - times[i - 1], Is.InRange(Span * Shards - MaxGap, Span * Shards + MaxGap), $"part {part}'s visits {i - 1} and {i}");
            }
        }
    }
}
