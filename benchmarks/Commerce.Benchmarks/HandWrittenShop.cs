namespace Commerce.Benchmarks;

/// <summary>
/// The ceiling reference: the place-order use case written by hand over plain dictionaries behind one
/// lock, without the library (validate, price, balance check, stock check, debit, deduct, insert the
/// order, count the sales).
/// </summary>
/// <param name="time">The clock of the orders.</param>
/// <param name="bufferedIds">
/// Whether order ids come from <see cref="OrderId.New"/> (random bytes drawn from a per-thread buffer, as the
/// library makes them) rather than <see cref="Guid.CreateVersion7(DateTimeOffset)"/> (a system call for 16 random
/// bytes per order, whose cost differs from one machine, and one day, to the next).
/// </param>
internal sealed class HandWrittenShop(TimeProvider time, bool bufferedIds = false)
{
    private static readonly long Resolution = TimeSpan.FromMinutes(1).Ticks;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, long> _balances = [];
    private readonly Dictionary<long, long> _prices = [];
    private readonly Dictionary<long, int> _stock = [];
    private readonly Dictionary<Guid, PlacedOrder> _orders = [];
    private readonly Dictionary<(long Bucket, long Product), long> _sales = [];

    /// <summary>A hand-written shop holding the same catalog and funded users as <see cref="Shop"/>.</summary>
    public static HandWrittenShop Seeded(TimeProvider time, bool bufferedIds = false)
    {
        var shop = new HandWrittenShop(time, bufferedIds);
        for (var p = 1; p <= Shop.Products; p++)
        {
            shop.AddProduct(p, Shop.PriceOf(p).Amount, Shop.InitialStock);
        }

        for (var u = 1; u <= Shop.Users; u++)
        {
            shop.Charge(u, Shop.InitialBalance);
        }

        return shop;
    }

    public void AddProduct(long id, long price, int stock)
    {
        lock (_gate)
        {
            _prices.Add(id, price);
            _stock.Add(id, stock);
        }
    }

    public bool Charge(long user, long amount)
    {
        lock (_gate)
        {
            _balances[user] = _balances.GetValueOrDefault(user) + amount;
            return true;
        }
    }

    public bool PlaceOrder(long user, OrderLineRequest[] lines)
    {
        if (lines.Length == 0)
        {
            return false;
        }

        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Quantity <= 0)
            {
                return false;
            }

            for (var j = 0; j < i; j++)
            {
                if (lines[j].ProductId == lines[i].ProductId)
                {
                    return false;
                }
            }
        }

        var now = time.GetUtcNow();
        var placed = new PlacedLine[lines.Length];
        lock (_gate)
        {
            long total = 0;
            for (var i = 0; i < lines.Length; i++)
            {
                if (!_prices.TryGetValue(lines[i].ProductId.Value, out var price))
                {
                    return false;
                }

                placed[i] = new PlacedLine(lines[i].ProductId.Value, lines[i].Quantity, price);
                total += price * lines[i].Quantity;
            }

            if (_balances.GetValueOrDefault(user) < total)
            {
                return false;
            }

            for (var i = 0; i < lines.Length; i++)
            {
                if (_stock[lines[i].ProductId.Value] < lines[i].Quantity)
                {
                    return false;
                }
            }

            _balances[user] -= total;
            for (var i = 0; i < lines.Length; i++)
            {
                _stock[lines[i].ProductId.Value] -= lines[i].Quantity;
            }

            var id = bufferedIds ? OrderId.New(now).Value : Guid.CreateVersion7(now);
            _orders.Add(id, new PlacedOrder(id, user, placed, total, now));
            var bucket = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / Resolution;
            for (var i = 0; i < lines.Length; i++)
            {
                _sales[(bucket, lines[i].ProductId.Value)] = _sales.GetValueOrDefault((bucket, lines[i].ProductId.Value)) + lines[i].Quantity;
            }

            return true;
        }
    }

    private readonly record struct PlacedLine(long Product, int Quantity, long UnitPrice);

    private sealed record PlacedOrder(Guid Id, long User, PlacedLine[] Lines, long Total, DateTimeOffset PlacedAt);
}
