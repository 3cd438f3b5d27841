using System.Text;
using Gateway.Log.Redis;

namespace Gateway.Tests.Backplane;

/// <summary>
/// The cluster's key hashing, computed by the gateway for its per-slot channels
/// (<c>Gateway:Backplane:Channels</c> = <c>slot</c>), against what a Redis Cluster answers to
/// <c>CLUSTER KEYSLOT</c> (redis-server 7.0, taken once and written down here).
/// </summary>
public sealed class RedisSlotsTests
{
    [TestCase("foo", 12182)]
    [TestCase("bar", 5061)]
    [TestCase("hello", 866)]
    [TestCase("a", 15495)]
    [TestCase("123456789", 12739)]
    [TestCase("{user1000}.following", 3443)]
    [TestCase("foo{}{bar}", 8363)]
    [TestCase("foo{{bar}}zap", 4015)]
    [TestCase("{}", 15257)]
    [TestCase("gateway:{room-42}:meta", 14655)]
    [TestCase("t1:{Ab9}:slot", 8367)]
    public void A_key_has_the_slot_the_cluster_gives_it(string key, int slot) =>
        Assert.That(RedisSlots.Of(key), Is.EqualTo(slot));

    [Test]
    public void The_hash_is_CRC16_XMODEM() =>
        Assert.That(RedisSlots.Crc16(Encoding.ASCII.GetBytes("123456789")), Is.EqualTo(0x31C3));

    [Test]
    public void Every_slot_has_a_short_tag_of_its_own_slot()
    {
        var tags = new HashSet<string>(StringComparer.Ordinal);
        for (int slot = 0; slot < RedisSlots.Count; slot++)
        {
            string tag = RedisSlots.TagOf(slot);
            Assert.That(tag, Has.Length.InRange(1, 3).And.Match("^[0-9A-Za-z]+$"));
            Assert.That(RedisSlots.Of("{" + tag + "}"), Is.EqualTo(slot), tag);
            tags.Add(tag);
        }

        Assert.That(tags, Has.Count.EqualTo(RedisSlots.Count));
    }

    [Test]
    public void A_sessions_channel_is_in_the_slot_of_its_keys_in_either_mode()
    {
        foreach (string session in new[] { "room-42", "build.7", "a", "job:x_y" })
        {
            string meta = (string)new RedisKeys("gateway:").Meta(session)!;
            Assert.That(RedisSlots.Of(new RedisKeys("gateway:").Channel(session)), Is.EqualTo(RedisSlots.Of(meta)));
            Assert.That(RedisSlots.Of(new RedisKeys("gateway:", perSlot: true).Channel(session)), Is.EqualTo(RedisSlots.Of(meta)));
        }

        // Sessions of one slot share its channel; the names are those of the mode.
        Assert.That(new RedisKeys("gateway:").Channel("room-42"), Is.EqualTo("gateway:{room-42}:events"));
        Assert.That(new RedisKeys("gateway:", perSlot: true).Channel("room-42"), Is.EqualTo("gateway:{" + RedisSlots.TagOf(14655) + "}:slot"));
    }
}
