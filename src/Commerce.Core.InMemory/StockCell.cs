using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>
/// A product's stock, held as two numbers that only grow, each the word of a cell of the multi-word CAS:
/// the units taken (this cell's <see cref="WordCell.Word"/>) and the units received (<see cref="Received"/>'s).
/// The quantity on hand is their difference. A commit changes stock without allocating: an order's deduction
/// adds to the units taken, a restock to the units received (two numbers, since a word cell's number never
/// decreases; see <see cref="WordCell"/>).
/// </summary>
/// <remarks>
/// The product's keyed cell in the inventory table holds this cell as its state from the commit that created
/// the stock on, and never anything else after it: the stock's every later change is in the two words.
/// </remarks>
internal sealed class StockCell : WordCell
{
    /// <summary>A stock of <paramref name="onHand"/> units, none taken yet.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="onHand"/> is negative.</exception>
    public StockCell(int onHand)
    {
        Received = new WordCell(onHand);
    }

    /// <summary>The cell of the units received: the first quantity, and every restock since.</summary>
    public WordCell Received { get; }

    /// <summary>
    /// A cell often committed with this one, kept here so that finding it takes no lookup: the product's sales
    /// count cell in the bucket its orders wrote last. A cache, not state: any thread may replace it with a
    /// plain write, and whoever uses it checks its key first (the bucket may have moved on).
    /// </summary>
    public SalesCell? Companion;

    /// <summary>
    /// The two numbers as of one instant: the units taken, the units received, then the units taken again,
    /// until the two reads of the units taken agree. The units taken only grow, so equal reads mean they held
    /// throughout, and the units received read between them held with them. Lock-free: a read is repeated only
    /// because another commit succeeded.
    /// </summary>
    public StockNumbers Read()
    {
        while (true)
        {
            var taken = MultiWordCas.ReadWord(this);
            var received = MultiWordCas.ReadWord(Received);
            if (MultiWordCas.ReadWord(this) == taken)
            {
                return new(received, taken);
            }
        }
    }
}

/// <summary>A stock's two numbers as of one instant (see <see cref="StockCell"/>).</summary>
/// <param name="Received">The units received.</param>
/// <param name="Taken">The units taken.</param>
internal readonly record struct StockNumbers(long Received, long Taken)
{
    /// <summary>The quantity on hand: what was received and not taken.</summary>
    public long OnHand => Received - Taken;
}
