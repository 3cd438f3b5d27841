using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Log;
using Gateway.Sessions;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>
/// Session profiles (spec section 20) on the real gateway: a session takes the first profile that
/// matches its name, beside sessions that keep the global settings. The examples of docs/profiles.md
/// are started exactly as written there.
/// </summary>
[CancelAfter(60_000)]
public sealed partial class ProfileTests
{
    [Test]
    public async Task A_build_session_keeps_5000_events_beside_a_default_one_keeping_1000_in_memory()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Example("A build log"));
        await AssertHistoryAsync(server);
    }

    [Test]
    public async Task A_build_session_keeps_5000_events_beside_a_default_one_keeping_1000_in_redis()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, settings: Example("A build log"));

        // Published through one node, replayed through the other: the bound is Redis's own.
        await AssertHistoryAsync(cluster[0], cluster[1]);
    }

    [Test]
    public async Task History_MaxBytes_weighs_names_and_data_alike_in_memory()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(BytesProfile());
        await AssertBytesBoundAsync(server, server);
    }

    [Test]
    public async Task History_MaxBytes_weighs_names_and_data_alike_in_redis()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 1, settings: BytesProfile());
        await AssertBytesBoundAsync(cluster[0], cluster[0]);
    }

    [Test]
    public async Task A_profile_idle_timeout_expires_its_session_while_another_stays()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(Example("A chat room"), s => s.AddSingleton<TimeProvider>(clock));
        await server.PublishAsync("chat-lunch", "message", "\"hi\"");
        await server.PublishAsync("build-1", "line", "\"compiling\"");

        // The chat profile's 15 minutes, not the global hour.
        clock.Advance(TimeSpan.FromMinutes(16));
        server.Get<MemoryLog>().ExpireSessions();

        Assert.That(await StatusAsync(server, "chat-lunch"), Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await StatusAsync(server, "build-1"), Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_chat_profile_lets_clients_publish_message_there_and_nowhere_else()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Example("A chat room"));
        (TestClient chat, _) = await TestClient.JoinAsync(server.WebSocketUri("chat-lunch"));
        (TestClient build, _) = await TestClient.JoinAsync(server.WebSocketUri("build-1"));
        await using (chat)
        await using (build)
        {
            await chat.SendAsync("""{"type":"publish","id":"m","event":"message","data":"hi"}""");
            Assert.That((await SkipToAsync(chat, "ack")).GetProperty("id").GetString(), Is.EqualTo("m"));

            await build.SendAsync("""{"type":"publish","id":"m","event":"message","data":"hi"}""");
            JsonElement error = await build.ReceiveAsync("error");
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("forbidden"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("Gateway:Security:ClientPublishEvents allows reaction"));

            // What the global list allows stays allowed outside the profile.
            await build.SendAsync("""{"type":"publish","id":"r","event":"reaction","data":"+1"}""");
            Assert.That((await SkipToAsync(build, "ack")).GetProperty("id").GetString(), Is.EqualTo("r"));
        }
    }

    [Test]
    public async Task A_profile_with_presence_off_keeps_none_and_says_which_profile()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Example("A training run"));
        (TestClient run, _) = await TestClient.JoinAsync(server.WebSocketUri("train-7", "presence=true"));
        (TestClient other, _) = await TestClient.JoinAsync(server.WebSocketUri("lobby", "presence=true"));
        await using (run)
        await using (other)
        {
            await run.SendAsync("""{"type":"presence","id":"p"}""");
            JsonElement error = await run.ReceiveAsync("error");
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("forbidden"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("Gateway:Sessions:Profiles:0:Presence is false"));

            using HttpResponseMessage off = await server.Http.GetAsync("/api/sessions/train-7/presence");
            Assert.That(off.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(await off.Content.ReadAsStringAsync(), Does.Contain("Gateway:Sessions:Profiles:0:Presence is false"));

            // A session no profile matches keeps the global presence.
            await other.SendAsync("""{"type":"presence","id":"p"}""");
            Assert.That((await other.ReceiveAsync("presence")).GetProperty("clients").GetInt32(), Is.EqualTo(1));
        }
    }

    [Test]
    public async Task The_training_example_resolves_its_conflated_names_for_its_sessions_only()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Example("A training run"));
        SessionProfiles profiles = server.Get<SessionProfiles>();

        Assert.That(profiles.For("train-7").Conflates("step_update"), Is.True);
        Assert.That(profiles.For("train-7").Conflates("checkpoint"), Is.False);
        Assert.That(profiles.For("build-1").Conflates("step_update"), Is.False);
    }

    [Test]
    public async Task A_profile_lag_bound_makes_a_stalled_reader_of_its_session_a_slow_consumer()
    {
        // 256 KiB of lag for stall-* only; the global bound stays 16 MiB.
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxPublishBytes"] = "131072",
            ["Gateway:Limits:CloseTimeout"] = "00:00:30",
            ["Gateway:Sessions:Profiles:0:Match"] = "stall-*",
            ["Gateway:Sessions:Profiles:0:MaxLagBytes"] = "262144",
        });
        await using RawWebSocket tight = await RawWebSocket.ConnectAsync(server.WebSocketUri("stall-1"), receiveBufferSize: 4096);
        await using RawWebSocket loose = await RawWebSocket.ConnectAsync(server.WebSocketUri("calm-1"), receiveBufferSize: 4096);
        Assert.That((await tight.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));
        Assert.That((await loose.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));

        // Neither reads; both sessions get the same events.
        string data = JsonSerializer.Serialize(new string('b', 16 * 1024));
        long seq = 0;
        while (await ClientsAsync(server, "stall-1") == 1)
        {
            seq = await server.PublishAsync("stall-1", "chunk", data);
            await server.PublishAsync("calm-1", "chunk", data);

            // 256 KiB of lag plus the sockets' buffers: about 30 events, far below the global 16 MiB.
            Assert.That(seq, Is.LessThan(64), "the stalled client of stall-1 was still held after 1 MiB of events");
        }

        Assert.That(await ClientsAsync(server, "calm-1"), Is.EqualTo(1), "the same lag in a session without the profile is within the global bound");
        (ServerFrame? close, _) = await tight.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(4001));
        Assert.That(close?.CloseReason, Is.EqualTo("slow consumer: more than 262144 bytes behind"));
    }

    private static async Task<int> ClientsAsync(GatewayServer server, string session)
    {
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/{session}");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("clients").GetInt32();
    }

    /// <summary>6000 events in build-1 and in other-1: a replay from the start gives 5000 and 1000.</summary>
    private static async Task AssertHistoryAsync(GatewayServer publisher, GatewayServer? reader = null)
    {
        reader ??= publisher;
        await ResumeTests.PublishBatchesAsync(publisher, "build-1", batches: 6, size: 1000);
        await ResumeTests.PublishBatchesAsync(publisher, "other-1", batches: 6, size: 1000);

        Assert.That(await ReplayedAsync(reader, "build-1"), Is.EqualTo(5000));
        Assert.That(await ReplayedAsync(reader, "other-1"), Is.EqualTo(1000));
    }

    private static Dictionary<string, string?> BytesProfile() => new()
    {
        ["Gateway:Sessions:Profiles:0:Match"] = "bytes-*",
        ["Gateway:Sessions:Profiles:0:History:MaxBytes"] = "1024",
    };

    /// <summary>
    /// 100 events named <c>e</c> with 100 bytes of data: each weighs 101, so 1024 bytes hold 10.
    /// A session outside the profile holds all 100.
    /// </summary>
    private static async Task AssertBytesBoundAsync(GatewayServer publisher, GatewayServer reader)
    {
        string data = "\"" + new string('x', 98) + "\"";
        string body = "[" + string.Join(",", Enumerable.Repeat($$"""{"event":"e","data":{{data}}}""", 100)) + "]";
        foreach (string session in new[] { "bytes-1", "plain-1" })
        {
            using HttpResponseMessage response = await publisher.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.That((int)response.StatusCode, Is.EqualTo(202));
        }

        Assert.That(await ReplayedAsync(reader, "bytes-1"), Is.EqualTo(10));
        Assert.That(await ReplayedAsync(reader, "plain-1"), Is.EqualTo(100));

        // One event heavier than the bound on its own: it stays, alone.
        string big = "\"" + new string('y', 2000) + "\"";
        await publisher.PublishAsync("bytes-1", "big", big);
        Assert.That(await ReplayedAsync(reader, "bytes-1"), Is.EqualTo(1));
    }

    /// <summary>How many events a client resuming from the start is replayed.</summary>
    private static async Task<int> ReplayedAsync(GatewayServer server, string session)
    {
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri(session));
        await using (client)
        {
            await client.SendAsync("""{"type":"resume","id":"r","since":0}""");
            return (await SkipToAsync(client, "resumed")).GetProperty("replayed").GetInt32();
        }
    }

    /// <summary>The next message of <paramref name="type"/>, past the events (a replay, a client's own publish) before it.</summary>
    private static async Task<JsonElement> SkipToAsync(TestClient client, string type)
    {
        while (true)
        {
            JsonElement message = await client.ReceiveAsync();
            if (message.GetProperty("type").GetString() == type)
            {
                return message;
            }
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(GatewayServer server, string session)
    {
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/{session}");
        return response.StatusCode;
    }

    /// <summary>The settings of the docs/profiles.md example under the heading that starts with <paramref name="heading"/>, as configuration keys.</summary>
    private static Dictionary<string, string?> Example(string heading)
    {
        string docs = File.ReadAllText(Path.Combine(Tools.RepositoryRoot, "docs", "profiles.md"));
        Match match = ExampleBlock().Matches(docs).Single(m => m.Groups["heading"].Value.StartsWith(heading, StringComparison.Ordinal));
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(match.Groups["json"].Value)))
            .Build();
        return configuration.AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    [GeneratedRegex(@"^## (?<heading>[^\n]+)\n(?:(?!^## ).)*?^```json\n(?<json>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex ExampleBlock();
}
