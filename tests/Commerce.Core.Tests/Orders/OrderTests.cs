using System.Numerics;
using Commerce.Tests.Support;
using FsCheck.Xunit;

namespace Commerce.Tests.Orders;

[Properties(Replay = "20261206,1442695040888963407")]
public sealed class OrderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Place_totals_quantity_times_price_over_the_lines_or_reports_AmountOverflow(OrderLine[] lines)
    {
        var exact = lines.Aggregate(BigInteger.Zero, (sum, l) => sum + (new BigInteger(l.Quantity) * l.UnitPrice.Amount));
        var result = Order.Place(OrderId.New(At), new UserId(1), lines, At);

        return exact > long.MaxValue
            ? result.Error?.Code == CommerceErrorCode.AmountOverflow
            : result.IsSuccess && result.Value.Total.Amount == exact && result.Value.Lines.SequenceEqual(lines)
                && result.Value.Lines.All(l => l.LineTotal.Amount == (long)l.Quantity * l.UnitPrice.Amount);
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool An_order_keeps_its_own_copy_of_the_lines(OrderLine[] lines)
    {
        var placed = Order.Place(OrderId.New(At), new UserId(1), lines, At);
        if (!placed.IsSuccess)
        {
            return true;
        }

        var original = lines.ToArray();
        Array.Reverse(lines);
        return placed.Value.Lines.SequenceEqual(original);
    }

    /// <summary>The request validation merges duplicates in place and never loses or invents units.</summary>
    [Property(Arbitrary = [typeof(Generators)])]
    public bool Validate_merges_duplicate_products_at_their_first_position_and_keeps_every_unit(ProductId[] products, int seed)
    {
        var random = new Random(seed);
        var requests = products.Select(p => new OrderLineRequest(p, random.Next(1, 10))).ToArray();
        var options = new CommerceOptions();
        var result = OrderService.Validate(requests, options);

        if (requests.Length == 0)
        {
            return result.Error?.Code == CommerceErrorCode.EmptyOrder;
        }

        var expected = requests
            .GroupBy(r => r.ProductId)
            .Select(g => new OrderLineRequest(g.Key, g.Sum(r => r.Quantity)))
            .ToArray();   // GroupBy keeps the order of first appearance
        return result.IsSuccess
            && result.Value.SequenceEqual(expected);
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Validate_refuses_non_positive_quantities_and_merged_sums_past_the_limit(ProductId product, int quantity)
    {
        var result = OrderService.Validate([new OrderLineRequest(new ProductId(99), 1), new OrderLineRequest(product, quantity)], new CommerceOptions { MaxLineQuantity = int.MaxValue });
        var merged = product == new ProductId(99) ? 1L + quantity : quantity;
        return quantity <= 0 || merged > int.MaxValue
            ? result.Error?.Code == CommerceErrorCode.InvalidQuantity
            : result.IsSuccess;
    }

    [Fact]
    public void An_order_line_computes_its_total_and_rejects_nonsense()
    {
        Assert.Equal(new Money(21), new OrderLine(new ProductId(1), 3, new Money(7)).LineTotal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OrderLine(new ProductId(1), 0, new Money(7)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OrderLine(new ProductId(1), 1, new Money(-1)));
        Assert.Throws<OverflowException>(() => new OrderLine(new ProductId(1), 2, new Money(long.MaxValue)));
    }

    [Fact]
    public void An_order_line_takes_20_bytes_and_an_array_of_two_lines_64()
    {
        // An order keeps its lines: no stored total, and packed on 4 bytes.
        Assert.Equal(20, System.Runtime.CompilerServices.Unsafe.SizeOf<OrderLine>());
        var before = GC.GetAllocatedBytesForCurrentThread();
        var lines = new OrderLine[2];
        var after = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(lines);
        Assert.Equal(64, after - before);
    }

    [Fact]
    public void An_order_keeps_no_total_and_no_cancellation_field_of_its_own_and_takes_64_bytes()
    {
        var lines = System.Collections.Immutable.ImmutableArray.Create(new OrderLine(new ProductId(1), 3, new Money(7)), new OrderLine(new ProductId(2), 2, new Money(1_000_000_000_000)));
        var id = OrderId.New(At);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var order = new Order(id, new UserId(1), lines, new Money(2_000_000_000_021), At);
        var after = GC.GetAllocatedBytesForCurrentThread();

        Assert.Equal(64, after - before);
        Assert.Equal(new Money(2_000_000_000_021), order.Total);

        // Cancelled, it keeps its lines and total beside the time, both before and after its lines were first read.
        var read = new Order(id, new UserId(1), lines, new Money(2_000_000_000_021), At);
        Assert.Equal(2, read.Lines.Count);
        foreach (var placed in new[] { order, read })
        {
            var cancelled = placed.Cancel(At.AddHours(1)).Value;
            Assert.Equal((OrderStatus.Cancelled, At.AddHours(1), new Money(2_000_000_000_021)), (cancelled.Status, cancelled.CancelledAt, cancelled.Total));
            Assert.Equal(lines, cancelled.Lines);
            Assert.Same(cancelled.Lines, cancelled.Lines);
            Assert.IsNotType<OrderLine[]>(cancelled.Lines);
            Assert.True(cancelled.LineSpan.SequenceEqual(lines.AsSpan()));
            Assert.Equal(OrderStatus.Placed, placed.Status);
            Assert.Equal(placed, new Order(cancelled.Id, cancelled.UserId, cancelled.Lines, cancelled.PlacedAt, null));
            Assert.Equal(cancelled, new Order(placed.Id, placed.UserId, placed.Lines, placed.PlacedAt, At.AddHours(1)));
            Assert.Equal(CommerceErrorCode.OrderAlreadyCancelled, cancelled.Cancel(At).Error?.Code);
        }
    }

    [Fact]
    public void Rehydrating_an_order_rejects_empty_or_duplicate_lines()
    {
        var line = new OrderLine(new ProductId(1), 1, new Money(1));
        Assert.Throws<ArgumentException>(() => new Order(OrderId.New(At), new UserId(1), [], At));
        Assert.Throws<ArgumentException>(() => new Order(OrderId.New(At), new UserId(1), [line, line], At));
        Assert.Equal(CommerceErrorCode.EmptyOrder, Order.Place(OrderId.New(At), new UserId(1), [], At).Error?.Code);
    }

    [Fact]
    public void A_line_that_did_not_come_from_its_constructor_is_refused_like_a_cart_line_without_units()
    {
        // default(OrderLine) has no units: an order holding it would show a line of nothing, which the
        // line's constructor, a cart's and the order services all refuse.
        var line = new OrderLine(new ProductId(1), 1, new Money(5));
        Assert.Equal("lines", Assert.Throws<ArgumentException>(() => new Order(OrderId.New(At), new UserId(1), [line, default], At)).ParamName);
        Assert.Equal("lines", Assert.Throws<ArgumentException>(() => new Order(OrderId.New(At), new UserId(1), [default], At, null)).ParamName);
        Assert.Equal("lines", Assert.Throws<ArgumentException>(() => Order.Place(OrderId.New(At), new UserId(1), [default(OrderLine)], At)).ParamName);
        Assert.Equal("lines", Assert.Throws<ArgumentException>(() => Order.Place(OrderId.New(At), new UserId(1), [line, line], At)).ParamName);
    }

    [Fact]
    public void Lines_is_made_on_first_read_one_immutable_view_for_every_reader_even_racing()
    {
        OrderLine[] lines = [new(new ProductId(1), 2, new Money(300)), new(new ProductId(2), 1, new Money(50))];
        for (var round = 0; round < 200; round++)
        {
            var order = new Order(OrderId.New(At), new UserId(1), lines, At);
            Assert.True(order.LineSpan.SequenceEqual(lines)); // the library's own reads make no view

            using var start = new Barrier(4);
            var seen = new IReadOnlyList<OrderLine>[4];
            var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                seen[t] = order.Lines;
            })).ToArray();
            foreach (var thread in threads)
            {
                thread.Start();
            }

            foreach (var thread in threads)
            {
                thread.Join();
            }

            Assert.All(seen, view => Assert.Same(seen[0], view));
            Assert.Same(seen[0], order.Lines);
            Assert.IsNotType<OrderLine[]>(seen[0]); // no array a caller could write through
            Assert.Equal(lines, seen[0]);
            Assert.True(order.LineSpan.SequenceEqual(lines));

            var cancelled = order.Cancel(At.AddMinutes(1)).Value;
            Assert.Same(seen[0], cancelled.Lines);
            Assert.Equal(At.AddMinutes(1), cancelled.CancelledAt);
            Assert.Null(order.CancelledAt);
            Assert.Equal(OrderStatus.Placed, order.Status);
            Assert.Equal(OrderStatus.Cancelled, cancelled.Status);
        }
    }

    [Fact]
    public void A_cancellation_time_keeps_its_offset_and_takes_part_in_equality()
    {
        OrderLine[] lines = [new(new ProductId(1), 2, new Money(300))];
        var id = OrderId.New(At);
        var cancelledAt = new DateTimeOffset(2026, 11, 25, 9, 30, 0, TimeSpan.FromHours(-3));
        var rehydrated = new Order(id, new UserId(1), lines, At, cancelledAt);

        Assert.Equal(cancelledAt, rehydrated.CancelledAt);
        Assert.Equal(cancelledAt.Offset, rehydrated.CancelledAt!.Value.Offset);
        Assert.Equal(rehydrated, new Order(id, new UserId(1), lines, At).Cancel(cancelledAt).Value);
        Assert.NotEqual(rehydrated, new Order(id, new UserId(1), lines, At));
        Assert.NotEqual(rehydrated, new Order(id, new UserId(1), lines, At, cancelledAt.AddTicks(1)));
        Assert.Null(new Order(id, new UserId(1), lines, At, null).CancelledAt);
        Assert.Equal(CommerceErrorCode.OrderAlreadyCancelled, rehydrated.Cancel(At).Error?.Code);
    }

    [Fact]
    public void A_line_stores_its_product_quantity_and_price_and_computes_its_total()
    {
        var line = new OrderLine(new ProductId(3), 7, new Money(1_000_000_000_000));
        Assert.Equal(new Money(7_000_000_000_000), line.LineTotal);
        Assert.Equal(line, new OrderLine(new ProductId(3), 7, new Money(1_000_000_000_000)));
        Assert.Equal(Money.Zero, default(OrderLine).LineTotal);
        Assert.Throws<OverflowException>(() => new OrderLine(new ProductId(3), 2, new Money(long.MaxValue / 2 + 1)));
    }

    [Fact]
    public void An_order_rehydrated_with_its_cancel_time_is_cancelled_and_equal_only_to_one_with_the_same_time()
    {
        var id = OrderId.New(At);
        OrderLine[] lines = [new(new ProductId(1), 2, new Money(5))];
        var cancelledAt = At.AddHours(1);

        var cancelled = new Order(id, new UserId(1), lines, At, cancelledAt);
        var standing = new Order(id, new UserId(1), lines, At, null);

        Assert.Equal(OrderStatus.Cancelled, cancelled.Status);
        Assert.Equal(cancelledAt, cancelled.CancelledAt);
        Assert.Equal(OrderStatus.Placed, standing.Status);
        Assert.Equal(new Order(id, new UserId(1), lines, At), standing);
        Assert.Equal(new Order(id, new UserId(1), [.. lines], At, cancelledAt), cancelled);
        Assert.Equal(cancelled.GetHashCode(), new Order(id, new UserId(1), [.. lines], At, cancelledAt).GetHashCode());
        Assert.NotEqual(standing, cancelled);
        Assert.NotEqual(cancelled, new Order(id, new UserId(1), lines, At, cancelledAt.AddTicks(1)));
    }
}
