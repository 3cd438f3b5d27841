using System.Buffers;
using System.IO.Pipelines;
using Gateway.Protocol.Framing;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    /// <summary>
    /// Reads frames until the close handshake ends or the transport does. Bad input never ends it:
    /// only the closes of spec section 3 do, and after one begins, data frames are skipped while
    /// the peer's close frame is awaited.
    /// </summary>
    private async Task ReceiveLoopAsync()
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _input.ReadAsync();
            }
            catch (Exception e) when (SendLoop.IsTransportFailure(e))
            {
                return;
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            long received = buffer.Length;
            if (received > 0)
            {
                Volatile.Write(ref _lastInbound, _env.Time.GetTimestamp());
            }

            bool done = false;
            bool more = true;
            while (more && !done)
            {
                WebSocketReadStatus status = _frames.TryRead(ref buffer);
                switch (status)
                {
                    case WebSocketReadStatus.NeedMore:
                        more = false;
                        break;
                    case WebSocketReadStatus.Text:
                        if (Volatile.Read(ref _state) == StateOpen)
                        {
                            _messagesIn++;
                            await HandleMessageAsync(_frames.Payload);
                        }

                        break;
                    case WebSocketReadStatus.Ping:
                        if (Volatile.Read(ref _state) == StateOpen)
                        {
                            Send(WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Pong, _frames.Payload.FirstSpan));
                        }

                        break;
                    case WebSocketReadStatus.Pong:
                        break;
                    case WebSocketReadStatus.Close:
                        OnPeerClose(_frames.CloseCode);
                        done = true;
                        break;
                    case WebSocketReadStatus.Binary:
                        CloseForBadInput(CloseCodes.UnsupportedData, "binary frames are not accepted; send JSON text frames");
                        break;
                    case WebSocketReadStatus.TooLarge:
                        CloseForBadInput(CloseCodes.MessageTooBig, $"message larger than {_env.MaxMessageBytes} bytes");
                        break;
                    case WebSocketReadStatus.InvalidUtf8:
                        CloseForBadInput(CloseCodes.InvalidPayload, "text frame is not valid UTF-8");
                        break;
                    case WebSocketReadStatus.ProtocolError:
                        // Frame boundaries are lost: the reader now swallows input until the peer
                        // closes or the close deadline aborts the socket.
                        CloseForBadInput(CloseCodes.ProtocolError, _frames.Problem);
                        more = false;
                        break;
                }
            }

            _env.Metrics.BytesReceived(received - buffer.Length);
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (done || result.IsCompleted)
            {
                return;
            }
        }
    }

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
            Log.ClosedForBadInput(_env.Logger, Id, Session, code, reason);
        }
    }

}
