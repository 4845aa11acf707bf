namespace Commerce.Benchmarks;

/// <summary>
/// Worker threads created once; each <see cref="RunOnce"/> releases them all together with a barrier and
/// returns when every worker has done its share of the operations.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Barrier _start;
    private readonly Barrier _done;
    private readonly Thread[] _threads;
    private readonly Action<int, int> _operation;
    private readonly int _perWorker;
    private volatile bool _stopping;

    /// <param name="workers">How many threads.</param>
    /// <param name="operations">Operations per <see cref="RunOnce"/>, split evenly across the workers.</param>
    /// <param name="operation">One operation: (worker, sequence number within that worker).</param>
    public WorkerPool(int workers, int operations, Action<int, int> operation)
    {
        _operation = operation;
        _perWorker = operations / workers;
        _start = new Barrier(workers + 1);
        _done = new Barrier(workers + 1);
        _threads = new Thread[workers];
        for (var w = 0; w < workers; w++)
        {
            var worker = w;
            _threads[w] = new Thread(() => Work(worker)) { IsBackground = true, Name = "worker " + w };
            _threads[w].Start();
        }
    }

    public void RunOnce()
    {
        _start.SignalAndWait();
        _done.SignalAndWait();
    }

    public void Dispose()
    {
        _stopping = true;
        _start.SignalAndWait();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _start.Dispose();
        _done.Dispose();
    }

    private void Work(int worker)
    {
        var sequence = 0;
        while (true)
        {
            _start.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            for (var i = 0; i < _perWorker; i++)
            {
                _operation(worker, sequence++);
            }

            _done.SignalAndWait();
        }
    }
}
