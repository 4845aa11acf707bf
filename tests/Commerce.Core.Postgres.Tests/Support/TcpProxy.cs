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
/// </summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Pair, byte> _pairs = new();
    private readonly Task _accepting;
    private volatile bool _refusing;

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

    /// <summary>Breaks every open connection on the client's side; with <paramref name="refuseNew"/>, new connections fail until <see cref="Restore"/>.</summary>
    public void Cut(bool refuseNew)
    {
        _refusing = refuseNew;
        foreach (var pair in _pairs.Keys)
        {
            pair.Cut();
        }
    }

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
            var pair = new Pair(client, server);
            _pairs.TryAdd(pair, 0);
            _ = pair.RunAsync().ContinueWith(done => _pairs.TryRemove(pair, out var _), TaskScheduler.Default);
        }
    }

    /// <summary>One proxied connection: a client socket and a server socket, pumped both ways.</summary>
    private sealed class Pair(Socket client, Socket server)
    {
        private volatile bool _cut;

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
                    await server.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
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
