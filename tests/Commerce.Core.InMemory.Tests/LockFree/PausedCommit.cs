using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// Runs a commit on its own thread and parks that thread inside the after-install hook, so that the
/// descriptor sits undecided in some cells until <see cref="Resume"/>. Only the first matching call
/// parks; a stuck test fails through the join timeout rather than hanging.
/// </summary>
internal sealed class PausedCommit : IDisposable
{
    /// <summary>A guard against a hang, not a timing assertion: every wait here should end at once.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly ManualResetEventSlim _installed = new();
    private readonly ManualResetEventSlim _resume = new();
    private readonly Func<CommitDescriptor, int, bool> _pauseAt;
    private readonly Thread _thread;
    private Thread? _owner;
    private int _paused;

    public PausedCommit(Func<CommitDescriptor, int, bool> pauseAt, Func<Action<CommitDescriptor, int>, bool> commit)
    {
        _pauseAt = pauseAt;
        _thread = new Thread(() => Outcome = commit(Hook)) { IsBackground = true };
    }

    /// <summary>The descriptor that is parked, once <see cref="Start"/> returned.</summary>
    public CommitDescriptor? Descriptor { get; private set; }

    /// <summary>What the committing thread reported, once <see cref="Resume"/> returned.</summary>
    public bool Outcome { get; private set; }

    public void Hook(CommitDescriptor descriptor, int index)
    {
        if (Thread.CurrentThread == _owner && _pauseAt(descriptor, index) && Interlocked.Exchange(ref _paused, 1) == 0)
        {
            Descriptor = descriptor;
            _installed.Set();
            _resume.Wait();
        }
    }

    /// <summary>Starts the commit and returns once it is parked.</summary>
    public void Start()
    {
        _owner = _thread;
        _thread.Start();
        Assert.True(_installed.Wait(Guard), "The commit never reached its pause point.");
    }

    /// <summary>Lets the commit go on and waits until it returns.</summary>
    public bool Resume()
    {
        _resume.Set();
        Assert.True(_thread.Join(Guard), "The paused commit did not finish after it was resumed.");
        return Outcome;
    }

    /// <summary>Runs an action on another thread and asserts that it finishes while the commit stays parked.</summary>
    public static T CompletesOnAnotherThread<T>(Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = action();
            }
            catch (Exception e)
            {
                error = e;
            }
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(Guard), "An operation blocked behind a parked commit.");
        if (error is not null)
        {
            throw new InvalidOperationException("The operation failed.", error);
        }

        return result;
    }

    public void Dispose()
    {
        _resume.Set();
        _thread.Join(Guard);
        _installed.Dispose();
        _resume.Dispose();
    }
}
