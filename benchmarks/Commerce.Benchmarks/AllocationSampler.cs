using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Commerce.Benchmarks;

/// <summary>
/// Where allocated bytes go, by type: the runtime raises an allocation tick about every 100 KB allocated,
/// naming the type of the object that crossed the mark, so the ticks sample the bytes in proportion.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, long> bytes = new();
    private volatile bool _recording;

    /// <summary>Whether ticks are counted now (the warm-up is left out).</summary>
    public bool Recording
    {
        get => _recording;
        set => _recording = value;
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!Recording || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null)
        {
            return;
        }

        var type = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
        var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload[a]) : 100_000;
        bytes.AddOrUpdate(type, amount, (_, v) => v + amount);
    }

    /// <summary>Takes the counts so far (every type, most bytes first) and starts again from none.</summary>
    public KeyValuePair<string, long>[] Take()
    {
        var taken = bytes.ToArray().OrderByDescending(p => p.Value).ToArray();
        bytes.Clear();
        return taken;
    }

    /// <summary>Prints the 30 types that took most bytes, with their share and bytes per operation.</summary>
    public static void Print(KeyValuePair<string, long>[] counts, long operations)
    {
        var total = counts.Sum(p => p.Value);
        foreach (var (type, b) in counts.Take(30))
        {
            Console.WriteLine($"{b * 100.0 / total,6:F1} %  {b / (double)operations,8:F1} B/op  {type}");
        }
    }
}
