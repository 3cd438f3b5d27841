using Gateway.Protocol.Framing;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    /// <summary>The peer sent its close frame: echo its code when it began the handshake; either way reading is over.</summary>
    private void OnPeerClose(ushort code)
    {
        ushort echo = code == CloseCodes.NoStatus ? CloseCodes.Normal : code;
        TryBeginClose(echo, string.Empty, discardPending: true);
    }

    private void CloseForBadInput(ushort code, string reason)
    {
        if (TryBeginClose(code, reason, discardPending: false))
        {
            Log.ClosedForBadInput(Env.Logger, Id, Session, code, reason);
        }
    }
}
