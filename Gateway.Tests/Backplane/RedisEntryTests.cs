using System.Text;
using Gateway.Log.Redis;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Tests.Backplane;

/// <summary>The entry format the Redis scripts write, read back; and anything else, refused without throwing.</summary>
public sealed class RedisEntryTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_324_585_123);

    [Test]
    public void An_entry_becomes_the_event_frame_a_client_gets()
    {
        SessionEvent e = Decode("7\n1795324585000\n1\nbuild_done\n{\"ok\":true,\"note\":\"a\\nb\"}")!;
        Assert.That((e.Seq, e.Name, e.Final), Is.EqualTo((7L, "build_done", true)));
        Assert.That(e.Timestamp, Is.EqualTo(DateTimeOffset.FromUnixTimeMilliseconds(1_795_324_585_000)));
        Assert.That(Encoding.UTF8.GetString(e.Data.Span), Is.EqualTo("{\"ok\":true,\"note\":\"a\\nb\"}"));
        Assert.That(Encoding.UTF8.GetString(e.Json.Span), Is.EqualTo(
            "{\"type\":\"event\",\"session\":\"s\",\"event\":\"build_done\",\"seq\":7,\"ts\":\"2026-11-22T05:16:25.000Z\",\"data\":{\"ok\":true,\"note\":\"a\\nb\"}}"));
    }

    [Test]
    public void An_entry_a_client_published_carries_its_from_into_the_frame()
    {
        SessionEvent e = Decode("8\n1795324585000\n0f\nchat.message\n{\"connection\":\"c7f3\",\"user\":\"al\\nice\"}\n\"hi\"")!;
        Assert.That((e.Seq, e.Name, e.Final, e.From), Is.EqualTo((8L, "chat.message", false, new EventOrigin("c7f3", "al\nice"))));
        Assert.That(Encoding.UTF8.GetString(e.Data.Span), Is.EqualTo("\"hi\""));
        Assert.That(Encoding.UTF8.GetString(e.Json.Span), Is.EqualTo(
            "{\"type\":\"event\",\"session\":\"s\",\"event\":\"chat.message\",\"seq\":8,\"ts\":\"2026-11-22T05:16:25.000Z\",\"data\":\"hi\",\"from\":{\"connection\":\"c7f3\",\"user\":\"al\\nice\"}}"));
        Assert.That(Decode("9\n1795324585000\n1f\ne\n{\"connection\":\"c\",\"user\":null}\n1")!.From, Is.EqualTo(new EventOrigin("c", null)));
        Assert.That(Decode("7\n1795324585000\n0\ne\n1")!.From, Is.Null, "an entry from before from existed reads as it did");
    }

    [Test]
    public void An_entry_with_a_key_and_append_carries_them_into_the_frame()
    {
        SessionEvent e = Decode("9\n1795324585000\n0fka\nmessage_chunk\n{\"connection\":\"c\",\"user\":null}\nanswer-1\n\"Hel\"")!;
        Assert.That((e.Seq, e.Key, e.Traits.Append, e.Traits.Conflate, e.From), Is.EqualTo((9L, "answer-1", true, false, new EventOrigin("c", null))));
        Assert.That(Encoding.UTF8.GetString(e.Json.Span), Is.EqualTo(
            "{\"type\":\"event\",\"session\":\"s\",\"event\":\"message_chunk\",\"seq\":9,\"ts\":\"2026-11-22T05:16:25.000Z\",\"data\":\"Hel\",\"key\":\"answer-1\",\"append\":true,\"from\":{\"connection\":\"c\",\"user\":null}}"));
        SessionEvent conflatable = Decode("10\n1795324585000\n1kc\nprogress\ngpu:0\n{\"pct\":5}")!;
        Assert.That((conflatable.Key, conflatable.Traits.Conflate, conflatable.Final, conflatable.From), Is.EqualTo(("gpu:0", true, true, (EventOrigin?)null)));
        Assert.That(Decode("11\n1795324585000\n0c\np\n1")!.Traits, Is.EqualTo(new EventTraits(Conflate: true)));
    }

    [Test]
    public void The_flags_line_is_what_the_publish_script_writes()
    {
        Assert.That(RedisEntry.Flags(new("e", PublishRequest.NullData)), Is.EqualTo("0"));
        Assert.That(RedisEntry.Flags(new("e", PublishRequest.NullData, Final: true, From: new("c", null), Traits: new("k", Append: true))), Is.EqualTo("1fka"));
        Assert.That(RedisEntry.Flags(new("e", PublishRequest.NullData, Traits: new("k", Conflate: true))), Is.EqualTo("0kc"));
    }

    [Test]
    public void The_seq_is_read_without_decoding_the_rest()
    {
        Assert.That(RedisEntry.TryReadSeq("42\nanything"u8, out long seq), Is.True);
        Assert.That(seq, Is.EqualTo(42));
        Assert.That(RedisEntry.TryReadSeq("#deleted"u8, out _), Is.False);
        Assert.That(RedisEntry.TryReadSeq("0\n1\n0\ne\n1"u8, out _), Is.False);
        Assert.That(RedisEntry.TryReadSeq("\n"u8, out _), Is.False);
    }

    [TestCase("", TestName = "empty")]
    [TestCase("7", TestName = "seq only")]
    [TestCase("7\n1795324585000\n0\nname", TestName = "truncated before data")]
    [TestCase("7\n1795324585000\n0\nname\n", TestName = "no data")]
    [TestCase("x7\n1795324585000\n0\nname\n1", TestName = "seq not a number")]
    [TestCase("7\n-5\n0\nname\n1", TestName = "negative time")]
    [TestCase("7\n99999999999999999999\n0\nname\n1", TestName = "time out of range")]
    [TestCase("7\n1795324585000\n01\nname\n1", TestName = "final flag too long")]
    [TestCase("7\n1795324585000\n0\nbad name\n1", TestName = "event name outside the alphabet")]
    [TestCase("7\n1795324585000\n2\nname\n1", TestName = "final flag neither 0 nor 1")]
    [TestCase("7\n1795324585000\n0f\nname\n{\"connection\":\"c\"}", TestName = "from without data")]
    [TestCase("7\n1795324585000\n0f\nname\nnot json\n1", TestName = "from not JSON")]
    [TestCase("7\n1795324585000\n0f\nname\n{\"user\":\"u\"}\n1", TestName = "from without a connection")]
    [TestCase("7\n1795324585000\n0x\nname\n{\"connection\":\"c\"}\n1", TestName = "unknown flag")]
    [TestCase("7\n1795324585000\n0\n\n1", TestName = "empty event name")]
    [TestCase("7\n1795324585000\n0k\nname\n1", TestName = "key flag without a key line")]
    [TestCase("7\n1795324585000\n0k\nname\nbad key\n1", TestName = "key outside the alphabet")]
    [TestCase("7\n1795324585000\n0ak\nname\nk\n\"x\"", TestName = "flags out of order")]
    [TestCase("7\n1795324585000\n0kk\nname\nk\nk\n1", TestName = "flag twice")]
    public void Anything_else_is_refused(string entry) =>
        Assert.That(Decode(entry), Is.Null);

    [Test]
    public void Random_bytes_never_throw()
    {
        var random = new Random(11);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (i % 2 == 0 && bytes.Length > 8)
            {
                // Half the cases look like an entry up to a point.
                "1\n2\n0\ne\n"u8.CopyTo(bytes);
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            Assert.DoesNotThrow(() => RedisEntry.TryDecode("s", bytes, 0, Now, TimeProvider.System));
            Assert.DoesNotThrow(() => RedisEntry.TryReadSeq(bytes, out _));
        }
    }

    [Test]
    public void An_entry_after_a_prefix_is_read_from_its_offset()
    {
        byte[] message = Encoding.UTF8.GetBytes("session-x\n3\n1795324585000\n0\ntick\n[1,2]");
        SessionEvent e = RedisEntry.TryDecode("session-x", message, "session-x\n".Length, Now, TimeProvider.System)!;
        Assert.That((e.Seq, e.Name, Encoding.UTF8.GetString(e.Data.Span)), Is.EqualTo((3L, "tick", "[1,2]")));
    }

    private static SessionEvent? Decode(string entry) =>
        RedisEntry.TryDecode("s", Encoding.UTF8.GetBytes(entry), 0, Now, TimeProvider.System);
}
