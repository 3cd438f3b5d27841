using System.Buffers;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    /// <summary>Answers one client message. Bad input gets an <c>error</c> reply; the connection stays open.</summary>
    private async ValueTask HandleMessageAsync(ReadOnlySequence<byte> payload)
    {
        if (!ClientMessageDecoder.TryDecode(payload, out ClientMessage? message, out ProtocolError error))
        {
            SendError(error.Id, error.Code, error.Message);
            return;
        }

        switch (message)
        {
            case PingMessage ping:
                Send(new PongMessage(ping.Id, ping.Ts, _env.Time.GetUtcNow().ToUnixTimeMilliseconds()));
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

            case ResumeMessage resume:
                await _membership!.ReplayAsync(resume.Since, replay => SendReplay(replay, resume.Id), _http.RequestAborted);
                break;

            case AuthMessage:
                // Auth is off (Auth:Mode none): there is nothing to check, and no reply on success.
                break;

            case RpcRequest rpc:
                SendError(rpc.Id, ErrorCode.Unavailable, "this gateway has no RPC backend configured");
                break;
        }
    }

    private async ValueTask SendStatusAsync(StatusRequest request)
    {
        SessionSnapshot? snapshot = await _env.Backplane.GetSessionAsync(Session, _http.RequestAborted);
        Send(new StatusReply(request.Id, Session, snapshot?.Seq ?? 0, snapshot?.Clients ?? 0, snapshot?.Complete ?? false, snapshot?.State ?? []));
    }

    private async ValueTask PublishAsync(PublishMessage publish)
    {
        if (!_env.AllowClientPublish)
        {
            SendError(publish.Id, ErrorCode.Forbidden, "clients may not publish on this gateway (Gateway:Security:AllowClientPublish is false); publish over HTTP instead");
            return;
        }

        PublishResult result = await _env.Backplane.PublishAsync(
            Session, [new PublishRequest(publish.Event, publish.Data, Final: publish.Final)], _http.RequestAborted);
        if (result.Status == PublishStatus.SessionComplete)
        {
            SendError(publish.Id, ErrorCode.Forbidden, "the session is complete: a final event ended it, and it takes no more events");
            return;
        }

        Send(new AckMessage(publish.Id, result.Seqs[0]));
    }

    private void SendError(JsonScalar? id, ErrorCode code, string text)
    {
        string wireCode = code.ToWireName();
        _env.Metrics.ProtocolError(wireCode);
        Send(new ErrorMessage(id, code, text));
    }

    private const string FilterTooLarge = "the filter may hold at most 256 event names; unsubscribe from some, or subscribe to [\"*\"] for every event";
    private const string UnsubscribeFromAll = "the filter is every event, so there is nothing to unsubscribe from; subscribe to the names you want instead";
}
