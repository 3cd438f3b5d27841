using System.Text;
using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>
/// Every message counts against <c>Limits:MessagesPerSecond</c> before it is decoded (spec
/// section 6): a flood of frames that are not JSON is limited like any other, rather than each
/// drawing its own <c>invalid_json</c> reply.
/// </summary>
[CancelAfter(60_000)]
public sealed class UndecodableRateTests
{
    private const int Burst = 100;

    [Test]
    public async Task Undecodable_frames_past_the_burst_draw_rate_limited_and_then_1008()
    {
        // The clock stands still: no token comes back during the flood, so the counts are exact.
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await StartAsync(clock);
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.WebSocketUri("undecodable"));
        Assert.That((await raw.ReceiveAsync())?.Text, Does.Contain("welcome"));

        await raw.SendRawAsync(Frames("{not json", 400));
        (ServerFrame? close, List<string> before) = await raw.ReceiveCloseAsync();
        Dictionary<string, int> codes = CountErrorCodes(before);

        // The burst's 100 are read and answered as bad input; the next 100 are refused unread; a
        // client that ignores a whole burst of refusals is closed for abuse.
        Assert.That(codes, Is.EquivalentTo(new Dictionary<string, int> { ["invalid_json"] = Burst, ["rate_limited"] = Burst }));
        Assert.That((close?.CloseCode, close?.CloseReason), Is.EqualTo((1008, "rate limit abused")));
    }

    [Test]
    public async Task A_limited_connection_stays_open_and_reads_again_once_tokens_are_back()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await StartAsync(clock);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("limited"));
        await using (client)
        {
            for (int i = 0; i < Burst + 10; i++)
            {
                await client.SendAsync("{not json");
            }

            var codes = new Dictionary<string, int>();
            for (int i = 0; i < Burst + 10; i++)
            {
                string code = (await client.ReceiveAsync("error")).GetProperty("code").GetString()!;
                codes[code] = codes.GetValueOrDefault(code) + 1;
            }

            Assert.That(codes, Is.EquivalentTo(new Dictionary<string, int> { ["invalid_json"] = Burst, ["rate_limited"] = 10 }));

            // 10 tokens of debt, repaid in 2 s at 5 a second; a third second brings 5 tokens.
            clock.Advance(TimeSpan.FromSeconds(3));
            await client.SendAsync("""{"type":"ping","id":"after"}""");
            Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("after"));
        }
    }

    private static Task<GatewayServer> StartAsync(ManualTimeProvider clock) => GatewayServer.StartAsync(
        new Dictionary<string, string?>
        {
            ["Gateway:Limits:MessagesPerSecond"] = "5",
            ["Gateway:Limits:MessageBurst"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        s => s.AddSingleton<TimeProvider>(clock));

    /// <summary><paramref name="count"/> masked text frames of <paramref name="text"/>, back to back in one write.</summary>
    private static byte[] Frames(string text, int count)
    {
        byte[] frame = WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(text), 0x7E11_A5C3u);
        return [.. Enumerable.Repeat(frame, count).SelectMany(f => f)];
    }

    private static Dictionary<string, int> CountErrorCodes(List<string> replies)
    {
        var codes = new Dictionary<string, int>();
        foreach (string reply in replies)
        {
            JsonElement root = JsonDocument.Parse(reply).RootElement;
            Assert.That(root.GetProperty("type").GetString(), Is.EqualTo("error"), reply);
            string code = root.GetProperty("code").GetString()!;
            codes[code] = codes.GetValueOrDefault(code) + 1;
        }

        return codes;
    }
}
