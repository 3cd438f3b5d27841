using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using Gateway.Client.Wire;
using Websocket.Client;

namespace Gateway.Client;

public sealed partial class GatewayClient
{
    /// <summary>
    /// Makes every connection, the first and each reconnection: Websocket.Client calls it whenever
    /// it needs a socket. The URL is built here, not once, because the position it resumes from
    /// moves with every event, and a ticket works once.
    /// </summary>
    /// <remarks>
    /// A reconnection keeps trying here, with the backoff, until it connects, the client closes,
    /// or the library cancels it. The library's own retry after a failed attempt is not used: it
    /// runs on a timer that races the reconnection that failed, and when the timer fires before
    /// that reconnection has finished, the retry is skipped and the client never tries again. Its
    /// connect timeout is not used either, since it would cut a backoff longer than itself:
    /// <see cref="GatewayClientOptions.ConnectTimeout"/> bounds each attempt instead. The very first
    /// connection is tried once; <see cref="StartAsync"/> reports its failure.
    /// </remarks>
    private async Task<WebSocket> ConnectAsync(Uri ignored, CancellationToken cancellationToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        while (true)
        {
            int attempt;
            (WebSocketCloseStatus? Status, string? Reason, Exception? Error) drop;
            lock (_gate)
            {
                if (_state == GatewayClientState.Closed)
                {
                    throw new OperationCanceledException("the client is closed");
                }

                attempt = _attempts++;
                drop = _lastDrop;
                if (attempt > 0)
                {
                    _state = GatewayClientState.Reconnecting;
                }
            }

            if (attempt > 0)
            {
                TimeSpan delay = Backoff(attempt);
                Raise(StateChanged, new GatewayStateChange
                {
                    State = GatewayClientState.Reconnecting,
                    Attempt = attempt,
                    Delay = delay,
                    CloseStatus = drop.Status,
                    CloseReason = drop.Reason,
                    Error = drop.Error,
                });
                await Task.Delay(delay, stopping.Token).ConfigureAwait(false);
            }

            try
            {
                return await HandshakeAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt > 0 && !stopping.IsCancellationRequested)
            {
                lock (_gate)
                {
                    _lastDrop = (null, null, e);
                }
            }
        }
    }

    /// <summary>One attempt: a new socket, its credentials, and the handshake, within <see cref="GatewayClientOptions.ConnectTimeout"/>.</summary>
    private async Task<WebSocket> HandshakeAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);
        var socket = new ClientWebSocket();
        try
        {
            socket.Options.AddSubProtocol("gateway.v1");
            socket.Options.CollectHttpResponseDetails = true;
            string? ticket = null;
            if (_options.TokenProvider is { } tokens)
            {
                socket.Options.SetRequestHeader("Authorization", "Bearer " + await tokens(timeout.Token).ConfigureAwait(false));
            }
            else if (_options.TicketProvider is { } tickets)
            {
                ticket = await tickets(timeout.Token).ConfigureAwait(false);
            }

            Uri url = BuildUrl(ticket);
            try
            {
                await socket.ConnectAsync(url, timeout.Token).ConfigureAwait(false);
            }
            catch (WebSocketException e)
            {
                throw new GatewayConnectException(_sessionUrl, (int)socket.HttpStatusCode, e);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new GatewayConnectException(_sessionUrl, 0, new TimeoutException($"no WebSocket handshake within ConnectTimeout ({_options.ConnectTimeout.TotalSeconds:0.###} s)", e));
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The session URL with this connection's query: where to resume, the filter, presence, who, and the ticket.</summary>
    private Uri BuildUrl(string? ticket)
    {
        var query = new StringBuilder();
        void Add(string name, string value) =>
            query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));

        lock (_gate)
        {
            if (_hasPosition)
            {
                Add("since", _lastSeq.ToString(CultureInfo.InvariantCulture));
                if (_epoch is not null)
                {
                    Add("epoch", _epoch);
                }
            }

            if (_filter is { Count: > 0 } filter)
            {
                Add("events", string.Join(',', filter));
            }
        }

        if (_options.Presence)
        {
            Add("presence", "true");
        }

        if (_options.User is { } user)
        {
            Add("user", user);
        }

        if (_options.Info is { } info)
        {
            Add("info", info.GetRawText());
        }

        if (ticket is not null)
        {
            Add("ticket", ticket);
        }

        return new Uri(_sessionUrl.GetLeftPart(UriPartial.Path) + query);
    }

    /// <summary>
    /// Exponential backoff with jitter: the n-th attempt since the last welcome waits between half
    /// and all of <c>ReconnectDelay * 2^(n-1)</c>, capped at <c>MaxReconnectDelay</c>. The jitter
    /// keeps a thousand clients dropped by one gateway restart from coming back in one instant.
    /// </summary>
    internal TimeSpan Backoff(int attempt)
    {
        double ceiling = Math.Min(
            _options.MaxReconnectDelay.TotalMilliseconds,
            _options.ReconnectDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    private void OnDisconnected(DisconnectionInfo info)
    {
        // Exit and ByUser come from this client's own disposal.
        if (info.Type is DisconnectionType.Exit or DisconnectionType.ByUser)
        {
            return;
        }

        if (info.Type == DisconnectionType.ByServer
            && info.CloseStatus == WebSocketCloseStatus.NormalClosure
            && info.CloseStatusDescription == "session complete")
        {
            // Websocket.Client reconnects after any close from the server unless reconnection is
            // off by the time this handler returns; a complete session has nothing more to give.
            _socket.IsReconnectionEnabled = false;
            Finish(new GatewayStateChange { State = GatewayClientState.Closed, CloseStatus = info.CloseStatus, CloseReason = info.CloseStatusDescription }, complete: true);
            return;
        }

        lock (_gate)
        {
            if (_state == GatewayClientState.Closed)
            {
                return;
            }

            _lastDrop = (info.CloseStatus, info.CloseStatusDescription, info.Exception);
            if (_state == GatewayClientState.Open)
            {
                _state = GatewayClientState.Reconnecting;
                _opened = NewSignal();
            }

            FailPending(new GatewayConnectionLostException());
        }
    }

    /// <summary>Closes the client for good: the event stream ends, pending requests fail, waiters wake up to find it closed.</summary>
    private void Finish(GatewayStateChange change, bool complete)
    {
        lock (_gate)
        {
            if (_state == GatewayClientState.Closed)
            {
                return;
            }

            _state = GatewayClientState.Closed;
            _complete = complete;
            _opened.TrySetResult();
            FailPending(complete
                ? new InvalidOperationException("the session completed before the gateway answered")
                : new ObjectDisposedException(nameof(GatewayClient)));
        }

        // Under the receive lock, so that no event of the connection being closed is written after the end.
        lock (_receiveLock)
        {
            _events.Writer.TryComplete();
        }

        Raise(StateChanged, change);
    }

    private void FailPending(Exception error)
    {
        foreach (string id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out TaskCompletionSource<WireMessage>? pending))
            {
                pending.TrySetException(error);
            }
        }
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception)
        {
            // A handler's failure must not break the receive loop or a reconnection (see the class remarks).
        }
    }
}
