using System.Buffers;
using Gateway.Log;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    /// <summary>
    /// Answers one client message. Bad input gets an <c>error</c> reply; the connection stays open.
    /// Every message counts against the rate before it is decoded, so that undecodable ones cannot
    /// draw unlimited replies.
    /// </summary>
    private async ValueTask HandleMessageAsync(ReadOnlySequence<byte> payload)
    {
        RateDecision rate = Env.MessagesPerSecond > 0
            ? _messageRate.TakeMessage(Env.Time.GetTimestamp(), Env.MessagesPerSecond, Env.MessageBurst, Env.Time.TimestampFrequency)
            : RateDecision.Allowed;
        if (rate == RateDecision.Abused)
        {
            Evict(CloseCodes.PolicyViolation, "rate limit abused", "rate_limit");
            return;
        }

        // A limited message is still decoded, for the id its rate_limited reply echoes: that costs
        // no more than an error reply would, and a whole burst of them ends in the 1008 above.
        if (!ClientMessageDecoder.TryDecode(payload, out ClientMessage? message, out ProtocolError error))
        {
            if (rate == RateDecision.Limited)
            {
                SendRateLimited(error.Id);
                return;
            }

            if (_principal is null)
            {
                Evict(CloseCodes.PolicyViolation, FirstMessageRequired, "auth_required");
                return;
            }

            SendError(error.Id, error.Code, error.Message);
            return;
        }

        if (rate == RateDecision.Limited)
        {
            SendRateLimited(message.Id);
            return;
        }

        if (_principal is null)
        {
            await AuthenticateFirstAsync(message);
            return;
        }

        try
        {
            switch (message)
            {
                case PingMessage ping:
                    Send(new PongMessage(ping.Id, ping.Ts, Env.Time.GetUtcNow().ToUnixTimeMilliseconds()));
                    break;

                case SubscribeMessage subscribe:
                    if (_filter.TrySubscribe(subscribe, out EventFilter widened))
                    {
                        _filter = widened;
                        Send(new SubscribedMessage(subscribe.Id, widened.Names));
                    }
                    else
                    {
                        SendError(subscribe.Id, ErrorCode.InvalidMessage, FilterTooLarge);
                    }

                    break;

                case UnsubscribeMessage unsubscribe:
                    if (_filter.TryUnsubscribe(unsubscribe, out EventFilter narrowed))
                    {
                        _filter = narrowed;
                        Send(new SubscribedMessage(unsubscribe.Id, narrowed.Names));
                    }
                    else
                    {
                        SendError(unsubscribe.Id, ErrorCode.InvalidMessage, UnsubscribeFromAll);
                    }

                    break;

                case StatusRequest status:
                    await SendStatusAsync(status);
                    break;

                case PublishMessage publish:
                    await PublishAsync(publish);
                    break;

                case ResumeMessage resume when Membership is { } membership:
                    await membership.ReplayAsync(new ResumePoint(resume.Since, resume.Epoch), replay => SendReplay(replay, resume.Id), Link.Aborted);
                    break;

                case AuthMessage auth:
                    await ReauthenticateAsync(auth);
                    break;

                case PresenceRequest presence:
                    await SendPresenceAsync(presence);
                    break;

                case RpcRequest rpc:
                    // Started, never awaited: the backend's answer must not hold up this loop.
                    StartRpc(rpc);
                    break;
            }
        }
        catch (BackplaneUnavailableException e)
        {
            // Redis did not answer: this request fails, the connection stays.
            SendError(message.Id, ErrorCode.Unavailable, $"the session store did not answer ({e.Message}); retry");
        }
    }

    private async ValueTask SendStatusAsync(StatusRequest request)
    {
        SessionSnapshot? snapshot = await Env.Hub.GetSessionAsync(Session, Link.Aborted);
        Send(new StatusReply(request.Id, Session, snapshot?.Seq ?? 0, snapshot?.Epoch ?? "", snapshot?.Clients ?? 0, snapshot?.Complete ?? false, snapshot?.State ?? [], snapshot?.Keyed ?? []));
    }

    private async ValueTask PublishAsync(PublishMessage publish)
    {
        bool granted = Env.AllowClientPublish
            || (_principal is { Kind: not CredentialKind.Anonymous } principal && principal.Publish.Allows(Session));
        if (!granted)
        {
            SendError(publish.Id, ErrorCode.Forbidden, "this client may not publish here: it needs a token whose publish claim grants the session (or Gateway:Security:AllowClientPublish); publish over HTTP instead");
            return;
        }

        // A client can never complete a session for everyone in it: that is the backend's call.
        if (publish.Final)
        {
            SendError(publish.Id, ErrorCode.Forbidden, "a client may not publish a final event: only a publisher over HTTP can complete a session; leave out \"final\"");
            return;
        }

        if (!Settings.ClientPublishEvents.Allows(publish.Event))
        {
            SendError(publish.Id, ErrorCode.Forbidden,
                $"a client may not publish \"{publish.Event}\" here: {Settings.ClientPublishEventsKey} allows {Settings.ClientPublishEvents.Text}");
            return;
        }

        // The event says which connection (and user) published it; no publisher can set this itself.
        PublishResult result = await Env.Hub.PublishAsync(
            Session, [new PublishRequest(publish.Event, publish.Data, From: new EventOrigin(Id, Identity.User), Traits: publish.Traits)], Link.Aborted);
        switch (result.Status)
        {
            case PublishStatus.Accepted:
                Send(new AckMessage(publish.Id, result.Seqs[0]));
                break;
            case PublishStatus.SessionComplete:
                SendError(publish.Id, ErrorCode.Forbidden, "the session is complete: a final event ended it, and it takes no more events");
                break;
            case PublishStatus.TooManyEventNames:
                SendError(publish.Id, ErrorCode.InvalidMessage, "the session has as many event names as it may (Gateway:Sessions:MaxEventNames); reuse a name");
                break;
            case PublishStatus.TooManyKeys:
                SendError(publish.Id, ErrorCode.InvalidMessage, PublishRefusals.TooManyKeys);
                break;
            case PublishStatus.AssembledTooLarge:
                SendError(publish.Id, ErrorCode.InvalidMessage, PublishRefusals.AssembledTooLarge);
                break;
            default:
                SendError(publish.Id, ErrorCode.Unavailable, "the gateway cannot take more events now (history memory or session limit); retry later");
                break;
        }
    }

    /// <summary>A first-message client's first message: it must be a valid auth that grants this session.</summary>
    private async ValueTask AuthenticateFirstAsync(ClientMessage message)
    {
        if (message is not AuthMessage auth)
        {
            Evict(CloseCodes.PolicyViolation, FirstMessageRequired, "auth_required");
            return;
        }

        if (await CheckTokenAsync(auth) is { } principal)
        {
            _principal = principal;
            Identity = ClientIdentity.Of(principal);
            await JoinAsync();
        }
    }

    /// <summary>A fresh token on a live connection extends its life; a bad one ends it.</summary>
    private async ValueTask ReauthenticateAsync(AuthMessage auth)
    {
        if (!Env.Authenticator.Enabled)
        {
            // Auth is off (Auth:Mode none): there is nothing to check, and no reply on success.
            return;
        }

        if (await CheckTokenAsync(auth) is { } principal)
        {
            _principal = principal;
        }
    }

    /// <summary>Validates an auth message's token; on failure the client gets <c>forbidden</c> and a 1008 close.</summary>
    private async ValueTask<GatewayPrincipal?> CheckTokenAsync(AuthMessage auth)
    {
        AuthResult result = await Env.Authenticator.ValidateTokenAsync(auth.Token);
        string? problem = result.Principal is null ? result.Message
            : !result.Principal.MayWatch(Session) ? $"the token does not grant session '{Session}'"
            : null;
        if (problem is null)
        {
            return result.Principal;
        }

        SendError(auth.Id, ErrorCode.Forbidden, problem);
        Evict(CloseCodes.PolicyViolation, "authentication failed", "auth_failed");
        return null;
    }

    private void SendRateLimited(JsonScalar? id) => SendError(id, ErrorCode.RateLimited,
        $"more than {Env.MessagesPerSecond} messages a second (burst {Env.MessageBurst}); this message was dropped, slow down");

    private void SendError(JsonScalar? id, ErrorCode code, string text)
    {
        string wireCode = code.ToWireName();
        Env.Metrics.ProtocolError(wireCode);
        Send(new ErrorMessage(id, code, text));
    }

    private const string FirstMessageRequired = "authentication required: send {\"type\":\"auth\",\"token\":\"...\"} first";
    private const string FilterTooLarge = "the filter may hold at most 256 event names; unsubscribe from some, or subscribe to [\"*\"] for every event";
    private const string UnsubscribeFromAll = "the filter is every event, so there is nothing to unsubscribe from; subscribe to the names you want instead";
}
