using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Gateway.Connections;
using Gateway.Http;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Gateway.Transport;

/// <summary>
/// A connection middleware on every HTTP/1.1 listener (<c>Gateway:Transport:DirectUpgrade</c>): it
/// looks at the first request of a connection without consuming it. A WebSocket upgrade to
/// <c>/ws/{session}</c> (<see cref="UpgradeRequestParser"/>) is handshaken here, with the same
/// admission and refusals as Kestrel's path (<see cref="WebSocketEndpoint.AcceptAsync"/>, run
/// behind the same CORS and failure middleware), and its connection then runs on the listener's
/// own pipes: no HTTP request, and none of Kestrel's per-request state, is kept for its life.
/// Everything else goes to Kestrel with every byte still unread.
/// </summary>
/// <remarks>
/// On a TLS listener this middleware comes before TLS (endpoint defaults apply first), so it sees a
/// TLS record, never <c>GET</c>, and passes every connection through: upgrades over TLS take
/// Kestrel's path. It is not installed where Kestrel must count upgraded connections
/// (<c>Kestrel:Limits:MaxConcurrentUpgradedConnections</c>), which only Kestrel's path can do.
/// </remarks>
internal sealed partial class DirectUpgrade
{
    private readonly ConnectionEnvironment _env;
    private readonly Admission _admission;
    private readonly Refusals _refusals;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger<DirectUpgrade> _logger;
    private readonly RequestDelegate _handshake;
    private readonly HeadLimits _limits;
    private readonly TimeSpan _keepAliveTimeout;
    private readonly TimeSpan _headersTimeout;

    public DirectUpgrade(IServiceProvider services, ConnectionEnvironment env, Admission admission, Refusals refusals, IServiceScopeFactory scopes, IOptions<KestrelServerOptions> kestrel, ILogger<DirectUpgrade> logger)
    {
        _env = env;
        _admission = admission;
        _refusals = refusals;
        _scopes = scopes;
        _logger = logger;
        KestrelServerLimits limits = kestrel.Value.Limits;
        _limits = new HeadLimits(limits.MaxRequestLineSize, limits.MaxRequestHeadersTotalSize, limits.MaxRequestHeaderCount);
        _keepAliveTimeout = limits.KeepAliveTimeout;
        _headersTimeout = limits.RequestHeadersTimeout;

        // The middleware in front of the endpoint on Kestrel's path, in the same order: every answer
        // carries the same CORS headers, and a failure is answered the same way.
        var pipeline = new ApplicationBuilder(services);
        pipeline.UseCrossOrigin();
        pipeline.UseRequestFailures();
        pipeline.Run(AcceptAsync);
        _handshake = pipeline.Build();
    }

    /// <summary>Adds the middleware to <paramref name="listen"/> when it serves HTTP/1.1 and Kestrel need not count upgrades.</summary>
    public static void Install(ListenOptions listen) => listen.Use(next =>
    {
        IServiceProvider services = listen.ApplicationServices;
        if (!listen.Protocols.HasFlag(HttpProtocols.Http1)
            || services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MaxConcurrentUpgradedConnections is not null)
        {
            return next;
        }

        DirectUpgrade upgrade = services.GetRequiredService<DirectUpgrade>();
        return connection => upgrade.OnConnectionAsync(connection, next);
    });

    /// <summary>Peeks at the connection's first request: an upgrade is taken here, anything else goes to <paramref name="next"/> untouched.</summary>
    /// <remarks>
    /// The frame that awaits the connection's whole life holds the connection and its slot only:
    /// the head, its headers and the handshake's request live in the frames of
    /// <see cref="TakeFirstRequestAsync"/>, which end with the 101
    /// (about 2 KB an idle connection, docs/benchmarks.md).
    /// </remarks>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (await TakeFirstRequestAsync(connection, next) is not { } upgraded)
        {
            return;
        }

        using Admitted slot = upgraded.Slot;
        await upgraded.Connection.RunAsync();
    }

    /// <summary>Reads the first request's head: null when it went to Kestrel or was refused, else the connection the 101 began.</summary>
    private async Task<UpgradedConnection?> TakeFirstRequestAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        PipeReader input = connection.Transport.Input;
        UpgradeRequestHead? head;
        bool started = false;

        // Kestrel's own deadlines, which do not run while a connection middleware has it: the
        // keep-alive timeout until the first byte, the request headers timeout from there.
        // Shutdown closes a connection that has not begun a request, as Kestrel closes an idle one;
        // one that has goes on to its answer (a refusal: the gateway is draining).
        using (var deadline = new CancellationTokenSource(_keepAliveTimeout))
        {
            CancellationTokenRegistration closing = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested.UnsafeRegister(
                static state => ((CancellationTokenSource)state!).Cancel(), deadline) ?? default;
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(deadline.Token);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    await closing.DisposeAsync();
                    await TimedOutAsync(connection, started);
                    return null;
                }
                catch (Exception e) when (SendLoop.IsTransportFailure(e))
                {
                    await closing.DisposeAsync();
                    return null;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!started && !buffer.IsEmpty)
                {
                    started = true;
                    await closing.DisposeAsync();
                    deadline.CancelAfter(_headersTimeout);
                }

                HeadStatus status = UpgradeRequestParser.TryParse(buffer, _limits, out head, out SequencePosition end);
                if (status == HeadStatus.NeedMore && !result.IsCompleted)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                await closing.DisposeAsync();
                if (status == HeadStatus.Upgrade)
                {
                    input.AdvanceTo(end);
                    break;
                }

                // Not consumed and not examined: Kestrel's first read returns all of it at once.
                input.AdvanceTo(buffer.Start);
                await next(connection);
                return null;
            }
        }

        return await UpgradeAsync(connection, head!);
    }

    private async Task<UpgradedConnection?> UpgradeAsync(ConnectionContext connection, UpgradeRequestHead head)
    {
        var handshake = new Handshake(head.Session);
        var response = new HandshakeResponse();
        HttpContext http = CreateContext(connection, head, handshake, response);
        AcceptedUpgrade? accepted;
        await using (var services = new RequestServicesFeature(http, _scopes))
        {
            http.Features.Set<IServiceProvidersFeature>(services);
            await _handshake(http);
            await response.StartAsync();
            accepted = handshake.Accepted;
            if (accepted is null)
            {
                await connection.Transport.Output.WriteAsync(Refusal(response));
            }
            else
            {
                // Written, not flushed: the connection sends it in one write with its first frame
                // (the welcome), or on its own when it has none to send yet (GatewayConnection.RunAsync).
                connection.Transport.Output.Write(SwitchingProtocols(response));
            }
        }

        if (accepted is null)
        {
            // The refusal says Connection: close; Kestrel closes the socket once its output is sent.
            return null;
        }

        // As Kestrel does on its path: an upgraded connection no longer counts toward
        // MaxConcurrentConnections.
        connection.Features.Get<IDecrementConcurrentConnectionCountFeature>()?.ReleaseConnection();
        PipeReader input = connection.Transport.Input;
        GatewayConnection created;
        try
        {
            created = accepted.CreateConnection(_env, new ListenerConnectionLink(connection), input, connection.Transport.Output.AsStream(leaveOpen: true), head.Session);
        }
        catch
        {
            // The caller's using does not hold the slot yet: give it back here, as Kestrel's path does.
            accepted.Admitted.Dispose();
            throw;
        }

        return new UpgradedConnection(created, accepted.Admitted);
    }

    /// <summary>A connection past its 101, and the admission slot it holds until it ends.</summary>
    private readonly record struct UpgradedConnection(GatewayConnection Connection, Admitted Slot);

    /// <summary>The terminal step of the handshake's pipeline: the endpoint's own checks and admission.</summary>
    private async Task AcceptAsync(HttpContext http)
    {
        Handshake handshake = http.Features.GetRequiredFeature<Handshake>();
        handshake.Accepted = await WebSocketEndpoint.AcceptAsync(http, handshake.Session, _env, _admission, _refusals);
    }

    /// <summary>A request for the handshake alone, with what Kestrel's path gives the endpoint: the request, the connection, its lifetime, services.</summary>
    private static DefaultHttpContext CreateContext(ConnectionContext connection, UpgradeRequestHead head, Handshake handshake, HandshakeResponse response)
    {
        var headers = new HeaderDictionary();
        foreach ((string name, string value) in head.Headers)
        {
            headers.Append(name, value);
        }

        var features = new FeatureCollection(8);
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Protocol = "HTTP/1.1",
            Scheme = "http",
            Method = HttpMethods.Get,
            PathBase = "",
            Path = head.Path,
            QueryString = head.QueryString,
            RawTarget = head.RawTarget,
            Headers = headers,
            Body = Stream.Null,
        });
        features.Set<IHttpResponseFeature>(response);
        features.Set<IHttpResponseBodyFeature>(response);
        var local = connection.LocalEndPoint as IPEndPoint;
        var remote = connection.RemoteEndPoint as IPEndPoint;
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature
        {
            ConnectionId = connection.ConnectionId,
            LocalIpAddress = local?.Address,
            LocalPort = local?.Port ?? 0,
            RemoteIpAddress = remote?.Address,
            RemotePort = remote?.Port ?? 0,
        });
        features.Set<IHttpRequestIdentifierFeature>(new HttpRequestIdentifierFeature { TraceIdentifier = connection.ConnectionId + ":00000001" });
        features.Set<IHttpRequestLifetimeFeature>(new ConnectionLifetime(connection));
        features.Set<IHttpUpgradeFeature>(Upgradable.Instance);
        features.Set(handshake);
        return new DefaultHttpContext(features);
    }

    /// <summary>The 101, with the headers the handshake set (accept, subprotocol, extensions, CORS).</summary>
    private byte[] SwitchingProtocols(HandshakeResponse response)
    {
        var head = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n");
        AppendHeaders(head, response.Headers);
        return Encoding.ASCII.GetBytes(head.Append("\r\n").ToString());
    }

    /// <summary>A refusal as the endpoint wrote it, framed with its length, and the connection's end.</summary>
    private byte[] Refusal(HandshakeResponse response)
    {
        byte[] body = response.Body;
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {response.StatusCode} {ReasonPhrases.GetReasonPhrase(response.StatusCode)}\r\n");
        response.Headers.ContentLength = body.Length;
        response.Headers.Connection = "close";
        AppendHeaders(head, response.Headers);
        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
    }

    private void AppendHeaders(StringBuilder head, IHeaderDictionary headers)
    {
        head.Append("Date: ").Append(_env.Time.GetUtcNow().ToString("r", CultureInfo.InvariantCulture)).Append("\r\n");
        foreach ((string name, Microsoft.Extensions.Primitives.StringValues values) in headers)
        {
            foreach (string? value in values)
            {
                // Every value is the gateway's own or a checked echo of the request's (an origin);
                // one that could split the head would be a bug, never sent.
                if (value is null || value.AsSpan().IndexOfAnyExceptInRange(' ', '~') >= 0)
                {
                    throw new InvalidOperationException($"the handshake set header {name} to a value that is not printable ASCII");
                }

                head.Append(name).Append(": ").Append(value).Append("\r\n");
            }
        }
    }

    /// <summary>
    /// The head did not come in time: as Kestrel answers, a 408 once a request had begun, and a
    /// silent close of a connection that never sent anything (or that shutdown asked to close).
    /// </summary>
    private async Task TimedOutAsync(ConnectionContext connection, bool started)
    {
        if (!started)
        {
            return;
        }

        Log.HeadTimedOut(_logger, connection.ConnectionId, _headersTimeout.TotalSeconds);
        string date = _env.Time.GetUtcNow().ToString("r", CultureInfo.InvariantCulture);
        try
        {
            await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\nDate: {date}\r\n\r\n"));
        }
        catch (Exception e) when (SendLoop.IsTransportFailure(e))
        {
            // The client is gone already.
        }
    }

    /// <summary>The handshake's session, and its outcome when the client is let in.</summary>
    private sealed class Handshake(string session)
    {
        public string Session { get; } = session;

        public AcceptedUpgrade? Accepted { get; set; }
    }

    /// <summary>The handshake's request lives and dies with the connection: aborting it aborts the connection.</summary>
    private sealed class ConnectionLifetime(ConnectionContext connection) : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted
        {
            get => connection.ConnectionClosed;
            set => throw new NotSupportedException("the handshake's request is aborted with its connection");
        }

        public void Abort() => connection.Abort();
    }

    /// <summary>What the endpoint's upgrade check sees: the parser took only upgradable requests. The switch itself is <see cref="DirectUpgrade"/>'s.</summary>
    private sealed class Upgradable : IHttpUpgradeFeature
    {
        public static readonly Upgradable Instance = new();

        public bool IsUpgradableRequest => true;

        public Task<Stream> UpgradeAsync() => throw new NotSupportedException("the direct upgrade switches protocols itself, after the handshake");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Connection {ConnectionId}: the head of a WebSocket upgrade did not arrive within {TimeoutSeconds} s (Kestrel:Limits:RequestHeadersTimeout); answered 408")]
        public static partial void HeadTimedOut(ILogger logger, string connectionId, double timeoutSeconds);
    }
}

/// <summary>
/// The handshake's response, held in memory until the handshake is done: then it becomes the 101
/// or the refusal that <see cref="DirectUpgrade"/> writes itself. Callbacks registered to run as it
/// starts (CORS adds its headers in one) run then, last registered first, as Kestrel runs them.
/// </summary>
internal sealed class HandshakeResponse : IHttpResponseFeature, IHttpResponseBodyFeature
{
    private readonly MemoryStream _body = new();
    private readonly List<(Func<object, Task> Callback, object State)> _starting = [];
    private PipeWriter? _writer;
    private bool _started;

    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public string? ReasonPhrase { get; set; }

    public IHeaderDictionary Headers { get; set; } = new HeaderDictionary();

    /// <summary>The body so far.</summary>
    Stream IHttpResponseFeature.Body
    {
        get => _body;
        set => throw new NotSupportedException("the handshake's response body is held in memory");
    }

    public Stream Stream => _body;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(_body, new StreamPipeWriterOptions(leaveOpen: true));

    /// <summary>False until the answer is written: the failure middleware may still clear it and answer otherwise.</summary>
    public bool HasStarted => false;

    /// <summary>What the endpoint wrote, flushed.</summary>
    public byte[] Body => _body.ToArray();

    public void OnStarting(Func<object, Task> callback, object state) => _starting.Add((callback, state));

    public void OnCompleted(Func<object, Task> callback, object state)
    {
        // Nothing on the handshake's path registers one; the connection has its own end.
    }

    public void DisableBuffering()
    {
    }

    /// <summary>Runs the starting callbacks once, last registered first; the head is fixed after this.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_started)
        {
            return;
        }

        _started = true;
        if (_writer is not null)
        {
            await _writer.FlushAsync(cancellationToken);
        }

        for (int i = _starting.Count - 1; i >= 0; i--)
        {
            await _starting[i].Callback(_starting[i].State);
        }
    }

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the handshake sends no files");

    public async Task CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync();
        }
    }
}
