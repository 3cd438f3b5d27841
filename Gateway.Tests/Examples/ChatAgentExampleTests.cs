using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Tests.Browser;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Examples;

/// <summary>
/// examples/chat-agent as its README runs it: the Node agent (a real process) is the gateway's
/// <c>Hooks:RpcUrl</c>; a client's <c>rpc</c> gets the agent's answer at once, and the agent then
/// publishes the turn (<c>user_message</c>, <c>status</c>, <c>tool_execution</c>, the answer as
/// appended <c>message_chunk</c> events and a final one) into the room. Checked with a real
/// WebSocket client, then with the chat page in Chromium.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed partial class ChatAgentExampleTests : BrowserFixture
{
    private const string Example = "chat-agent";

    [Test]
    public async Task An_rpc_is_accepted_at_once_and_the_answer_streams_back_as_status_tool_and_chunks_in_order()
    {
        await using ChatRun run = await ChatRun.StartAsync(delayMs: 0);
        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(run.Gateway.WebSocketUri("room-1", "user=ada"));
        await using TestClient owned = client;

        await client.SendAsync("""{"type":"rpc","id":"m-1","method":"chat","data":{"text":"Hello there","clientId":"c-1"}}""");
        (JsonElement? result, List<JsonElement> events) = await ReadTurnAsync(client);

        // The rpc_result and the agent's first publishes race each other to the client (the agent
        // answers the call and then publishes over another connection), so only their content is checked.
        Assert.That(result, Is.Not.Null, "the rpc_result");
        Assert.That(result!.Value.GetProperty("id").GetString(), Is.EqualTo("m-1"));
        Assert.That(result.Value.GetProperty("data").GetProperty("accepted").GetBoolean(), Is.True);
        string turn = result.Value.GetProperty("data").GetProperty("answerId").GetString()!;

        string answer = CannedAnswer("hello there");
        int tokens = Tokens(answer);
        string[] expected =
        [
            "user_message", "status:thinking", "tool_execution:running", "tool_execution:done", "status:answering",
            .. Enumerable.Repeat("message_chunk+", tokens), "message_chunk", "status:done",
        ];
        Assert.That(events.Select(Describe), Is.EqualTo(expected));
        Assert.That(events.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(Enumerable.Range(1, events.Count).Select(i => welcome.GetProperty("seq").GetInt64() + i)), "one seq each, in order");
        Assert.That(events.Select(e => e.GetProperty("key").GetString()), Has.All.Matches<string>(key => key == turn || key == $"{turn}.1"), "every event keyed by the turn (the tool call by turn.1)");

        JsonElement message = events[0].GetProperty("data");
        Assert.That(message.GetProperty("user").GetString(), Is.EqualTo("ada"), "the user the gateway told the agent");
        Assert.That(message.GetProperty("text").GetString(), Is.EqualTo("Hello there"));
        Assert.That(message.GetProperty("clientId").GetString(), Is.EqualTo("c-1"));
        JsonElement tool = events[3].GetProperty("data");
        Assert.That(tool.GetProperty("tool").GetString(), Is.EqualTo("search_docs"));
        Assert.That(tool.GetProperty("input").GetProperty("query").GetString(), Is.EqualTo("Hello there"));
        Assert.That(tool.GetProperty("output").GetProperty("results").GetArrayLength(), Is.EqualTo(2));

        string assembled = string.Concat(events.Where(e => e.TryGetProperty("append", out _)).Select(e => e.GetProperty("data").GetString()));
        Assert.That(assembled, Is.EqualTo(answer), "the chunks assemble to the canned answer");
        Assert.That(events[^2].GetProperty("data").GetProperty("text").GetString(), Is.EqualTo(answer), "the final message carries the whole text");
        Assert.That(events[^2].GetProperty("data").GetProperty("done").GetBoolean(), Is.True);

        // The room's keyed state holds the turn, with the final message in place of the chunks.
        await client.SendAsync("""{"type":"status","id":"s-1"}""");
        JsonElement keyed = (await client.ReceiveAsync("status")).GetProperty("keyed");
        Assert.That(keyed.GetProperty("message_chunk").GetProperty(turn).GetProperty("data").GetProperty("text").GetString(), Is.EqualTo(answer));
        Assert.That(keyed.GetProperty("status").GetProperty(turn).GetProperty("data").GetProperty("state").GetString(), Is.EqualTo("done"));
    }

    [Test]
    public async Task A_client_joining_mid_answer_gets_the_text_so_far_from_status_and_the_rest_live()
    {
        // Slow enough that the answer (about 70 tokens) is still being written seconds after the join.
        await using ChatRun run = await ChatRun.StartAsync(delayMs: 60);
        (TestClient first, _) = await TestClient.JoinAsync(run.Gateway.WebSocketUri("room-2", "user=ada"));
        await using TestClient _1 = first;
        await first.SendAsync("""{"type":"rpc","id":"m-1","method":"chat","data":{"text":"hello"}}""");
        string turn = "";
        for (int chunks = 0; chunks < 5;)
        {
            JsonElement message = await first.ReceiveAsync();
            if (message.GetProperty("type").GetString() == "rpc_result")
            {
                turn = message.GetProperty("data").GetProperty("answerId").GetString()!;
            }
            else if (message.GetProperty("type").GetString() == "event" && message.TryGetProperty("append", out _))
            {
                chunks++;
            }
        }

        (TestClient late, _) = await TestClient.JoinAsync(run.Gateway.WebSocketUri("room-2", "user=bob"));
        await using TestClient _2 = late;
        await late.SendAsync("""{"type":"status","id":"s-1"}""");
        var live = new List<JsonElement>();
        JsonElement status;
        while (true)
        {
            JsonElement message = await late.ReceiveAsync();
            if (message.GetProperty("type").GetString() == "status")
            {
                status = message;
                break;
            }

            live.Add(message);
        }

        (_, List<JsonElement> rest) = await ReadTurnAsync(late);
        live.AddRange(rest);

        Assert.That(turn, Is.Not.Empty, "the rpc_result came before the fifth chunk");
        JsonElement keyed = status.GetProperty("keyed");
        Assert.That(keyed.GetProperty("user_message").GetProperty(turn).GetProperty("data").GetProperty("text").GetString(), Is.EqualTo("hello"), "the question");
        Assert.That(keyed.GetProperty("status").GetProperty(turn).GetProperty("data").GetProperty("state").GetString(), Is.EqualTo("answering"));
        JsonElement entry = keyed.GetProperty("message_chunk").GetProperty(turn);
        Assert.That(entry.GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.String), $"the answer was still being written when the late client joined: {entry}");
        Assert.That(entry.GetProperty("chunks").GetInt32(), Is.GreaterThanOrEqualTo(5));

        // The docs' rule: the entry holds every chunk up to its seq; later chunks go on top.
        long held = entry.GetProperty("seq").GetInt64();
        string answer = CannedAnswer("hello");
        List<JsonElement> after = live.Where(e => e.GetProperty("event").GetString() == "message_chunk" && e.TryGetProperty("append", out _) && e.GetProperty("seq").GetInt64() > held).ToList();
        Assert.That(after, Is.Not.Empty, "chunks live after the join");
        string assembled = entry.GetProperty("data").GetString() + string.Concat(after.Select(e => e.GetProperty("data").GetString()));
        Assert.That(assembled, Is.EqualTo(answer), "the text so far and the rest assemble to the whole answer");
        Assert.That(entry.GetProperty("chunks").GetInt32() + after.Count, Is.EqualTo(Tokens(answer)));
        Assert.That(live.Select(e => e.GetProperty("seq").GetInt64()), Is.Ordered.Ascending);
        Assert.That(live[^2].GetProperty("data").GetProperty("text").GetString(), Is.EqualTo(answer), "the final message, live");
    }

    [Test]
    public async Task The_agent_rejects_an_unknown_method_and_an_empty_message_saying_what_it_takes()
    {
        await using ChatRun run = await ChatRun.StartAsync(delayMs: 0);
        (TestClient client, _) = await TestClient.JoinAsync(run.Gateway.WebSocketUri("room-3"));
        await using TestClient owned = client;

        await client.SendAsync("""{"type":"rpc","id":"m-1","method":"weather","data":{"text":"hi"}}""");
        JsonElement error = await client.ReceiveAsync("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("rejected"));
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("unknown method 'weather': this agent answers 'chat' with data {text}"));

        await client.SendAsync("""{"type":"rpc","id":"m-2","method":"chat","data":{"text":"  "}}""");
        error = await client.ReceiveAsync("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("rejected"));
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("data.text must be a message of 1 to 2000 characters"));
    }

    [Test]
    public async Task The_page_sends_a_message_shows_the_answer_and_both_members_when_a_second_page_joins()
    {
        // Slow enough (about 3 s for the answer) that the second page usually joins mid-answer.
        await using ChatRun run = await ChatRun.StartAsync(delayMs: 50);
        await using BrowserPage ada = await Chromium.OpenExampleAsync(Example, "index.html", run.Gateway.BaseAddress, "room=room-4&user=Ada");
        await ada.WaitAsync("window.client && window.client.state === 'open'", "the page to connect");

        await ada.Page.FillAsync("#text", "How does reconnecting work?");
        await ada.Page.ClickAsync("#send");
        string answer = CannedAnswer("how does reconnecting work?");
        await ada.WaitAsync("document.querySelector('.turn')?.dataset.status === 'answering' && document.querySelector('.msg.agent .text').textContent.length > 20", "the answer growing");
        await ada.ScreenshotAsync("answering");

        // Bob opens the page mid-answer and types his name into its form; he sees the conversation
        // so far from the room's keyed state, then the rest of the answer live.
        await using BrowserPage bob = await Chromium.OpenExampleAsync(Example, "index.html", run.Gateway.BaseAddress, "room=room-4");
        await bob.WaitAsync("!document.getElementById('join').hidden", "the page to ask for a name");
        await bob.Page.FillAsync("#name", "Bob");
        await bob.Page.ClickAsync("#join-form button");
        await bob.WaitAsync("document.querySelector('.msg.agent .text')?.textContent.length > 0", "the answer so far on the second page");
        Assert.That(answer, Does.StartWith(await bob.Page.InnerTextAsync(".msg.agent .text")), "what the late page shows is the answer's beginning");
        await bob.WaitAsync(AnswerShown(answer), "the whole answer on the second page");
        await ada.WaitAsync(AnswerShown(answer), "the whole answer on the first page");
        Assert.That(await bob.Page.InnerTextAsync(".turn .msg.user .who"), Is.EqualTo("Ada"));
        Assert.That(await ada.Page.InnerTextAsync(".turn .msg.user.mine .text"), Is.EqualTo("How does reconnecting work?"));
        Assert.That(await ada.Page.InnerTextAsync(".turn .tool"), Does.Contain("search_docs(\"How does reconnecting work?\") → 2 results"));
        await ada.WaitAsync("document.querySelector('.turn').dataset.status === 'done'", "the status done");
        await ada.WaitAsync("document.getElementById('latency').textContent.includes('ms')", "a latency on the page");
        Assert.That(await ada.Page.InnerTextAsync("#state"), Is.EqualTo("open"));

        foreach (BrowserPage page in new[] { ada, bob })
        {
            await page.WaitAsync("document.getElementById('member-count').textContent === '2'", "two members");
            Assert.That(await page.Page.Locator("#members li").AllInnerTextsAsync(), Has.Some.StartsWith("Ada").And.Some.StartsWith("Bob"));
        }

        await ada.ScreenshotAsync("ada");
        await bob.ScreenshotAsync("bob");
    }

    [Test]
    public async Task A_message_typed_while_the_connection_is_down_is_queued_and_sent_on_reconnect()
    {
        await using ChatRun run = await ChatRun.StartAsync(delayMs: 0);
        await using TcpProxy proxy = TcpProxy.Start(run.Gateway.BaseAddress);
        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", proxy.BaseAddress, "room=room-5&user=Ada");
        await page.WaitAsync("window.client && window.client.state === 'open'", "the page to connect");

        // The message is typed the moment the page sees the drop, before any reconnect can start.
        await page.Page.EvaluateAsync("""
            () => {
              window.queued = null;
              const stop = window.client.on('@state', (s) => {
                if (s.state !== 'reconnecting') return;
                stop();
                document.getElementById('text').value = 'How does reconnecting work?';
                document.getElementById('composer').requestSubmit();
                window.queued = { note: document.querySelector('.turn.pending .note').textContent, count: window.client.queued, shown: document.getElementById('queue').textContent };
              });
            }
            """);
        Assert.That(proxy.CutAll(), Is.GreaterThan(0), "a connection to cut");
        await page.WaitAsync("window.queued !== null", "the message typed while reconnecting");
        Assert.That(await page.Page.EvaluateAsync<int>("window.queued.count"), Is.EqualTo(1), "the client holds the call");
        Assert.That(await page.Page.EvaluateAsync<string>("window.queued.note"), Is.EqualTo("queued: sends when the connection is back"));
        Assert.That(await page.Page.EvaluateAsync<string>("window.queued.shown"), Is.EqualTo("1 message waiting for the connection"));

        string answer = CannedAnswer("how does reconnecting work?");
        await page.WaitAsync(AnswerShown(answer), "the answer after the reconnect");
        Assert.That(await page.Page.EvaluateAsync<string>("window.client.state"), Is.EqualTo("open"));
        Assert.That(await page.Page.Locator(".turn").CountAsync(), Is.EqualTo(1), "the message once, and no pending copy left");
        Assert.That(await page.Page.InnerTextAsync("#queue"), Is.Empty);
        Assert.That(proxy.Accepted, Is.GreaterThanOrEqualTo(2), "the page connected again");
        await page.ScreenshotAsync("after-reconnect");
    }

    /// <summary>Reads a client's messages until the turn's last event (<c>status</c> done); returns the rpc_result, if one came, and the events.</summary>
    private static async Task<(JsonElement? Result, List<JsonElement> Events)> ReadTurnAsync(TestClient client)
    {
        JsonElement? result = null;
        var events = new List<JsonElement>();
        while (true)
        {
            JsonElement message = await client.ReceiveAsync();
            switch (message.GetProperty("type").GetString())
            {
                case "rpc_result":
                    result = message;
                    break;
                case "event":
                    events.Add(message);
                    if (Describe(message) == "status:done")
                    {
                        return (result, events);
                    }

                    break;
                default:
                    Assert.Fail($"unexpected {message}");
                    break;
            }
        }
    }

    /// <summary>An event as the order check reads it: its name, its state if it has one, <c>+</c> for an append.</summary>
    private static string Describe(JsonElement e)
    {
        string name = e.GetProperty("event").GetString()!;
        if (e.TryGetProperty("append", out JsonElement append) && append.GetBoolean())
        {
            return name + "+";
        }

        return e.GetProperty("data") is { ValueKind: JsonValueKind.Object } data && data.TryGetProperty("state", out JsonElement state)
            ? $"{name}:{state.GetString()}"
            : name;
    }

    /// <summary>The canned answer the simulated model gives <paramref name="question"/>: the first in answers.json whose words it all has.</summary>
    private static string CannedAnswer(string question)
    {
        using JsonDocument answers = JsonDocument.Parse(File.ReadAllText(Path.Combine(ExampleProgram.Folder(Example), "answers.json")));
        return answers.RootElement.GetProperty("answers").EnumerateArray()
            .First(a => a.GetProperty("words").EnumerateArray().All(w => question.Contains(w.GetString()!, StringComparison.Ordinal)))
            .GetProperty("text").GetString()!;
    }

    /// <summary>How many chunks the model streams <paramref name="text"/> in: words with the spaces after them.</summary>
    private static int Tokens(string text) => TokenPattern().Count(text);

    private static string AnswerShown(string answer) =>
        $"[...document.querySelectorAll('.turn[data-answer=done] .msg.agent .text')].some(p => p.textContent === {JsonSerializer.Serialize(answer)})";

    [GeneratedRegex(@"\S+\s*")]
    private static partial Regex TokenPattern();

    /// <summary>A gateway whose <c>Hooks:RpcUrl</c> is the example's agent, and the agent (<c>node agent.mjs</c>) publishing to it.</summary>
    private sealed class ChatRun : IAsyncDisposable
    {
        private ChatRun(GatewayServer gateway, ExampleProgram agent)
        {
            Gateway = gateway;
            Agent = agent;
        }

        public GatewayServer Gateway { get; }

        public ExampleProgram Agent { get; }

        public static async Task<ChatRun> StartAsync(int delayMs)
        {
            // The gateway must know the agent's address before it starts, and the agent the gateway's
            // before it publishes: the agent is told a port that was free a moment ago.
            int port = Tools.FreePort();
            GatewayServer gateway = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Hooks:RpcUrl"] = $"http://127.0.0.1:{port}/rpc" });
            ExampleProgram agent = ExampleProgram.Start(Example, gateway.BaseAddress, "node", ["agent.mjs", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--delay", delayMs.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await agent.WhenPrintedAsync("agent listening on");
            return new ChatRun(gateway, agent);
        }

        public async ValueTask DisposeAsync()
        {
            string output = Agent.Output;
            await Agent.DisposeAsync();
            await Gateway.DisposeAsync();
            if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed || output.Contains("stderr:", StringComparison.Ordinal))
            {
                await TestContext.Out.WriteLineAsync($"the agent printed:\n{output}");
            }
        }
    }
}
