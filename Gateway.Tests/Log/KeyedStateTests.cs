using System.Text;
using System.Text.Json;
using Gateway.Log;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Tests.Log;

/// <summary>
/// Keyed state and message assembly (spec section 19) as a table: events in, entries out. A row's
/// events are <c>name/key data</c>, with <c>+</c> before the data for an append.
/// </summary>
public sealed class KeyedStateTests
{
    private static readonly DateTimeOffset Ts = DateTimeOffset.FromUnixTimeMilliseconds(1_795_324_585_123);

    private static IEnumerable<TestCaseData> Assemblies()
    {
        yield return Row("appends join into one text", ["m/a +\"Hel\"", "m/a +\"lo, \"", "m/a +\"world\""], "m/a \"Hello, world\" 3@3");
        yield return Row("escapes stay whole across chunks", ["m/a +\"say \\\"hi\\\"\"", "m/a +\"\\n\"", "m/a +\"\\\\\"", "m/a +\"\\u00e9\\ud83d\"", "m/a +\"\\ude80\""],
            "m/a \"say \\\"hi\\\"\\n\\\\\\u00e9\\ud83d\\ude80\" 5@5");
        yield return Row("multi-byte UTF-8 is joined byte for byte", ["m/a +\"é\"", "m/a +\"🚀\"", "m/a +\"日本\""], "m/a \"é🚀日本\" 3@3");
        yield return Row("an empty chunk counts and adds nothing", ["m/a +\"x\"", "m/a +\"\"", "m/a +\"y\""], "m/a \"xy\" 3@3");
        yield return Row("a later event without append replaces the text: the final message", ["m/a +\"Hel\"", "m/a +\"lo\"", "m/a {\"text\":\"Hello\",\"done\":true}"],
            "m/a {\"text\":\"Hello\",\"done\":true} 0@3");
        yield return Row("an append after a replacement starts a new text", ["m/a \"final\"", "m/a +\"new\""], "m/a \"new\" 1@2");
        yield return Row("keys and names are each their own entry", ["m/a +\"1\"", "m/b +\"2\"", "n/a +\"3\"", "m/a +\"4\"", "m/b 5"],
            "m/a \"14\" 2@4", "m/b 5 0@5", "n/a \"3\" 1@3");
    }

    [TestCaseSource(nameof(Assemblies))]
    public void Events_leave_these_entries(string[] events, string[] expected)
    {
        var state = new KeyedState(maxKeys: 100, maxAssembledBytes: 1024);
        for (int i = 0; i < events.Length; i++)
        {
            PublishRequest request = Parse(events[i]);
            Assert.That(state.Check([request], [false]).Status, Is.EqualTo(PublishStatus.Accepted));
            state.Apply(Event(request, i + 1));
        }

        // The snapshot is grouped by name in ordinal order, each name's keys in seq order.
        string[] entries = state.Snapshot().Select(e => $"{e.Event}/{e.Key} {Encoding.UTF8.GetString(e.Data.Span)} {e.Chunks}@{e.Seq}").ToArray();
        Assert.That(entries, Is.EqualTo(expected));
        foreach (KeyedEntry entry in state.Snapshot())
        {
            // Every assembled text is valid JSON.
            Assert.DoesNotThrow(() => JsonDocument.Parse(entry.Data).Dispose(), entry.Key);
        }
    }

    [Test]
    public void Joined_escapes_decode_to_the_chunks_texts_joined()
    {
        string[] chunks = ["say \"hi\"", "\n\t", "\\", "é🚀", "\u0001", ""];
        var state = new KeyedState(100, 1024);
        for (int i = 0; i < chunks.Length; i++)
        {
            state.Apply(Event(new PublishRequest("m", Encoding.UTF8.GetBytes(JsonSerializer.Serialize(chunks[i])), Traits: new EventTraits("k", Append: true)), i + 1));
        }

        Assert.That(JsonSerializer.Deserialize<string>(state.Snapshot()[0].Data.Span), Is.EqualTo(string.Concat(chunks)));
    }

    [Test]
    public void An_append_past_the_limit_is_refused_with_its_index_and_the_text_left_as_it_was()
    {
        // The limit counts the JSON string's bytes, quotes included: "abcd" is 6, "abcdefgh" is 10.
        var state = new KeyedState(maxKeys: 100, maxAssembledBytes: 10);
        PublishRequest first = Append("m", "k", "\"abcd\"");
        state.Apply(Event(first, 1));
        Assert.That(state.Check([Append("m", "k", "\"efgh\"")], [false]), Is.EqualTo(new KeyedCheck(PublishStatus.Accepted, -1, state.Check([Append("m", "k", "\"efgh\"")], [false]).Growth)));

        // Within a batch, the appends before count: the third takes the text to 11 bytes.
        PublishRequest[] batch = [Append("m", "k", "\"ef\""), Append("m", "other", "\"x\""), Append("m", "k", "\"ghi\"")];
        KeyedCheck check = state.Check(batch, [false, false, false]);
        Assert.That((check.Status, check.Refused), Is.EqualTo((PublishStatus.AssembledTooLarge, 2)));

        // Skipped events (retries of ids in history) do not count.
        Assert.That(state.Check(batch, [false, false, true]).Status, Is.EqualTo(PublishStatus.Accepted));

        // A replacement in the batch starts the count again; its own data is not an assembly.
        Assert.That(state.Check([Replace("m", "k", "\"a long final message, past the limit\""), Append("m", "k", "\"12345678\"")], [false, false]).Status,
            Is.EqualTo(PublishStatus.Accepted));
        Assert.That(Encoding.UTF8.GetString(state.Snapshot()[0].Data.Span), Is.EqualTo("\"abcd\""), "a check changes nothing");
    }

    [Test]
    public void Keys_past_the_limit_are_refused_and_existing_keys_go_on()
    {
        var state = new KeyedState(maxKeys: 2, maxAssembledBytes: 1024);
        state.Apply(Event(Append("m", "a", "\"1\""), 1));
        Assert.That(state.Check([Replace("m", "b", "1"), Replace("n", "b", "1")], [false, false]).Status, Is.EqualTo(PublishStatus.TooManyKeys));
        Assert.That(state.Check([Replace("m", "b", "1"), Append("m", "b", "\"2\""), Append("m", "a", "\"3\"")], [false, false, false]).Status, Is.EqualTo(PublishStatus.Accepted));
        state.Apply(Event(Replace("m", "b", "1"), 2));
        Assert.That(state.Check([Replace("n", "a", "1")], [false]).Status, Is.EqualTo(PublishStatus.TooManyKeys));
        Assert.That(state.Check([Append("m", "a", "\"more\""), Replace("m", "b", "2")], [false, false]).Status, Is.EqualTo(PublishStatus.Accepted));
        Assert.That(state.Count, Is.EqualTo(2));
    }

    [Test]
    public void What_entries_hold_is_counted_as_checked_grows_by_doubling_and_is_given_back_on_replacement()
    {
        var state = new KeyedState(maxKeys: 100, maxAssembledBytes: 1024 * 1024);
        long applied = 0;
        long checkedGrowth = 0;
        for (int i = 1; i <= 10_000; i++)
        {
            PublishRequest chunk = Append("answer", "a1", "\"x\"");
            checkedGrowth += state.Check([chunk], [false]).Growth;
            applied += state.Apply(Event(chunk, i));
        }

        Assert.That(state.Bytes, Is.EqualTo(applied));
        Assert.That(checkedGrowth, Is.GreaterThanOrEqualTo(applied), "the check reserves at least what the appends take");
        KeyedEntry text = state.Snapshot()[0];
        Assert.That((text.Data.Length, text.Chunks), Is.EqualTo((10_002, 10_000)));

        // A doubling buffer: at most twice the text, plus the entry's bookkeeping.
        Assert.That(state.Bytes, Is.InRange(10_002, (2 * 10_002) + 512));

        long change = state.Apply(Event(Replace("answer", "a1", "\"done\""), 10_001));
        Assert.That(change, Is.LessThan(-10_000));
        Assert.That(state.Bytes, Is.LessThan(512));
    }

    [Test]
    public void A_snapshot_keeps_its_text_while_appends_go_on()
    {
        var state = new KeyedState(100, 1024);
        state.Apply(Event(Append("m", "k", "\"ab\""), 1));
        KeyedEntry before = state.Snapshot()[0];
        state.Apply(Event(Append("m", "k", "\"cd\""), 2));
        Assert.That(Encoding.UTF8.GetString(before.Data.Span), Is.EqualTo("\"ab\""));
        Assert.That(Encoding.UTF8.GetString(state.Snapshot()[0].Data.Span), Is.EqualTo("\"abcd\""));
    }

    private static TestCaseData Row(string name, string[] events, params string[] expected) => new TestCaseData(events, expected).SetName(name);

    private static PublishRequest Parse(string row)
    {
        int space = row.IndexOf(' ', StringComparison.Ordinal);
        string[] slot = row[..space].Split('/');
        string data = row[(space + 1)..];
        bool append = data.StartsWith('+');
        return append ? Append(slot[0], slot[1], data[1..]) : Replace(slot[0], slot[1], data);
    }

    private static PublishRequest Append(string name, string key, string json) =>
        new(name, Encoding.UTF8.GetBytes(json), Traits: new EventTraits(key, Append: true));

    private static PublishRequest Replace(string name, string key, string json) =>
        new(name, Encoding.UTF8.GetBytes(json), Traits: new EventTraits(key));

    private static SessionEvent Event(PublishRequest request, long seq) =>
        new("s", request.Event, seq, Ts, request.Data, frame: [], request.Id, request.Final, from: request.From, traits: request.Traits);
}
