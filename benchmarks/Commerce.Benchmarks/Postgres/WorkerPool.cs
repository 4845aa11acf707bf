namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// N dedicated threads created once; each <see cref="RunOnce"/> releases them together through a
/// <see cref="Barrier"/>, every worker runs its share of orders one after the other, and the call
/// returns when the last one is done.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Barrier _barrier;
    private readonly Thread[] _threads;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <param name="workers">How many threads.</param>
    /// <param name="operationsPerWorker">How many times each worker calls its operation per run.</param>
    /// <param name="createOperation">Builds worker i's operation (its own generator, its own state).</param>
    public WorkerPool(int workers, int operationsPerWorker, Func<int, Action> createOperation)
    {
        _barrier = new Barrier(workers + 1);
        _threads = new Thread[workers];
        for (var i = 0; i < workers; i++)
        {
            var operation = createOperation(i);
            _threads[i] = new Thread(() => Loop(operation, operationsPerWorker))
            {
                IsBackground = true,
                Name = $"order-worker-{i}",
            };
            _threads[i].Start();
        }
    }

    public void RunOnce()
    {
        _barrier.SignalAndWait(); // start
        _barrier.SignalAndWait(); // every worker is done
        if (Volatile.Read(ref _failure) is { } failure)
        {
            throw new InvalidOperationException("A worker failed: " + failure.Message, failure);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _barrier.SignalAndWait();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _barrier.Dispose();
    }

    private void Loop(Action operation, int operationsPerWorker)
    {
        while (true)
        {
            _barrier.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            try
            {
                for (var i = 0; i < operationsPerWorker; i++)
                {
                    operation();
                }
            }
#pragma warning disable CA1031 // Any failure is handed to the benchmark thread, which rethrows it.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }

            _barrier.SignalAndWait();
        }
    }
}
