using Gateway.Http;
using Gateway.Hub;
using Gateway.Protocol.Messages;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    /// <summary>Answers <c>presence</c>: who is connected to the session, on every node (spec section 17).</summary>
    private async ValueTask SendPresenceAsync(PresenceRequest request)
    {
        if (!Settings.Presence)
        {
            SendError(request.Id, ErrorCode.Forbidden, PresenceEndpoints.Disabled(Settings));
            return;
        }

        PresenceView? view = await Env.Hub.GetPresenceAsync(Session, Link.Aborted);
        Send(PresenceEndpoints.Reply(request.Id, Session, view));
    }
}
