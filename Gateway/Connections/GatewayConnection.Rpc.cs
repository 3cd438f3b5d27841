using Gateway.Hooks;
using Gateway.Protocol.Messages;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    // Calls of this connection waiting for the backend, bounded by Hooks:MaxRpcInFlight.
    private int _rpcInFlight;

    /// <summary>
    /// Starts a client's <c>rpc</c> (spec section 13) and returns at once: the backend's answer
    /// comes back through the send queue whenever it arrives, so that a slow backend holds up
    /// neither this connection's other messages nor its other calls. The reply echoes the
    /// message's id; a connection closed meanwhile drops it.
    /// </summary>
    private void StartRpc(RpcRequest rpc)
    {
        RpcClient client = Env.Rpc;
        if (!client.IsConfigured)
        {
            client.Refused(RpcOutcome.Unavailable);
            SendError(rpc.Id, ErrorCode.Unavailable, RpcAnswer.Unconfigured.Message);
            return;
        }

        if (Interlocked.Increment(ref _rpcInFlight) > client.MaxInFlight)
        {
            Interlocked.Decrement(ref _rpcInFlight);
            client.Refused(RpcOutcome.RateLimited);
            SendError(rpc.Id, ErrorCode.RateLimited,
                $"this connection has {client.MaxInFlight} rpc calls waiting for the backend already (Gateway:Hooks:MaxRpcInFlight); send more once some are answered");
            return;
        }

        _ = CallAsync(client, new RpcCall(rpc.Id, rpc.Method, rpc.Data, Session, Id, Identity.User));
    }

    private async Task CallAsync(RpcClient client, RpcCall call)
    {
        try
        {
            // Off the receive loop before the first byte of HTTP work.
            await Task.Yield();
            RpcAnswer answer = await client.CallAsync(call);
            if (!IsOpen)
            {
                return;
            }

            if (answer.Outcome == RpcOutcome.Ok)
            {
                Send(new RpcResultMessage(call.Id, answer.Data));
            }
            else
            {
                SendError(call.Id, answer.Code, answer.Message);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _rpcInFlight);
        }
    }
}
