using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Streaming ingest (spec section 18): a body published line by line as it arrives.</summary>
[CancelAfter(30_000)]
public sealed class IngestTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:Limits:MaxMessageBytes"] = "256",
        // Far above any pause of the tests' producers on a loaded machine; the stall test has its own.
        ["Gateway:Limits:IngestIdleTimeout"] = "00:00:20",
    });

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    [Test]
    public async Task Ndjson_lines_reach_a_watcher_while_the_body_is_still_open()
    {
        (TestClient watcher, _) = await TestClient.JoinAsync(_server.WebSocketUri("ingest-live"));
        await using (watcher)
        {
            var body = new StreamedContent("application/x-ndjson");
            Task<HttpResponseMessage> sending = _server.Http.PostAsync("/api/sessions/ingest-live/events", body, TestClient.Deadline);
            for (int i = 1; i <= 3; i++)
            {
                await body.WriteAsync("{\"event\":\"step\",\"data\":{\"i\":" + i + "}}\n");
                JsonElement message = await watcher.ReceiveAsync("event");
                Assert.That(message.GetProperty("data").GetProperty("i").GetInt32(), Is.EqualTo(i));
                Assert.That(sending.IsCompleted, Is.False, "the line came before the body ended");
            }

            body.Complete();
            JsonElement answer = await AnswerAsync(sending);
            Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(3));
            Assert.That(answer.GetProperty("first").GetInt64(), Is.EqualTo(1));
            Assert.That(answer.GetProperty("last").GetInt64(), Is.EqualTo(3));
            Assert.That(answer.GetProperty("errors").GetArrayLength(), Is.Zero);
            Assert.That(answer.GetProperty("errorCount").GetInt32(), Is.Zero);
        }
    }

    [Test]
    public async Task A_text_body_by_put_becomes_one_event_a_line_with_the_text_escaped()
    {
        string[] lines = ["plain", "say \"hi\" to C:\\temp\\x", "ünïcødé ✓ 🚀 \t tab", "", "last without newline"];
        (TestClient watcher, _) = await TestClient.JoinAsync(_server.WebSocketUri("ingest-text"));
        await using (watcher)
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join("\r\n", lines)));
            content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
            JsonElement answer = await AnswerAsync(_server.Http.PutAsync("/api/sessions/ingest-text/events?event=terminal_output", content, TestClient.Deadline));
            Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(lines.Length));

            for (int i = 0; i < lines.Length; i++)
            {
                JsonElement message = await watcher.ReceiveAsync("event");
                Assert.That(message.GetProperty("event").GetString(), Is.EqualTo("terminal_output"));
                Assert.That(message.GetProperty("data").GetProperty("line").GetString(), Is.EqualTo(lines[i]));
                Assert.That(message.GetProperty("data").GetProperty("n").GetInt32(), Is.EqualTo(i + 1));
            }
        }
    }

    [Test]
    public async Task Bad_lines_are_reported_with_their_numbers_and_the_rest_published()
    {
        byte[] body = Concat(
            """{"event":"ok","data":1}""" + "\n",
            "not json\n",
            """{"data":2}""" + "\n",
            """{"event":"ok","from":{"sub":"x"}}""" + "\n",
            "{\"event\":\"ok\",\"data\":\"" + new string('x', 300) + "\"}\n",
            "{\"event\":\"ok\",\"data\":\"",
            new byte[] { 0xC3, 0x28 },
            "\"}\n",
            """[{"event":"ok"}]""" + "\n",
            """{"event":"ok","data":8}""");
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        JsonElement answer = await AnswerAsync(_server.Http.PostAsync("/api/sessions/ingest-bad/events", content, TestClient.Deadline));

        Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(2));
        int[] badLines = answer.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt32()).ToArray();
        Assert.That(badLines, Is.EqualTo(new[] { 2, 3, 4, 5, 6, 7 }), answer.GetRawText());
        Assert.That(answer.GetProperty("errorCount").GetInt32(), Is.EqualTo(6));
        string[] messages = answer.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()!).ToArray();
        Assert.That(messages[3], Does.Contain("256 bytes"));
        Assert.That(messages[4], Does.Contain("UTF-8"));

        using JsonDocument page = JsonDocument.Parse(await _server.Http.GetStringAsync("/api/sessions/ingest-bad/events?since=0", TestClient.Deadline));
        Assert.That(page.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("data").GetInt32()), Is.EqualTo(new[] { 1, 8 }));
    }

    [Test]
    public async Task A_producer_that_stalls_gets_what_it_published_and_a_timeout_error()
    {
        // A raw socket: the producer keeps its body open, and reads the answer the gateway gives
        // it anyway (an HTTP client library would wait for the body it is sending to end).
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:IngestIdleTimeout"] = "00:00:01",
        });
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        System.Net.Sockets.NetworkStream stream = socket.GetStream();
        string lines = """{"event":"a"}""" + "\n" + """{"event":"b"}""" + "\n" + """{"event":"c","da""";
        string request = "POST /api/sessions/ingest-stall/events HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-ndjson\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + Encoding.UTF8.GetByteCount(lines).ToString("x") + "\r\n" + lines + "\r\n";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request), TestClient.Deadline);

        using var reader = new StreamReader(stream, Encoding.UTF8);
        string status = (await reader.ReadLineAsync(TestClient.Deadline))!;
        Assert.That(status, Does.StartWith("HTTP/1.1 202"));
        long? length = null;
        for (string? header; (header = await reader.ReadLineAsync(TestClient.Deadline)) is { Length: > 0 };)
        {
            if (header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = long.Parse(header["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        // Without a length the answer is chunked; it is ASCII, so its first chunk's size counts characters.
        length ??= Convert.ToInt64((await reader.ReadLineAsync(TestClient.Deadline))!, 16);

        char[] text = new char[length.Value];
        await reader.ReadBlockAsync(text, TestClient.Deadline);
        JsonElement answer = JsonDocument.Parse(new string(text)).RootElement;
        Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(2));
        JsonElement error = answer.GetProperty("errors")[0];
        Assert.That(error.GetProperty("line").GetInt32(), Is.EqualTo(3));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("IngestIdleTimeout"));
        using JsonDocument page = JsonDocument.Parse(await server.Http.GetStringAsync("/api/sessions/ingest-stall/events?since=0", TestClient.Deadline));
        Assert.That(page.RootElement.GetProperty("events").GetArrayLength(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_final_line_ends_the_ingest_and_later_lines_are_errors()
    {
        var content = new StringContent("""{"event":"a"}""" + "\n" + """{"event":"done","final":true}""" + "\n" + """{"event":"late"}""" + "\n");
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        JsonElement answer = await AnswerAsync(_server.Http.PostAsync("/api/sessions/ingest-final/events", content, TestClient.Deadline));
        Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(2));
        Assert.That(answer.GetProperty("errors")[0].GetProperty("line").GetInt32(), Is.EqualTo(3));
        Assert.That(answer.GetProperty("errors")[0].GetProperty("message").GetString(), Does.Contain("complete"));
    }

    [Test]
    public async Task The_json_publish_is_unchanged_even_as_text_plain_and_put_takes_only_a_stream()
    {
        Assert.That(await _server.PublishAsync("ingest-json", "a", "1"), Is.EqualTo(1));

        // HTTP clients label a string body text/plain by default: a POST of JSON so labelled is still a publish.
        using HttpResponseMessage post = await _server.Http.PostAsync("/api/sessions/ingest-json/events", new StringContent("""{"event":"b"}"""), TestClient.Deadline);
        Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await post.Content.ReadAsStringAsync(TestClient.Deadline), Does.Contain("\"seq\":2"));

        using HttpResponseMessage put = await _server.Http.PutAsync("/api/sessions/ingest-json/events",
            new StringContent("""{"event":"a"}""", Encoding.UTF8, "application/json"), TestClient.Deadline);
        Assert.That(put.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That(await put.Content.ReadAsStringAsync(TestClient.Deadline), Does.Contain("application/x-ndjson"));
    }

    [Test]
    public async Task With_auth_on_an_ingest_needs_a_publish_key()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings());
        var content = new StringContent("one\n");
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        using HttpResponseMessage anonymous = await server.Http.PutAsync("/api/sessions/ingest-auth/events", content, TestClient.Deadline);
        Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));

        using var keyed = new HttpRequestMessage(HttpMethod.Put, "/api/sessions/ingest-auth/events") { Content = new StringContent("one\n") };
        keyed.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        keyed.Headers.Add("X-Api-Key", TestTokens.ApiKey);
        JsonElement answer = await AnswerAsync(server.Http.SendAsync(keyed, TestClient.Deadline));
        Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Curl_pipes_a_process_in_line_by_line()
    {
        Assume.That(File.Exists("/usr/bin/curl"), "curl is not installed");
        (TestClient watcher, _) = await TestClient.JoinAsync(_server.WebSocketUri("ingest-curl"));
        await using (watcher)
        {
            var start = new ProcessStartInfo("/usr/bin/curl")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string argument in new[] { "-sS", "-T", "-", "-H", "Content-Type: text/plain", new Uri(_server.BaseAddress, "/api/sessions/ingest-curl/events?event=terminal_output").ToString() })
            {
                start.ArgumentList.Add(argument);
            }

            using Process curl = Process.Start(start)!;
            try
            {
                await curl.StandardInput.WriteAsync("first \"line\"\n");
                await curl.StandardInput.FlushAsync(TestClient.Deadline);
                JsonElement first = await watcher.ReceiveAsync("event");
                Assert.That(first.GetProperty("data").GetProperty("line").GetString(), Is.EqualTo("first \"line\""));
                Assert.That(curl.HasExited, Is.False, "the line came while curl still read its input");

                await curl.StandardInput.WriteAsync("second\n");
                curl.StandardInput.Close();
                string output = await curl.StandardOutput.ReadToEndAsync(TestClient.Deadline);
                await curl.WaitForExitAsync(TestClient.Deadline);
                Assert.That(curl.ExitCode, Is.Zero, await curl.StandardError.ReadToEndAsync(TestClient.Deadline));
                using JsonDocument answer = JsonDocument.Parse(output);
                Assert.That(answer.RootElement.GetProperty("count").GetInt32(), Is.EqualTo(2), output);
                JsonElement second = await watcher.ReceiveAsync("event");
                Assert.That(second.GetProperty("data").GetProperty("n").GetInt32(), Is.EqualTo(2));
            }
            finally
            {
                if (!curl.HasExited)
                {
                    curl.Kill();
                }
            }
        }
    }

    internal static async Task<JsonElement> AnswerAsync(Task<HttpResponseMessage> sending)
    {
        using HttpResponseMessage response = await sending;
        string text = await response.Content.ReadAsStringAsync(TestClient.Deadline);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static byte[] Concat(params object[] parts) =>
        parts.SelectMany(p => p is byte[] bytes ? bytes : Encoding.UTF8.GetBytes((string)p)).ToArray();

    /// <summary>A request body the test writes while it is being sent, each write flushed to the socket.</summary>
    internal sealed class StreamedContent : HttpContent
    {
        private readonly Pipe _pipe = new();

        public StreamedContent(string contentType) => Headers.ContentType = new MediaTypeHeaderValue(contentType);

        public async Task WriteAsync(string text) => await _pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(text), TestClient.Deadline);

        public void Complete() => _pipe.Writer.Complete();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            while (true)
            {
                ReadResult read = await _pipe.Reader.ReadAsync(TestClient.Deadline);
                foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                {
                    await stream.WriteAsync(segment, TestClient.Deadline);
                }

                await stream.FlushAsync(TestClient.Deadline);
                _pipe.Reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
