using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A TCP proxy between the store and the server, to lose connections on the client's side only.
/// <see cref="Cut"/> closes the client's end of every open connection and keeps the server's end open
/// (what the server sends is dropped), so a batch the server has received runs to its end, and commits,
/// while its client sees a broken connection; it may also refuse new connections until <see cref="Restore"/>.
/// <see cref="Drop"/> and <see cref="DropAfterNextSync"/> break connections on both sides instead: the
/// server reads the end of its client's input after what it received, runs that to its end and closes
/// the session, and <see cref="DroppedClosedAsync"/> completes once it has.
/// </summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Pair, byte> _pairs = new();
    private readonly ConcurrentBag<Task> _dropped = [];
    private readonly Task _accepting;
    private volatile bool _refusing;
    private int _dropAfterSync;
    private int _holdNextSync;
    private (Pair Pair, byte[] Chunk)? _held;
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _stallOn;

    public TcpProxy(string connectionString)
    {
        var server = new NpgsqlConnectionStringBuilder(connectionString);
        _host = server.Host ?? "127.0.0.1";
        _port = server.Port;
        _listener.Start();
        ConnectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Host = "127.0.0.1",
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port,
        }.ConnectionString;
        _accepting = AcceptAsync();
    }

    /// <summary>The connection string through the proxy.</summary>
    public string ConnectionString { get; }

    /// <summary>How many proxied connections are open: a pair leaves once both its ends are closed.</summary>
    public int OpenConnections => _pairs.Count;

    /// <summary>Breaks every open connection on the client's side; with <paramref name="refuseNew"/>, new connections fail until <see cref="Restore"/>.</summary>
    public void Cut(bool refuseNew)
    {
        _refusing = refuseNew;
        foreach (var pair in _pairs.Keys)
        {
            pair.Cut();
        }
    }

    /// <summary>Breaks every open connection on both sides: the client sees it broken, the server sees its client leave.</summary>
    /// <param name="refuseNew">Whether new connections fail until <see cref="Restore"/>.</param>
    public void Drop(bool refuseNew = false)
    {
        _refusing = refuseNew;
        foreach (var pair in _pairs.Keys)
        {
            DropPair(pair);
        }
    }

    /// <summary>
    /// Breaks, on both sides, the next connection that sends a chunk ending with a Sync message (the end of
    /// a batch in the extended protocol), right after that chunk reached the server: the server runs the
    /// whole batch to its end (it commits, or fails, as it would have), and its client never hears. The
    /// client sees its connection break only once the server has closed it, so the batch has ended by then
    /// (a loss of the server's answer, not a loss of the connection while the batch may still be unread).
    /// </summary>
    /// <param name="refuseNew">Whether new connections fail, from now until <see cref="Restore"/>.</param>
    public void DropAfterNextSync(bool refuseNew = false)
    {
        _refusing = refuseNew;
        Volatile.Write(ref _dropAfterSync, 1);
    }

    /// <summary>
    /// Holds back the next chunk a client sends that ends with a Sync message (the end of a batch) and cuts
    /// that client's end at once: the client sees its connection break while the server has not yet read
    /// the batch, as when the network fails with the batch still on its way. <see cref="ReleaseHeldAsync"/>
    /// delivers it later, and the server runs it then.
    /// </summary>
    public void HoldNextSync() => Volatile.Write(ref _holdNextSync, 1);

    /// <summary>
    /// From now on, swallows every chunk a client sends that holds <paramref name="text"/> (a statement's text, which
    /// its Parse message carries), and keeps the connection open: its client waits for an answer that never comes, as
    /// from a server that stopped responding. <see cref="Stalled"/> completes once one was swallowed.
    /// </summary>
    public void StallOn(string text) => Volatile.Write(ref _stallOn, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Completes once <see cref="StallOn"/> swallowed a chunk.</summary>
    public Task Stalled => _stalled.Task;

    /// <summary>Delivers the held batch to the server, ends the server's input, and completes once the server has run it and closed.</summary>
    public async Task ReleaseHeldAsync()
    {
        var (pair, chunk) = _held ?? throw new InvalidOperationException("No batch is held.");
        _held = null;
        await pair.ReleaseAsync(chunk);
    }

    /// <summary>Completes once the server has closed every connection dropped so far: what it received has run to its end.</summary>
    public Task DroppedClosedAsync() => Task.WhenAll(_dropped);

    /// <summary>Accepts new connections again.</summary>
    public void Restore() => _refusing = false;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        foreach (var pair in _pairs.Keys)
        {
            pair.Close();
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_refusing)
            {
                client.Close();
                continue;
            }

            var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(_host, _port);
            var pair = new Pair(this, client, server);
            _pairs.TryAdd(pair, 0);
            pair.Running = pair.RunAsync().ContinueWith(done => _pairs.TryRemove(pair, out var _), TaskScheduler.Default);
        }
    }

    private void DropPair(Pair pair, bool clientLast = false)
    {
        // Noted before the client can see anything, so that a client that saw the drop waits for its end.
        _dropped.Add(pair.Running ?? Task.CompletedTask);
        pair.Drop(clientLast);
    }

    /// <summary>Whether a chunk sent to the server ends with a Sync message ('S', length 4), and a drop after one is armed.</summary>
    private bool DropsAfter(ReadOnlySpan<byte> chunk) =>
        Volatile.Read(ref _dropAfterSync) == 1
        && chunk.EndsWith((ReadOnlySpan<byte>)[(byte)'S', 0, 0, 0, 4])
        && Interlocked.Exchange(ref _dropAfterSync, 0) == 1;

    private bool Stalls(ReadOnlySpan<byte> chunk)
    {
        if (Volatile.Read(ref _stallOn) is not { } text || chunk.IndexOf(text) < 0)
        {
            return false;
        }

        _stalled.TrySetResult();
        return true;
    }

    private bool Holds(ReadOnlySpan<byte> chunk) =>
        Volatile.Read(ref _holdNextSync) == 1
        && chunk.EndsWith((ReadOnlySpan<byte>)[(byte)'S', 0, 0, 0, 4])
        && Interlocked.Exchange(ref _holdNextSync, 0) == 1;

    /// <summary>One proxied connection: a client socket and a server socket, pumped both ways.</summary>
    private sealed class Pair(TcpProxy proxy, Socket client, Socket server)
    {
        private volatile bool _cut;
        private int _dropped;

        /// <summary>The pumps, until both ends are closed.</summary>
        public Task? Running { get; set; }

        /// <summary>
        /// Ends the server's input (the server finishes what it received, then closes) and cuts the client's
        /// end: at once, or, with <paramref name="clientLast"/>, once the server has closed.
        /// </summary>
        public void Drop(bool clientLast)
        {
            if (Interlocked.Exchange(ref _dropped, 1) == 1)
            {
                return;
            }

            if (clientLast)
            {
                _cut = true; // What the server sends is dropped; DownAsync closes the client's end when the server closes.
            }
            else
            {
                Cut();
            }

            try
            {
                server.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The server had closed it already.
            }
        }

        /// <summary>Sends a held chunk, ends the server's input, and waits until the server closed.</summary>
        public async Task ReleaseAsync(byte[] chunk)
        {
            await server.SendAsync(chunk, SocketFlags.None);
            server.Shutdown(SocketShutdown.Send);
            await (Running ?? Task.CompletedTask);
        }

        public void Cut()
        {
            _cut = true;
            client.Close();
        }

        public void Close()
        {
            client.Close();
            server.Close();
        }

        public Task RunAsync() => Task.WhenAll(Task.Run(UpAsync), Task.Run(DownAsync));

        /// <summary>Client to server; a client that closes closes the server's end too, but a cut leaves it open.</summary>
        private async Task UpAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await client.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    if (proxy.Stalls(buffer.AsSpan(0, read)))
                    {
                        continue;
                    }

                    if (proxy.Holds(buffer.AsSpan(0, read)))
                    {
                        proxy._held = (this, buffer[..read]);
                        Cut();
                        return;
                    }

                    // Decided before the chunk goes, so that no answer to it can reach the client.
                    var dropAfter = proxy.DropsAfter(buffer.AsSpan(0, read));
                    _cut |= dropAfter;
                    await server.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                    if (dropAfter)
                    {
                        proxy.DropPair(this, clientLast: true);
                        return;
                    }
                }

                if (!_cut)
                {
                    server.Shutdown(SocketShutdown.Send);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Cut, or closed: the server's end is left to DownAsync.
            }
        }

        /// <summary>Server to client, until the server closes; after a cut, what the server sends is read and dropped.</summary>
        private async Task DownAsync()
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await server.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    if (_cut)
                    {
                        continue;
                    }

                    try
                    {
                        await client.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                    }
                    catch (Exception e) when (_cut && e is SocketException or ObjectDisposedException)
                    {
                        // Cut while sending: keep draining the server.
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed by the proxy's disposal.
            }
            finally
            {
                Close();
            }
        }
    }
}
