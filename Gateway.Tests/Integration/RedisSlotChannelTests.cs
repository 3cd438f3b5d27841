using System.Text.Json;
using Gateway.Log.Redis;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// <c>Gateway:Backplane:Channels</c> = <c>slot</c>: the sessions of one hash slot share one
/// channel, which a node subscribes to once whatever number of them it has members of; a node
/// drops what the channel brings of the sessions it has no member of.
/// </summary>
[CancelAfter(60_000)]
public sealed class RedisSlotChannelTests
{
    [Test]
    public async Task Two_sessions_of_one_slot_share_one_channel_and_each_client_gets_only_its_sessions_events()
    {
        await using RedisNodes nodes = await RedisNodes.StartAsync(nodes: 2, channels: "slot");
        (string a, string b) = SessionsOfOneSlot();
        string channel = nodes.KeyPrefix + "{" + RedisSlots.TagOf(RedisSlots.Of(a)) + "}:slot";

        // Node 0 has members of both sessions, node 1 of b only (it drops a's events).
        await using TestClient onlyA = (await TestClient.JoinAsync(nodes[0].WebSocketUri(a))).Client;
        await using TestClient alsoB = (await TestClient.JoinAsync(nodes[0].WebSocketUri(b))).Client;
        await using TestClient onlyB = (await TestClient.JoinAsync(nodes[1].WebSocketUri(b))).Client;

        // One channel for both sessions, subscribed once by each node.
        Assert.That(await nodes.Redis.CommandAsync("PUBSUB", "SHARDCHANNELS"), Is.EqualTo(channel));
        Assert.That(await nodes.Redis.CommandAsync("PUBSUB", "SHARDNUMSUB", channel), Is.EqualTo(channel + "\n2"));

        // b's event reaches node 0's channel too, where a's client must not see it.
        Assert.That(await nodes[0].PublishAsync(b, "for-b", "1"), Is.EqualTo(1));
        Assert.That(await nodes[1].PublishAsync(a, "for-a", "2"), Is.EqualTo(1));
        Assert.That(await nodes[1].PublishAsync(a, "for-a", "3"), Is.EqualTo(2));

        foreach (TestClient client in new[] { alsoB, onlyB })
        {
            JsonElement e = await client.ReceiveAsync("event");
            Assert.That((e.GetProperty("session").GetString(), e.GetProperty("event").GetString(), e.GetProperty("seq").GetInt64()), Is.EqualTo((b, "for-b", 1L)));
        }

        for (int seq = 1; seq <= 2; seq++)
        {
            JsonElement e = await onlyA.ReceiveAsync("event");
            Assert.That((e.GetProperty("session").GetString(), e.GetProperty("event").GetString(), e.GetProperty("seq").GetInt64()), Is.EqualTo((a, "for-a", (long)seq)));
        }
    }

    /// <summary>Two session names whose keys hash to one slot (a name cannot carry a hash tag of its own).</summary>
    private static (string A, string B) SessionsOfOneSlot()
    {
        var seen = new Dictionary<int, string>();
        for (int i = 0; ; i++)
        {
            string name = "s" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (seen.TryGetValue(RedisSlots.Of(name), out string? first))
            {
                return (first, name);
            }

            seen[RedisSlots.Of(name)] = name;
        }
    }
}
