using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Integration;

namespace Gateway.Tests.Diagnostics;

/// <summary><c>GET /metrics</c> after real traffic: the values, and what Prometheus itself makes of them.</summary>
[CancelAfter(60_000)]
public sealed class MetricsTests
{
    [Test]
    public async Task A_scrape_after_real_traffic_shows_what_happened_and_promtool_accepts_it()
    {
        // A small queue, so that the slow consumer overflows soon; room enough for the healthy
        // clients' five events however the send loops are scheduled.
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxLagBytes"] = "2097152",
        });
        var held = new List<TestClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("metered"));
                held.Add(client);
            }

            await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/metered/stream");
            await stream.ReadCommentAsync();

            // Two bad messages, answered with errors.
            await held[0].SendAsync("{oops");
            await held[0].SendAsync("""{"type":"launch"}""");
            await held[0].ReceiveAsync("error");
            await held[0].ReceiveAsync("error");

            // A refused upgrade.
            Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/bad%20name")).Status, Is.EqualTo(400));

            // A slow consumer in another session, dropped with 4001, its close handshake finished.
            int published = await DropASlowConsumerAsync(server);
            for (int i = 0; i < 5; i++)
            {
                await server.PublishAsync("metered", "tick");
            }

            foreach (TestClient client in held)
            {
                for (int i = 0; i < 5; i++)
                {
                    await client.ReceiveAsync("event");
                }
            }

            using HttpResponseMessage response = await server.Http.GetAsync("/metrics");
            Assert.That(response.Content.Headers.ContentType?.ToString(), Is.EqualTo("text/plain; version=0.0.4; charset=utf-8"));
            var scrape = new Exposition(await response.Content.ReadAsStringAsync());

            Assert.Multiple(() =>
            {
                Assert.That(scrape["gateway_connections_open{transport=\"websocket\"}"], Is.EqualTo(3), "the connections held");
                Assert.That(scrape["gateway_connections_open{transport=\"sse\"}"], Is.EqualTo(1));
                Assert.That(scrape["gateway_connections_accepted_total{transport=\"websocket\"}"], Is.EqualTo(4));
                Assert.That(scrape["gateway_connections_closed_total{code=\"4001\",transport=\"websocket\"}"], Is.EqualTo(1));
                Assert.That(scrape["gateway_send_queue_overflows_total"], Is.EqualTo(1));
                Assert.That(scrape["gateway_connections_refused_total{reason=\"bad_session\"}"], Is.EqualTo(1));
                Assert.That(scrape["gateway_protocol_errors_total{code=\"invalid_json\"}"], Is.EqualTo(1));
                Assert.That(scrape["gateway_protocol_errors_total{code=\"unknown_type\"}"], Is.EqualTo(1));
                Assert.That(scrape["gateway_events_published_total"], Is.EqualTo(published + 5));
                Assert.That(scrape["gateway_publish_duration_seconds_count"], Is.EqualTo(published + 5));
                Assert.That(scrape["gateway_sessions"], Is.EqualTo(2));
                Assert.That(scrape["gateway_history_bytes"], Is.GreaterThan(0));
                Assert.That(scrape["gateway_delivery_latency_seconds_count"], Is.GreaterThanOrEqualTo(3 * 5));
                Assert.That(scrape["gateway_delivery_latency_seconds_bucket{le=\"+Inf\"}"], Is.EqualTo(scrape["gateway_delivery_latency_seconds_count"]));
                Assert.That(scrape["gateway_network_io_bytes_total{direction=\"transmit\"}"], Is.GreaterThan(0));
                Assert.That(scrape["gateway_network_io_bytes_total{direction=\"receive\"}"], Is.GreaterThan(0));
                Assert.That(scrape.Has("dotnet_gc_collections_total"), Is.True, "runtime metrics");
                Assert.That(scrape.Has("kestrel_active_connections"), Is.True, "Kestrel metrics");
                Assert.That(scrape.Text, Does.Contain("gateway_events_published_total{otel_scope_name=\"Gateway\"}"), "each series names its meter");
                Assert.That(scrape.Text, Does.Contain("service_name=\"gateway\""), "target_info names the service");
            });

            AssertTypesReadRight(scrape);

            (int exit, string output) = await PromtoolCheckAsync(scrape.Text);
            Assert.That(exit, Is.Zero, output);
        }
        finally
        {
            await Task.WhenAll(held.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Test]
    public async Task Prometheus_asking_for_openmetrics_gets_openmetrics()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("open", "x");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2");
        using HttpResponseMessage response = await server.Http.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Multiple(() =>
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/openmetrics-text"));
            Assert.That(body, Does.EndWith("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
            Assert.That(body, Does.Contain("# TYPE gateway_events_published counter"), "OpenMetrics names a counter's family without _total");
            Assert.That(body, Does.Contain("gateway_events_published_total{otel_scope_name=\"Gateway\""));
        });
    }

    [Test]
    public async Task The_alert_examples_in_the_docs_are_rules_promtool_accepts_over_documented_metrics()
    {
        string docs = await File.ReadAllTextAsync(Path.Combine(Tools.RepositoryRoot, "docs", "operations.md"));
        string alerts = docs[docs.IndexOf("### Alerts", StringComparison.Ordinal)..];
        int start = alerts.IndexOf("```yaml\n", StringComparison.Ordinal) + "```yaml\n".Length;
        string rules = alerts[start..alerts.IndexOf("```", start, StringComparison.Ordinal)];
        string file = Path.Combine(Directory.CreateTempSubdirectory("gateway-rules-").FullName, "alerts.yml");
        await File.WriteAllTextAsync(file, rules);
        using Process promtool = Tools.Start(Tools.Require("promtool"), "check", "rules", file);
        string output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync(TestClient.Deadline);
        Assert.That(promtool.ExitCode, Is.Zero, output);

        // Every gateway family an alert names is one the metrics table above it documents (the
        // traffic test checks the table's names against a real scrape).
        string table = docs[docs.IndexOf("### The gateway's own", StringComparison.Ordinal)..docs.IndexOf("### From the platform", StringComparison.Ordinal)];
        string[] named = [.. Regex.Matches(rules, @"\bgateway_[a-z_]+").Select(m => Regex.Replace(m.Value, "_(bucket|sum|count)$", string.Empty)).Distinct()];
        Assert.That(named, Is.Not.Empty);
        Assert.That(named, Has.All.Matches<string>(family => table.Contains($"| `{family}` |", StringComparison.Ordinal)), "alerts name only documented metrics");
    }

    [Test]
    public async Task Two_gateways_in_one_process_each_export_only_their_own_metrics()
    {
        await using GatewayServer first = await GatewayServer.StartAsync();
        await using GatewayServer second = await GatewayServer.StartAsync();
        await first.PublishAsync("only-first", "x");
        await first.PublishAsync("only-first", "x");
        var scrape = new Exposition(await second.Http.GetStringAsync("/metrics"));
        Assert.That(scrape["gateway_events_published_total"], Is.Zero);
    }

    [Test]
    public async Task Prometheus_scrapes_the_gateway_and_answers_queries_about_it()
    {
        string prometheus = Tools.Require("prometheus");
        await using GatewayServer server = await GatewayServer.StartAsync();
        var held = new List<TestClient>();
        string data = Directory.CreateTempSubdirectory("gateway-prometheus-").FullName;
        int port = Tools.FreePort();
        string config = Path.Combine(data, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: gateway
                static_configs:
                  - targets: ['{server.BaseAddress.Authority}']
            """);
        using Process process = Tools.Start(prometheus, $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(data, "tsdb")}", $"--web.listen-address=127.0.0.1:{port}");
        try
        {
            for (int i = 0; i < 4; i++)
            {
                (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("watched"));
                held.Add(client);
            }

            // Prometheus stores a scrape before it starts the next one: after two scrapes that
            // began with the four connections open, the value is queryable.
            await ScrapesAsync(server.Get<ScrapeCounter>(), 2);

            using var http = new HttpClient();
            string query = Uri.EscapeDataString("gateway_connections_open{transport=\"websocket\"}");
            JsonElement answer = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/api/v1/query?query={query}", TestClient.Deadline)).RootElement;
            Assert.That(answer.GetProperty("status").GetString(), Is.EqualTo("success"), answer.GetRawText());
            JsonElement series = answer.GetProperty("data").GetProperty("result")[0];
            Assert.That(series.GetProperty("metric").GetProperty("job").GetString(), Is.EqualTo("gateway"));
            Assert.That(series.GetProperty("value")[1].GetString(), Is.EqualTo("4"));
        }
        finally
        {
            await Task.WhenAll(held.Select(c => c.DisposeAsync().AsTask()));
            process.Kill();
            await process.WaitForExitAsync();
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>
    /// What a Prometheus user reads into a family's name and type holds: a running count is a
    /// counter ending in <c>_total</c>, a current value a gauge with no counter or histogram
    /// suffix, and the runtime's thread pool size and backlog (which the runtime declares as
    /// counters) are gauges.
    /// </summary>
    private static void AssertTypesReadRight(Exposition scrape)
    {
        Assert.Multiple(() =>
        {
            Assert.That(scrape.Types.GetValueOrDefault("dotnet_thread_pool_threads"), Is.EqualTo("gauge"));
            Assert.That(scrape.Types.GetValueOrDefault("dotnet_thread_pool_queue_length"), Is.EqualTo("gauge"));
            Assert.That(scrape.Types.GetValueOrDefault("gateway_connections_open"), Is.EqualTo("gauge"));
            Assert.That(scrape.Types.GetValueOrDefault("gateway_sessions"), Is.EqualTo("gauge"));
            foreach ((string family, string type) in scrape.Types)
            {
                if (type == "counter")
                {
                    Assert.That(family, Does.EndWith("_total"), $"{family} is a counter");
                }
                else if (type == "gauge")
                {
                    Assert.That(family, Does.Not.EndWith("_total").And.Not.EndWith("_count").And.Not.EndWith("_sum").And.Not.EndWith("_bucket").And.Not.EndWith("_value"),
                        $"{family} is a gauge");
                }
            }
        });
    }

    /// <summary>Completes after <paramref name="count"/> more scrapes of the gateway's /metrics.</summary>
    private static async Task ScrapesAsync(ScrapeCounter scrapes, int count)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long seen = 0;
        void OnScraped(long _)
        {
            if (Interlocked.Increment(ref seen) == count)
            {
                done.TrySetResult();
            }
        }

        scrapes.Scraped += OnScraped;
        try
        {
            await done.Task.WaitAsync(TestClient.Deadline);
        }
        finally
        {
            scrapes.Scraped -= OnScraped;
        }
    }

    private static async Task<int> DropASlowConsumerAsync(GatewayServer server)
    {
        await using RawWebSocket slow = await RawWebSocket.ConnectAsync(server.WebSocketUri("slow-metered"), receiveBufferSize: 4096);
        await slow.ReceiveAsync();
        string data = JsonSerializer.Serialize(new string('s', 32 * 1024));
        int published = 0;
        while (true)
        {
            await server.PublishAsync("slow-metered", "chunk", data);
            published++;
            using HttpResponseMessage session = await server.Http.GetAsync("/api/sessions/slow-metered");
            if (JsonDocument.Parse(await session.Content.ReadAsStringAsync()).RootElement.GetProperty("clients").GetInt32() == 0)
            {
                break;
            }
        }

        Assert.That((await slow.ReceiveCloseAsync()).Close?.CloseCode, Is.EqualTo(4001));
        await slow.SendFrameAsync(WebSocketOpcode.Close, [0x0F, 0xA1]);
        Assert.That(await slow.ServerClosedAsync(), Is.True);
        return published;
    }

    private static async Task<(int Exit, string Output)> PromtoolCheckAsync(string scrape)
    {
        using Process promtool = Tools.Start(Tools.Require("promtool"), "check", "metrics");
        await promtool.StandardInput.WriteAsync(scrape);
        promtool.StandardInput.Close();
        string output = await promtool.StandardOutput.ReadToEndAsync() + await promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync(TestClient.Deadline);
        return (promtool.ExitCode, output);
    }
}
