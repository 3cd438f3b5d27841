using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// A node calls its hot scripts (publish, read) by digest: a Redis that has lost them (a restart
/// with nothing persisted, a replica that never ran them, <c>SCRIPT FLUSH</c>) must still take the
/// next publish and the next join, once each, as if nothing had happened.
/// </summary>
[CancelAfter(60_000)]
public sealed class RedisScriptCacheTests
{
    [Test]
    public async Task A_publish_and_a_join_after_Redis_dropped_its_scripts_run_once_each_and_deliver()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2);
        (TestClient watcher, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("flushed"));
        await using (watcher)
        {
            Assert.That(await cluster[1].PublishAsync("flushed", "step", "1"), Is.EqualTo(1));
            Assert.That((await watcher.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(1));

            Assert.That(await cluster.Redis.CommandAsync("SCRIPT", "FLUSH"), Is.EqualTo("OK"));

            // Once, not twice: the call by digest that Redis refused did not run.
            Assert.That(await cluster[1].PublishAsync("flushed", "step", "2"), Is.EqualTo(2));
            JsonElement second = await watcher.ReceiveAsync("event");
            Assert.That((second.GetProperty("seq").GetInt64(), second.GetProperty("data").GetInt32()), Is.EqualTo((2L, 2)));

            Assert.That(await cluster.Redis.CommandAsync("SCRIPT", "FLUSH"), Is.EqualTo("OK"));
            (TestClient joiner, JsonElement welcome) = await TestClient.JoinAsync(cluster[1].WebSocketUri("flushed"));
            await using (joiner)
            {
                Assert.That(welcome.GetProperty("seq").GetInt64(), Is.EqualTo(2));
                Assert.That(await cluster[0].PublishAsync("flushed", "step", "3"), Is.EqualTo(3));
                Assert.That((await joiner.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(3));
                Assert.That((await watcher.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(3));
            }
        }
    }
}
