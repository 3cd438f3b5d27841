using System.Net.WebSockets;
using System.Text.Json;
using Gateway.Client.Wire;
using Websocket.Client;

namespace Gateway.Client;

public sealed partial class GatewayClient
{
    private void OnMessage(ResponseMessage message)
    {
        if (message.MessageType != WebSocketMessageType.Text || message.Text is null)
        {
            return;
        }

        WireMessage? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(message.Text, WireJsonContext.Default.WireMessage);
        }
        catch (JsonException)
        {
            // The gateway sends valid JSON; a message this client cannot read (a newer field of an
            // unexpected type) is skipped rather than tearing the connection down.
            return;
        }

        if (parsed?.Type is null)
        {
            return;
        }

        lock (_receiveLock)
        {
            switch (parsed.Type)
            {
                case "welcome":
                    OnWelcome(parsed);
                    break;
                case "event":
                    OnEvent(parsed);
                    break;
                case "resumed":
                    Raise(Resumed, new GatewayResume(parsed.Since ?? 0, parsed.Replayed ?? 0, parsed.Complete ?? false, parsed.Epoch));
                    break;
                case "join":
                    Raise(PresenceChanged, new PresenceChange([Member(parsed)], []));
                    break;
                case "leave":
                    Raise(PresenceChanged, new PresenceChange([], [Member(parsed)]));
                    break;
                case "presence_diff":
                    Raise(PresenceChanged, new PresenceChange(ToMembers(parsed.Joined), ToMembers(parsed.Left)));
                    break;
                case "pong" when parsed.Id is null:
                    if (long.TryParse(parsed.Ts, out long sent))
                    {
                        Interlocked.Exchange(ref _latencyTicks, TimeSpan.FromMilliseconds(Math.Max(0, Environment.TickCount64 - sent)).Ticks);
                    }

                    break;
                default:
                    // A reply: it echoes the id of the request it answers. An error without an id
                    // answers nothing this client waits for.
                    if (parsed.Id is not null && _pending.TryRemove(parsed.Id, out TaskCompletionSource<WireMessage>? pending))
                    {
                        pending.TrySetResult(parsed);
                    }

                    break;
            }
        }
    }

    private void OnWelcome(WireMessage welcome)
    {
        TaskCompletionSource opened;
        lock (_gate)
        {
            if (_state == GatewayClientState.Closed)
            {
                return;
            }

            if (!_hasPosition)
            {
                // No position asked for: events from the session's seq at joining on are delivered,
                // and a reconnection resumes from here.
                _hasPosition = true;
                _lastSeq = welcome.Seq ?? 0;
                _epoch = welcome.Epoch;
            }
            else if (welcome.Epoch is not null && _epoch is not null && welcome.Epoch != _epoch)
            {
                // The session began a new life: its seqs start again at 1, and the gateway replays
                // the new life from its start. The old position means nothing any more.
                _epoch = welcome.Epoch;
                _lastSeq = 0;
                _epochChangedPending = true;
            }
            else
            {
                _epoch ??= welcome.Epoch;
            }

            _connectionId = welcome.Connection;
            _state = GatewayClientState.Open;

            // The next drop's first reconnection waits the first backoff step.
            _attempts = 1;
            opened = _opened;
        }

        opened.TrySetResult();
        Raise(StateChanged, new GatewayStateChange { State = GatewayClientState.Open });
    }

    private void OnEvent(WireMessage message)
    {
        if (message.Seq is not long seq || message.Event is null)
        {
            return;
        }

        bool epochChanged;
        string? epoch;
        lock (_gate)
        {
            // A replay may bring again what a connection already delivered (the gateway replays
            // all it holds after since); seqs only grow within a life, so the seq tells.
            if (_state == GatewayClientState.Closed || (_hasPosition && seq <= _lastSeq))
            {
                return;
            }

            _hasPosition = true;
            _lastSeq = seq;
            epoch = _epoch;
            epochChanged = _epochChangedPending;
            _epochChangedPending = false;
        }

        _events.Writer.TryWrite(new GatewayEvent
        {
            Session = message.Session ?? "",
            Name = message.Event,
            Seq = seq,
            Epoch = epoch,
            EpochChanged = epochChanged,
            Timestamp = ParseTime(message.Ts),
            Data = OrNull(message.Data),
            Key = message.Key,
            Append = message.Append ?? false,
            Conflated = message.Conflated ?? 0,
            From = ToSender(message.From),
        });
    }

    private static PresenceMember Member(WireMessage message) =>
        new(message.Connection ?? "", message.User, OrNull(message.Info), null);
}
