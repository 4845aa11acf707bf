using Commerce.Conformance;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests.Domain;

/// <summary>Sequences of stock transitions, and order totals, against exact arithmetic.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class StockAndOrderProperties
{
    internal readonly record struct StockOp(bool Restock, int Quantity)
    {
        public override string ToString() => $"{(Restock ? "Restock" : "Deduct")}({Quantity})";
    }

    private static readonly Arbitrary<(int Initial, StockOp[] Ops)> StockOps = Arb.From(
        Gen.Zip(
            Gen.OneOf(Gen.Choose(0, 50), Gen.Elements(int.MaxValue, int.MaxValue - 10)),
            Gen.Zip(Gen.Elements(true, false, false), DomainGenerators.Quantity()).Select(t => new StockOp(t.Item1, t.Item2)).ArrayOf()),
        s => Shrink.List(s.Item2, op => Shrink.Toward0(op.Quantity).Select(q => op with { Quantity = (int)q })).Select(ops => (s.Item1, ops)));

    [Property(MaxTest = 300)]
    public Property Stock_is_never_negative_and_equals_initial_plus_restocks_minus_sold() =>
        Prop.ForAll(StockOps, input =>
        {
            var (initial, ops) = input;
            var item = new StockItem(new ProductId(1), initial);
            long restocked = 0, sold = 0;
            foreach (var op in ops)
            {
                var before = item.OnHand;
                var result = op.Restock ? item.Restock(op.Quantity) : item.Deduct(op.Quantity);
                var valid = op.Quantity > 0 && (op.Restock ? (long)before + op.Quantity <= int.MaxValue : op.Quantity <= before);
                if (valid)
                {
                    Assert.True(result.IsSuccess, $"{op} on {before}: {result.Error}");
                    item = result.Value;
                    _ = op.Restock ? restocked += op.Quantity : sold += op.Quantity;
                }
                else
                {
                    Assert.True(result.IsFailure, $"{op} on {before} should be refused");
                    var code = op.Quantity <= 0 || op.Restock ? CommerceErrorCode.InvalidQuantity : CommerceErrorCode.InsufficientStock;
                    Assert.Equal(code, result.Error!.Code);
                }

                Assert.True(item.OnHand >= 0);
                Assert.Equal(initial + restocked - sold, item.OnHand);
            }
        });

    internal readonly record struct Line(long Price, int Quantity)
    {
        public override string ToString() => $"{Quantity}×{Price}";
    }

    private static readonly Gen<Line> LineGen = Gen.Frequency(
        (3, Gen.Zip(Gen.Choose(0, 10_000), Gen.Choose(1, 100)).Select(t => new Line(t.Item1, t.Item2))),
        (1, Gen.Zip(Gen.Elements(long.MaxValue, long.MaxValue / 2, long.MaxValue / 3, 1L << 40, 1L << 62), Gen.Choose(1, 3))
            .Select(t => new Line(t.Item1 / t.Item2, t.Item2))));

    private static readonly Arbitrary<Line[]> Lines = Arb.From(Gen.Choose(1, 8).SelectMany(n => LineGen.ArrayOf(n)), lines => Shrink.List(lines).Where(l => l.Length > 0));

    [Property(MaxTest = 300)]
    public Property Order_total_is_the_sum_of_quantity_times_unit_price_or_amount_overflow_when_it_does_not_fit() =>
        Prop.ForAll(Lines, lines =>
        {
            var orderLines = lines.Select((l, i) => new OrderLine(new ProductId(i + 1), l.Quantity, new Money(l.Price))).ToArray();
            Int128 exact = 0;
            foreach (var l in lines)
            {
                exact += (Int128)l.Price * l.Quantity;
            }

            var placed = Order.Place(OrderId.New(TestClock.Start), new UserId(1), orderLines, TestClock.Start);
            if (exact > long.MaxValue)
            {
                Assert.True(placed.IsFailure, $"total {exact} does not fit, yet the order was placed");
                Assert.Equal(CommerceErrorCode.AmountOverflow, placed.Error!.Code);
            }
            else
            {
                Assert.True(placed.IsSuccess, placed.Error?.ToString());
                Assert.Equal((long)exact, placed.Value.Total.Amount);
                Assert.Equal(lines.Select(l => l.Price * l.Quantity), placed.Value.Lines.Select(l => l.LineTotal.Amount));
            }
        });

    [Property(MaxTest = 500)]
    public Property Money_multiplication_reports_overflow_exactly_when_the_product_does_not_fit() =>
        Prop.ForAll(
            Arb.From(Gen.Zip(DomainGenerators.Amount(1L << 32), DomainGenerators.Amount(1L << 31))),
            t =>
            {
                var (amount, quantity) = t;
                var exact = (Int128)amount * quantity;
                var fits = exact >= long.MinValue && exact <= long.MaxValue;
                Assert.Equal(fits, new Money(amount).TryMultiply(quantity, out var product));
                Assert.Equal(fits ? (long)exact : 0, product.Amount);
                var sum = (Int128)amount + quantity;
                Assert.Equal(sum >= long.MinValue && sum <= long.MaxValue, new Money(amount).TryAdd(new Money(quantity), out _));
                var difference = (Int128)amount - quantity;
                Assert.Equal(difference >= long.MinValue && difference <= long.MaxValue, new Money(amount).TrySubtract(new Money(quantity), out _));
            });
}
