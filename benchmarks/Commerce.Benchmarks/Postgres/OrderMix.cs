namespace Commerce.Benchmarks.Postgres;

/// <summary>Which orders the workers place.</summary>
public enum OrderMix
{
    /// <summary>A random user, 1–3 distinct random products out of thousands: orders rarely touch the same rows.</summary>
    LowContention,

    /// <summary>A random user, the hot product plus 0–2 other random products: every order updates the hot product's stock row.</summary>
    HotProduct,
}

/// <summary>Draws the orders of one worker: deterministic per seed, so both implementations get the same stream.</summary>
internal sealed class OrderGenerator(OrderMix mix, int seed)
{
    public const int Users = 10_000;
    public const int Products = 5_000;
    public static readonly ProductId HotProduct = new(1);

    private readonly Random _random = new(seed);

    public (UserId User, OrderLineRequest[] Lines) Next()
    {
        var user = new UserId(_random.Next(1, Users + 1));
        var lines = new OrderLineRequest[_random.Next(1, 4)];
        var first = 0;
        if (mix == OrderMix.HotProduct)
        {
            lines[0] = new OrderLineRequest(HotProduct, _random.Next(1, 4));
            first = 1;
        }

        // Other products are drawn from 2..Products in the hot mix, so product 1 is in exactly one line.
        var lowest = mix == OrderMix.HotProduct ? 2 : 1;
        for (var i = first; i < lines.Length; i++)
        {
            ProductId product;
            do
            {
                product = new ProductId(_random.Next(lowest, Products + 1));
            }
            while (Contains(lines, i, product));

            lines[i] = new OrderLineRequest(product, _random.Next(1, 4));
        }

        return (user, lines);
    }

    private static bool Contains(OrderLineRequest[] lines, int count, ProductId product)
    {
        for (var i = 0; i < count; i++)
        {
            if (lines[i].ProductId == product)
            {
                return true;
            }
        }

        return false;
    }
}
