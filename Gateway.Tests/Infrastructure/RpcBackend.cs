using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A real backend for the gateway's rpc calls: a Kestrel server on 127.0.0.1 with a port of its
/// own, whose <c>POST /rpc</c> records each call's body and answers as the test says.
/// </summary>
public sealed class RpcBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<JsonElement> _calls = Channel.CreateUnbounded<JsonElement>();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new(StringComparer.Ordinal);
    private int _received;

    private RpcBackend(WebApplication app) => _app = app;

    /// <summary>Where the gateway should send its rpc calls (<c>Gateway:Hooks:RpcUrl</c>).</summary>
    public string Url { get; private set; } = "";

    /// <summary>How many calls reached the backend.</summary>
    public int Received => Volatile.Read(ref _received);

    /// <summary>Starts a backend; <paramref name="answer"/> gets each call's body and writes the response.</summary>
    public static async Task<RpcBackend> StartAsync(Func<JsonElement, HttpResponse, RpcBackend, Task> answer)
    {
        RpcBackend? backend = null;
        (WebApplication app, Uri address) = await TestBackend.StartAsync(app => app.MapPost("/rpc", async (HttpContext http) =>
        {
            JsonElement call = (await JsonDocument.ParseAsync(http.Request.Body)).RootElement.Clone();
            Interlocked.Increment(ref backend!._received);
            await backend._calls.Writer.WriteAsync(call);
            await answer(call, http.Response, backend);
        }));
        backend = new RpcBackend(app) { Url = new Uri(address, "rpc").ToString() };
        return backend;
    }

    /// <summary>The next call the backend got, in the order they arrived.</summary>
    public async Task<JsonElement> NextCallAsync() => await _calls.Reader.ReadAsync(TestClient.Deadline);

    /// <summary>Waits until the test opens the gate named <paramref name="name"/>.</summary>
    public Task WaitForGateAsync(string name) => Gate(name).Task.WaitAsync(TestClient.Deadline);

    /// <summary>Lets the calls waiting on <paramref name="name"/> answer.</summary>
    public void Open(string name) => Gate(name).TrySetResult();

    /// <summary>Writes <paramref name="body"/> with <paramref name="status"/>.</summary>
    public static async Task WriteAsync(HttpResponse response, int status, string body, string contentType = "application/json")
    {
        response.StatusCode = status;
        response.ContentType = contentType;
        await response.WriteAsync(body);
    }

    private TaskCompletionSource Gate(string name) =>
        _gates.GetOrAdd(name, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public async ValueTask DisposeAsync()
    {
        foreach (TaskCompletionSource gate in _gates.Values)
        {
            gate.TrySetResult();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
