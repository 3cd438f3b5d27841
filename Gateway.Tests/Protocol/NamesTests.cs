using Gateway.Protocol;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class NamesTests
{
    private const string Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private const string Lower = "abcdefghijklmnopqrstuvwxyz";
    private const string Digits = "0123456789";

    private static IEnumerable<TestCaseData> NamesValidForBoth()
    {
        yield return new TestCaseData("a").SetArgDisplayNames("one letter");
        yield return new TestCaseData("Z").SetArgDisplayNames("one capital");
        yield return new TestCaseData("0").SetArgDisplayNames("one digit");
        yield return new TestCaseData(".").SetArgDisplayNames("dot");
        yield return new TestCaseData("_").SetArgDisplayNames("underscore");
        yield return new TestCaseData(":").SetArgDisplayNames("colon");
        yield return new TestCaseData("-").SetArgDisplayNames("hyphen");
        yield return new TestCaseData(Upper).SetArgDisplayNames("every capital");
        yield return new TestCaseData(Lower).SetArgDisplayNames("every small letter");
        yield return new TestCaseData(Digits + "._:-").SetArgDisplayNames("every digit and sign");
        yield return new TestCaseData("build_progress").SetArgDisplayNames("build_progress");
        yield return new TestCaseData("job:42.step-7").SetArgDisplayNames("job:42.step-7");
        yield return new TestCaseData(new string('x', 64)).SetArgDisplayNames("64 characters");
    }

    private static IEnumerable<TestCaseData> NamesInvalidForBoth()
    {
        yield return new TestCaseData(string.Empty).SetArgDisplayNames("empty");
        yield return new TestCaseData(new string('x', 129)).SetArgDisplayNames("129 characters");
        foreach (char c in " /\\*@[`{~;,!\"'#$%&()+=?<>|^\t\n\0\u007f")
        {
            yield return new TestCaseData($"a{c}b").SetArgDisplayNames($"with U+{(int)c:X4}");
            yield return new TestCaseData(c.ToString()).SetArgDisplayNames($"only U+{(int)c:X4}");
        }

        // Letters and digits outside ASCII, and lookalikes.
        foreach (string text in new[] { "é", "ß", "Ａ", "٣", "ⅰ", "а", "😀", "\u00a0", "\u200b" })
        {
            yield return new TestCaseData($"name{text}").SetArgDisplayNames($"with {string.Join(" ", text.Select(ch => $"U+{(int)ch:X4}"))}");
        }
    }

    [TestCaseSource(nameof(NamesValidForBoth))]
    public void Valid_as_session_and_event_name(string name)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Names.IsValidSessionName(name), Is.True);
            Assert.That(Names.IsValidEventName(name), Is.True);
        });
    }

    [TestCaseSource(nameof(NamesInvalidForBoth))]
    public void Invalid_as_session_and_event_name(string name)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Names.IsValidSessionName(name), Is.False);
            Assert.That(Names.IsValidEventName(name), Is.False);
        });
    }

    [TestCase(1, true, true)]
    [TestCase(63, true, true)]
    [TestCase(64, true, true)]
    [TestCase(65, true, false)]
    [TestCase(127, true, false)]
    [TestCase(128, true, false)]
    [TestCase(129, false, false)]
    [TestCase(1000, false, false)]
    public void Length_bounds(int length, bool validSession, bool validEvent)
    {
        // Cycle through every allowed character so each length also checks the alphabet.
        const string alphabet = Upper + Lower + Digits + "._:-";
        string name = string.Concat(Enumerable.Range(0, length).Select(i => alphabet[i % alphabet.Length]));
        Assert.Multiple(() =>
        {
            Assert.That(Names.IsValidSessionName(name), Is.EqualTo(validSession));
            Assert.That(Names.IsValidEventName(name), Is.EqualTo(validEvent));
        });
    }

    [Test]
    public void Exactly_the_documented_ascii_characters_are_allowed()
    {
        const string allowed = Upper + Lower + Digits + "._:-";
        Assert.Multiple(() =>
        {
            for (int c = 0; c < 0x180; c++)
            {
                bool expected = allowed.Contains((char)c, StringComparison.Ordinal);
                Assert.That(Names.IsValidEventName(((char)c).ToString()), Is.EqualTo(expected), $"U+{c:X4}");
                Assert.That(Names.IsValidSessionName(((char)c).ToString()), Is.EqualTo(expected), $"U+{c:X4}");
            }
        });
    }

    [Test]
    public void Constants_match_the_spec()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Names.MaxSessionNameLength, Is.EqualTo(128));
            Assert.That(Names.MaxEventNameLength, Is.EqualTo(64));
            Assert.That(Names.AllowedCharacters, Is.EqualTo("A-Z a-z 0-9 . _ : -"));
        });
    }
}
