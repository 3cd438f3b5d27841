using System.Buffers;
using System.IO.Pipelines;
using Gateway.Protocol.Framing;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    /// <summary>
    /// Reads frames until the close handshake ends or the transport does. Bad input never ends it:
    /// only the closes of spec section 3 do. After a close begins, data frames are skipped while
    /// the peer's close frame is awaited, except after a protocol error, an oversized message or
    /// invalid UTF-8: those fail the connection, and nothing more is read.
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
                Volatile.Write(ref _lastInbound, Env.Time.GetTimestamp());
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
                        if (IsOpen)
                        {
                            _messagesIn++;
                            await HandleMessageAsync(_frames.Payload);
                        }

                        break;
                    case WebSocketReadStatus.Ping:
                        if (IsOpen)
                        {
                            Enqueue(WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Pong, _frames.Payload.FirstSpan));
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
                        // The header alone may promise gigabytes: reading on to find the peer's
                        // close frame behind them would only spend the close timeout.
                        CloseForBadInput(CloseCodes.MessageTooBig, $"message larger than {Env.MaxMessageBytes} bytes");
                        done = true;
                        break;
                    case WebSocketReadStatus.InvalidUtf8:
                        // RFC 6455 section 8.1: invalid UTF-8 fails the connection.
                        CloseForBadInput(CloseCodes.InvalidPayload, "text frame is not valid UTF-8");
                        done = true;
                        break;
                    case WebSocketReadStatus.ProtocolError:
                        // Frame boundaries are lost, so the peer's close frame could never be
                        // found: RFC 6455 sections 5.5.1 and 7.1.7 say send ours and close TCP.
                        CloseForBadInput(CloseCodes.ProtocolError, _frames.Problem);
                        done = true;
                        break;
                }
            }

            Env.Metrics.BytesReceived(received - buffer.Length);
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
            Log.ClosedForBadInput(Env.Logger, Id, Session, code, reason);
        }
    }

}
