using System.Net.Sockets;

namespace Peers.Floor;

/// <summary>
/// One WebSocket client. Inline, <see cref="Send"/> is one <c>send()</c> under the client's lock.
/// Batched, it appends the frame to the client's pending bytes and hands the client to the
/// <see cref="BatchSender"/>, whose thread writes everything pending with one <c>send()</c>.
/// </summary>
internal sealed class Client(Socket socket, BatchSender? sender)
{
    /// <summary>Pending bytes past which a batched client counts as too slow and is dropped.</summary>
    private const int MaxPendingBytes = 1 << 20;

    private readonly Lock _lock = new();
    private byte[] _pending = [];
    private byte[] _spare = [];
    private int _pendingCount;
    private bool _queued;
    private bool _closeAfterFlush;
    private bool _closed;

    public Socket Socket => socket;

    public void Send(byte[] frame) => Write(frame, last: false);

    /// <summary>Writes the 101 answer and joins the session as one step: no event can reach the socket before the 101.</summary>
    public void Open(byte[] switchingProtocols, SessionRegistry sessions, string session)
    {
        lock (_lock)
        {
            sessions.Join(session, this);
            Write(switchingProtocols, last: false);
        }
    }

    /// <summary>Writes a last frame (the close answer); nothing is written after it, and the socket is closed once it is out.</summary>
    public void SendLast(byte[] frame) => Write(frame, last: true);

    /// <summary>Closes the socket now; pending bytes are lost.</summary>
    public void Abort()
    {
        lock (_lock)
        {
            _closed = true;
        }

        socket.Dispose();
    }

    /// <summary>Batched mode, on the sender thread: writes everything pending with one call.</summary>
    public void Flush()
    {
        byte[] sending;
        int count;
        bool last;
        lock (_lock)
        {
            // Publishers go on filling the other buffer while this one is written.
            (sending, _pending, _spare) = (_pending, _spare, _pending);
            count = _pendingCount;
            _pendingCount = 0;
            _queued = false;
            last = _closeAfterFlush;
        }

        try
        {
            socket.Send(sending.AsSpan(0, count));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Abort();
            return;
        }

        if (last)
        {
            socket.Dispose();
        }
    }

    private void Write(ReadOnlySpan<byte> bytes, bool last)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = last;
            if (sender is null)
            {
                try
                {
                    // Blocking: returns when the kernel has taken every byte (or the send timeout hit).
                    socket.Send(bytes);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    _closed = true;
                    socket.Dispose();
                    return;
                }

                if (last)
                {
                    socket.Dispose();
                }

                return;
            }

            if (_pendingCount + bytes.Length > MaxPendingBytes)
            {
                _closed = true;
                socket.Dispose();
                return;
            }

            if (_pendingCount + bytes.Length > _pending.Length)
            {
                Array.Resize(ref _pending, Math.Max(_pending.Length * 2, Math.Max(256, _pendingCount + bytes.Length)));
            }

            bytes.CopyTo(_pending.AsSpan(_pendingCount));
            _pendingCount += bytes.Length;
            _closeAfterFlush = last;
            if (!_queued)
            {
                _queued = true;
                sender.Enqueue(this);
            }
        }
    }
}
