using Gateway.Hub;

namespace Gateway.Tests.Hub;

/// <summary>
/// The coalescing of presence changes, as tables: each step is a change at a time with the step it
/// asks for (<c>+a@10 Schedule@100</c>), or a take at a time with what it holds (<c>take@100: +b -a</c>).
/// The interval is 100.
/// </summary>
public sealed class PresenceBatchTests
{
    private static IEnumerable<TestCaseData> Tables()
    {
        yield return Case("a lone join goes out at once", "+a@0 SendNow", "take@0: +a");
        yield return Case("a lone leave goes out at once", "-a@0 SendNow", "take@0: -a");
        yield return Case("changes within the interval wait for its end and go out together",
            "+a@0 SendNow", "take@0: +a", "+b@10 Schedule@100", "+c@20 Pending", "-a@30 Pending", "take@100: +b +c -a");
        yield return Case("after a quiet interval a change goes out at once again",
            "+a@0 SendNow", "take@0: +a", "+b@150 SendNow", "take@150: +b");
        yield return Case("the interval is measured from the last message, inclusive",
            "+a@0 SendNow", "take@0: +a", "+b@100 SendNow", "take@100: +b");
        yield return Case("one change waiting goes out alone, at the interval's end",
            "+a@0 SendNow", "take@0: +a", "-a@40 Schedule@100", "take@100: -a");
        yield return Case("a join and its leave within one wait are never announced",
            "+a@0 SendNow", "take@0: +a", "+b@10 Schedule@100", "-b@20 Pending", "take@100:", "+c@150 SendNow", "take@150: +c");
        yield return Case("a leave of a member announced earlier is kept",
            "+a@0 SendNow", "take@0: +a", "+b@10 Schedule@100", "-a@20 Pending", "-b@30 Pending", "take@100: -a");
        yield return Case("a wait after a take is measured from that take",
            "+a@0 SendNow", "take@0: +a", "+b@50 Schedule@100", "take@100: +b", "+c@120 Schedule@200", "+d@130 Pending", "take@200: +c +d");
    }

    [TestCaseSource(nameof(Tables))]
    public void Coalesces_as_the_table_says(string[] steps)
    {
        var batch = new PresenceBatch(interval: 100);
        foreach (string step in steps)
        {
            if (step.StartsWith("take@", StringComparison.Ordinal))
            {
                int colon = step.IndexOf(':', StringComparison.Ordinal);
                (PresenceMember[] joined, PresenceMember[] left) = batch.Take(long.Parse(step[5..colon], System.Globalization.CultureInfo.InvariantCulture));
                string taken = string.Join(" ", joined.Select(m => "+" + m.Connection).Order(StringComparer.Ordinal).Concat(left.Select(m => "-" + m.Connection)));
                Assert.That($"{step[..colon]}: {taken}".TrimEnd(), Is.EqualTo(step.TrimEnd()), step);
                continue;
            }

            string[] parts = step.Split(' ');
            string[] change = parts[0].Split('@');
            long at = long.Parse(change[1], System.Globalization.CultureInfo.InvariantCulture);
            PresenceStep result = batch.Add(new PresenceChange(change[0][0] == '+', Member(change[0][1..])), at, out long due);
            string said = result == PresenceStep.Schedule ? $"Schedule@{due}" : result.ToString();
            Assert.That(said, Is.EqualTo(parts[1]), step);
        }
    }

    [Test]
    public void Two_hundred_joins_within_one_interval_are_one_message()
    {
        var batch = new PresenceBatch(interval: 100);
        Assert.That(batch.Add(new PresenceChange(true, Member("first")), 0, out _), Is.EqualTo(PresenceStep.SendNow));
        batch.Take(0);
        var steps = new List<PresenceStep>();
        for (int i = 0; i < 200; i++)
        {
            steps.Add(batch.Add(new PresenceChange(true, Member($"c{i}")), i / 4, out _));
        }

        Assert.That(steps.Count(s => s == PresenceStep.Schedule), Is.EqualTo(1), "one take is arranged");
        Assert.That(steps.Count(s => s == PresenceStep.SendNow), Is.Zero);
        (PresenceMember[] joined, PresenceMember[] left) = batch.Take(100);
        Assert.That(joined.Select(m => m.Connection), Is.EquivalentTo(Enumerable.Range(0, 200).Select(i => $"c{i}")));
        Assert.That(left, Is.Empty);
        Assert.That(batch.Count, Is.Zero);
    }

    private static PresenceMember Member(string connection) => new(connection, null, null, DateTimeOffset.UnixEpoch);

    private static TestCaseData Case(string name, params string[] steps) => new TestCaseData((object)steps).SetName(name);
}
