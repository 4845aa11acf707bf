using System.Collections.Concurrent;
using Commerce.Events;
using Commerce.Hosting.Tests.Support;

namespace Commerce.Hosting.Tests.Events;

/// <summary>
/// The dispatcher's delivery guarantees over generated workloads, one seed each: events of several user
/// and product streams committed in batches, a page size, and for one handler a plan of how many times it
/// fails each event (never, once, twice, or until the event is poison); the other handler never fails. The
/// plan is the model: what each handler is given, how often, in which order per stream, which events are
/// logged poison, and that checkpoints only move on and never cover an event before it was handled.
/// </summary>
public sealed class CommerceEventDispatcherPropertyTests
{
    private static readonly string A = typeof(HandlerA).FullName!;
    private static readonly string B = typeof(HandlerB).FullName!;

    private const int MaxAttempts = 3;

    public static TheoryData<int> Seeds { get; } = new(Enumerable.Range(1, 16));

    /// <summary>How many times handler A fails the event at a position: fixed by the seed and the position (0 mostly; <see cref="MaxAttempts"/> makes it poison).</summary>
    private static int FailuresOf(int seed, EventPosition position)
    {
        var roll = new Random((((seed * 1_009) + position.Stripe) * 1_000_003) + (int)position.Sequence).Next(10);
        return roll switch
        {
            < 6 => 0,
            < 8 => 1,
            8 => 2,
            _ => MaxAttempts,
        };
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Each_handler_gets_each_stream_in_commit_order_as_often_as_its_failures_say_and_its_checkpoint_only_moves_on(int seed)
    {
        var random = new Random(20261206 + seed);
        var store = new FakeEventStore();
        var pageSize = random.Next(1, 6);
        await using var host = new DispatcherHost(store, b => b.AddEventHandler<HandlerA>().AddEventHandler<HandlerB>(), o =>
        {
            o.MaxDeliveryAttempts = MaxAttempts;
            o.PageSize = pageSize;
        });

        // A handler given an event its checkpoint covers already was given it after the checkpoint passed it.
        var early = new ConcurrentQueue<string>();
        ValueTask Check(string consumer, CommerceEvent e)
        {
            if (store.Checkpoint(consumer) is { } saved && saved.Covers(e.Position))
            {
                early.Enqueue($"{consumer} was given {e.Position} after its checkpoint {saved} passed it.");
            }

            return ValueTask.CompletedTask;
        }

        host.A.Behavior = async (e, attempt, _) =>
        {
            await Check(A, e);
            if (attempt <= FailuresOf(seed, e.Position))
            {
                throw new InvalidOperationException($"attempt {attempt} at {e.Position} fails");
            }
        };
        host.B.Behavior = (e, _, _) => Check(B, e);
        await host.StartAsync();

        var appended = new List<CommerceEvent>();
        var minute = 0;
        var timer = host.Time.NextTimerAsync();
        for (var batch = random.Next(1, 4); batch > 0; batch--)
        {
            var events = Enumerable.Range(0, random.Next(2, 13)).Select(_ => Event(random, ++minute)).ToArray();
            appended.AddRange(store.Append(events));

            // Until both handlers are past every event, move the clock to each retry the dispatcher waits for.
            var caughtUp = store.Until(() => Equals(store.Checkpoint(A), store.End) && Equals(store.Checkpoint(B), store.End));
            while (await Task.WhenAny(caughtUp, timer) == timer)
            {
                host.Time.Fake.Advance(await timer);
                timer = host.Time.NextTimerAsync();
            }

            await caughtUp;
        }

        Assert.Empty(early);

        // B never fails: every event once. A: every event in one run of attempts, as many as its failures allow.
        Assert.Equal(Sorted(appended), Sorted(host.B.Calls));
        var runs = Runs(host.A.Calls);
        Assert.Equal(Sorted(appended), Sorted(runs.Select(r => r.Event)));
        Assert.All(runs, r => Assert.Equal(Math.Min(FailuresOf(seed, r.Event.Position) + 1, MaxAttempts), r.Count));

        // Each stream in commit order, to each handler.
        foreach (var stream in appended.GroupBy(e => e.Stream))
        {
            Assert.Equal(stream.Select(e => e.Position), host.B.Calls.Where(e => e.Stream == stream.Key).Select(e => e.Position));
            Assert.Equal(stream.Select(e => e.Position), runs.Where(r => r.Event.Stream == stream.Key).Select(r => r.Event.Position));
        }

        // A poison event is logged once as an error; every earlier failure as a warning.
        Assert.Equal(appended.Count(e => FailuresOf(seed, e.Position) >= MaxAttempts), host.Logs.WithId(1104).Count);
        Assert.Equal(appended.Sum(e => Math.Min(FailuresOf(seed, e.Position), MaxAttempts - 1)), host.Logs.WithId(1103).Count);

        // Each handler's saved checkpoints only move on, and the last covers everything.
        foreach (var consumer in new[] { A, B })
        {
            var saves = store.Saves.Where(s => s.Consumer == consumer).Select(s => s.Cursor).ToList();
            Assert.All(saves.Zip(saves.Skip(1)), p => Assert.True(p.First.Union(p.Second).Equals(p.Second), $"{consumer}'s checkpoint went from {p.First} back to {p.Second}."));
            Assert.Equal(store.End, saves[^1]);
        }
    }

    /// <summary>A charge of one of four users or a restock of one of three products, <paramref name="minute"/> minutes after the clock's origin.</summary>
    private static CommerceEvent Event(Random random, int minute)
    {
        var at = ObservedTimeProvider.Origin.AddMinutes(minute);
        return random.Next(3) == 0
            ? new ProductRestocked(new ProductId(random.Next(1, 4)), 1, minute, at)
            : new WalletCharged(new UserId(random.Next(1, 5)), new Money(100), new Money(100 * minute), at);
    }

    /// <summary>The events' positions, by stripe and number.</summary>
    private static List<EventPosition> Sorted(IEnumerable<CommerceEvent> events) =>
        [.. events.Select(e => e.Position).OrderBy(p => p.Stripe).ThenBy(p => p.Sequence)];

    /// <summary>The calls as runs of one event given again and again.</summary>
    private static List<(CommerceEvent Event, int Count)> Runs(IReadOnlyList<CommerceEvent> calls)
    {
        var runs = new List<(CommerceEvent Event, int Count)>();
        foreach (var call in calls)
        {
            if (runs.Count > 0 && runs[^1].Event.Position == call.Position)
            {
                runs[^1] = (runs[^1].Event, runs[^1].Count + 1);
            }
            else
            {
                runs.Add((call, 1));
            }
        }

        return runs;
    }
}
