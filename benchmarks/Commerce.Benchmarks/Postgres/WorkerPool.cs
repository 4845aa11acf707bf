namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// N concurrent callers, each an asynchronous loop as a host's requests are: each <see cref="RunOnce"/>
/// starts them together on the thread pool, every caller awaits its share of orders one after the other,
/// and the call returns when the last one is done. (A thread per caller blocked on each order's task spent,
/// at 64 callers on two cores, a quarter of the client's time spinning in the wait before blocking, the
/// same for every implementation measured.)
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Func<ValueTask>[] _operations;
    private readonly int _operationsPerWorker;

    /// <param name="workers">How many concurrent callers.</param>
    /// <param name="operationsPerWorker">How many times each caller awaits its operation per run.</param>
    /// <param name="createOperation">Builds caller i's operation (its own generator, its own state).</param>
    public WorkerPool(int workers, int operationsPerWorker, Func<int, Func<ValueTask>> createOperation)
    {
        _operationsPerWorker = operationsPerWorker;
        _operations = new Func<ValueTask>[workers];
        for (var i = 0; i < workers; i++)
        {
            _operations[i] = createOperation(i);
        }
    }

    public void RunOnce()
    {
        var callers = new Task[_operations.Length];
        for (var i = 0; i < callers.Length; i++)
        {
            var operation = _operations[i];
            callers[i] = Task.Run(async () =>
            {
                for (var n = 0; n < _operationsPerWorker; n++)
                {
                    await operation().ConfigureAwait(false);
                }
            });
        }

        try
        {
            Task.WhenAll(callers).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            throw new InvalidOperationException("A caller failed: " + e.Message, e);
        }
    }

    public void Dispose()
    {
        // Nothing held between runs: the callers end with each run.
    }
}
