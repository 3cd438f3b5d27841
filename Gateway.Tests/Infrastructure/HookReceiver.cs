using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Gateway.Tests.Infrastructure;

/// <summary>One notification POST the receiver got: its body as sent, and whether it was accepted (2xx).</summary>
public sealed record HookPost(string Body, bool Accepted)
{
    public JsonElement[] Notifications => JsonDocument.Parse(Body).RootElement.EnumerateArray().ToArray();
}

/// <summary>
/// A real backend for the gateway's hooks, on 127.0.0.1 with a port of its own (a minimal
/// Kestrel app): <c>POST /hooks</c> takes notifications, failing (503) until told to accept or
/// for its first few, or holding them; <c>POST /authorize</c> answers as the test says.
/// </summary>
public sealed class HookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<HookPost> _posts = [];
    private readonly List<(Func<IReadOnlyList<HookPost>, bool> Done, TaskCompletionSource Reached)> _waiters = [];
    private readonly CancellationTokenSource _stopping = new();
    private int _failuresLeft;
    private TaskCompletionSource _accepting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _hold;
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private HookReceiver(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        _accepting.TrySetResult();
    }

    public Uri BaseAddress { get; }

    /// <summary>What the gateway's <c>Gateway:Hooks:Url</c> is set to.</summary>
    public string NotifyUrl => new Uri(BaseAddress, "/hooks").ToString();

    /// <summary>What the gateway's <c>Gateway:Hooks:Authorize</c> is set to.</summary>
    public string AuthorizeUrl => new Uri(BaseAddress, "/authorize").ToString();

    /// <summary>How <c>/authorize</c> answers: the request's body in, a status and a body out (or it never answers).</summary>
    public Func<JsonElement, Task<(int Status, string Body)>> Authorize { get; set; } =
        _ => Task.FromResult((200, """{"allow":true}"""));

    /// <summary>The bodies <c>/authorize</c> got, in order.</summary>
    public List<JsonElement> AuthorizeRequests { get; } = [];

    /// <summary>Every notification POST so far, in the order they were answered.</summary>
    public IReadOnlyList<HookPost> Posts
    {
        get
        {
            lock (_gate)
            {
                return _posts.ToArray();
            }
        }
    }

    /// <summary>Every notification of every accepted POST, in order.</summary>
    public IReadOnlyList<JsonElement> Accepted => Posts.Where(p => p.Accepted).SelectMany(p => p.Notifications).ToArray();

    public static async Task<HookReceiver> StartAsync()
    {
        HookReceiver? receiver = null;
        (WebApplication app, Uri address) = await TestBackend.StartAsync(app =>
        {
            app.MapPost("/hooks", (HttpContext http) => receiver!.NotifyAsync(http));
            app.MapPost("/authorize", (HttpContext http) => receiver!.AuthorizeAsync(http));
        });
        receiver = new HookReceiver(app, address);
        return receiver;
    }

    /// <summary>The next <paramref name="count"/> POSTs are answered 503.</summary>
    public void FailFirst(int count) => _failuresLeft = count;

    /// <summary>Every POST is answered 503 until <see cref="Accept"/>.</summary>
    public void FailUntilAccepted()
    {
        _accepting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>POSTs are accepted from now on.</summary>
    public void Accept() => _accepting.TrySetResult();

    /// <summary>Every POST from now on is held unanswered until <see cref="Release"/> (or the receiver stops).</summary>
    public void Hold() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once a POST is held.</summary>
    public Task WhenHeldAsync() => _held.Task.WaitAsync(TestClient.Deadline);

    /// <summary>Answers the held POSTs, and holds no more.</summary>
    public void Release()
    {
        TaskCompletionSource? hold = _hold;
        _hold = null;
        hold?.TrySetResult();
    }

    /// <summary>Completes once the POSTs so far satisfy <paramref name="done"/>.</summary>
    public Task WhenAsync(Func<IReadOnlyList<HookPost>, bool> done)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (done(_posts))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((done, reached));
        }

        return reached.Task.WaitAsync(TestClient.Deadline);
    }

    /// <summary>Completes once the accepted notifications satisfy <paramref name="done"/>.</summary>
    public Task WhenAcceptedAsync(Func<IReadOnlyList<JsonElement>, bool> done) =>
        WhenAsync(posts => done(posts.Where(p => p.Accepted).SelectMany(p => p.Notifications).ToArray()));

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task NotifyAsync(HttpContext http)
    {
        string body = await new StreamReader(http.Request.Body, Encoding.UTF8).ReadToEndAsync();
        if (_hold is { } hold)
        {
            _held.TrySetResult();
            try
            {
                await hold.Task.WaitAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        bool accepted = _accepting.Task.IsCompleted && Interlocked.Decrement(ref _failuresLeft) < 0;
        http.Response.StatusCode = accepted ? 204 : 503;
        lock (_gate)
        {
            _posts.Add(new HookPost(body, accepted));
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Done(_posts))
                {
                    _waiters[i].Reached.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private async Task AuthorizeAsync(HttpContext http)
    {
        JsonElement request = (await JsonDocument.ParseAsync(http.Request.Body)).RootElement;
        lock (_gate)
        {
            AuthorizeRequests.Add(request);
        }

        Task<(int Status, string Body)> answering = Authorize(request);
        try
        {
            (int status, string body) = await answering.WaitAsync(_stopping.Token);
            http.Response.StatusCode = status;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(body);
        }
        catch (OperationCanceledException)
        {
            // Stopped while it hung.
        }
    }
}
