using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// A build log of 50 MB piped through one request (spec section 18): every line reaches a watcher,
/// in order, as its own event, while the body is still being sent.
/// </summary>
public sealed class IngestLargeTests
{
    private const int LineBytes = 1000;
    private const int Lines = 50 * 1000 * 1000 / LineBytes;

    [Test]
    [CancelAfter(600_000)]
    public async Task A_50_MB_log_piped_through_one_request_reaches_a_watcher_line_by_line_in_order()
    {
        // The watcher reads as fast as it can; on a loaded machine it may still fall some way
        // behind the producer. This test is about ingest, so the lag bounds are out of its way.
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxLagBytes"] = (1L << 30).ToString(CultureInfo.InvariantCulture),
            ["Gateway:Limits:MaxLagTime"] = "01:00:00",
            ["Gateway:Limits:IngestIdleTimeout"] = "00:05:00",
        });
        await using RawWebSocket watcher = await RawWebSocket.ConnectAsync(server.WebSocketUri("build-log"), receiveBufferSize: 1 << 20);
        Assert.That((await watcher.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));

        var content = new GeneratedLog();
        Task<HttpResponseMessage> sending = server.Http.PutAsync("/api/sessions/build-log/events?event=terminal_output", content, RawWebSocket.Deadline);

        int received = 0;
        bool sawBeforeEnd = false;
        while (received < Lines)
        {
            ServerFrame frame = (await watcher.ReceiveAsync()) ?? throw new AssertionException($"the watcher was dropped after {received} lines");
            Assert.That(frame.Kind, Is.EqualTo(WebSocketReadStatus.Text), $"closed with {frame.CloseCode} {frame.CloseReason} after {received} lines");
            using JsonDocument message = JsonDocument.Parse(frame.Text);
            JsonElement data = message.RootElement.GetProperty("data");
            int n = data.GetProperty("n").GetInt32();
            if (n != received + 1 || data.GetProperty("line").GetString() != GeneratedLog.Line(n))
            {
                Assert.Fail($"line {received + 1} expected, got line {n}: {Truncate(frame.Text)}");
            }

            Assert.That(message.RootElement.GetProperty("seq").GetInt64(), Is.EqualTo(n));
            received++;
            sawBeforeEnd |= !content.Finished;
        }

        using HttpResponseMessage response = await sending;
        string text = await response.Content.ReadAsStringAsync(RawWebSocket.Deadline);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), text);
        using JsonDocument answer = JsonDocument.Parse(text);
        Assert.That(answer.RootElement.GetProperty("count").GetInt32(), Is.EqualTo(Lines));
        Assert.That(answer.RootElement.GetProperty("last").GetInt64(), Is.EqualTo(Lines));
        Assert.That(answer.RootElement.GetProperty("errorCount").GetInt32(), Is.Zero);
        Assert.That(content.BytesWritten, Is.EqualTo((long)Lines * LineBytes));
        Assert.That(sawBeforeEnd, Is.True, "lines reached the watcher while the body was still being sent");
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";

    /// <summary>A log of <see cref="Lines"/> lines of <see cref="LineBytes"/> bytes each (newline included), written as it is sent.</summary>
    private sealed class GeneratedLog : HttpContent
    {
        private volatile bool _finished;

        public GeneratedLog() => Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };

        public bool Finished => _finished;

        public long BytesWritten { get; private set; }

        /// <summary>Line <paramref name="n"/> (from 1) without its newline: a number, then text that varies with it.</summary>
        public static string Line(int n)
        {
            string head = string.Create(CultureInfo.InvariantCulture, $"[{n:D8}] compiling module {n % 97} of the build: ");
            var line = new StringBuilder(head, LineBytes - 1);
            while (line.Length < LineBytes - 1)
            {
                line.Append((char)('a' + ((n + line.Length) % 26)));
            }

            return line.ToString();
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            // 64 lines to a write: the body arrives in pieces that split lines anywhere.
            var chunk = new byte[64 * LineBytes];
            int used = 0;
            for (int n = 1; n <= Lines; n++)
            {
                used += Encoding.ASCII.GetBytes(Line(n), chunk.AsSpan(used));
                chunk[used++] = (byte)'\n';
                if (used == chunk.Length || n == Lines)
                {
                    // An odd split, so that line boundaries fall inside writes.
                    int first = used / 3;
                    await stream.WriteAsync(chunk.AsMemory(0, first), RawWebSocket.Deadline);
                    await stream.WriteAsync(chunk.AsMemory(first, used - first), RawWebSocket.Deadline);
                    BytesWritten += used;
                    used = 0;
                }
            }

            _finished = true;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
