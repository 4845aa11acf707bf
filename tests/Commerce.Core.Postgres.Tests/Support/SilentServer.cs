using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// A server that accepts TCP connections on a loopback port and never answers on them: a hung server, or one behind a
/// network that lets the connection through and then drops what follows. A client's connection attempt succeeds at the
/// socket and then waits for the server's first message. Disposing it closes every connection it accepted.
/// </summary>
internal sealed class SilentServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentBag<Socket> _accepted = [];
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Starts listening on a free loopback port.</summary>
    public SilentServer()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>A connection string to this server, with the connection timeout given (seconds).</summary>
    public string ConnectionString(int timeoutSeconds) =>
        $"Host=127.0.0.1;Port={((IPEndPoint)_listener.LocalEndpoint).Port};Username=nobody;Password=none;Database=shop;Timeout={timeoutSeconds}";

    /// <summary>Completes once the first connection has been accepted.</summary>
    public Task Accepted => _first.Task;

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var socket in _accepted)
        {
            socket.Dispose();
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                _accepted.Add(await _listener.AcceptSocketAsync(_stop.Token));
                _first.TrySetResult();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }
}
