using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// A thread that enters a critical section and stays in it until <see cref="Leave"/>; what
/// <c>read</c>, if given, returns inside the section (as a cell's content read there) is <see cref="Seen"/>.
/// </summary>
internal sealed class ThreadInSection : IDisposable
{
    private readonly ManualResetEventSlim _entered = new();
    private readonly ManualResetEventSlim _leave = new();
    private readonly Thread _thread;

    public ThreadInSection(Func<object>? read = null)
    {
        _thread = new Thread(() =>
        {
            var section = Epochs.Enter();
            Seen = read?.Invoke();
            _entered.Set();
            _leave.Wait();
            Epochs.Exit(section);
        })
        { IsBackground = true };
        _thread.Start();
        Assert.True(_entered.Wait(PausedCommit.Guard));
    }

    /// <summary>What the thread read inside its section, once the constructor returned.</summary>
    public object? Seen { get; private set; }

    public void Leave()
    {
        _leave.Set();
        Assert.True(_thread.Join(PausedCommit.Guard));
    }

    /// <summary>Lets the thread leave, if a failed assertion stopped the test before it did.</summary>
    public void Dispose() => _leave.Set();
}
