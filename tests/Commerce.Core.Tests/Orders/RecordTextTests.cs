using System.Globalization;
using Commerce.Events;

namespace Commerce.Tests.Orders;

/// <summary>What orders and events print: each line, not the list's type, and instants the same in every culture.</summary>
public sealed class RecordTextTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 6, 9, 30, 0, TimeSpan.Zero);
    private static readonly OrderId Id = new(Guid.Parse("01a2497d-24ae-7100-9ddd-2b20adbdf2a5"));

    private static readonly OrderLine[] Lines = [new(new ProductId(7), 2, new Money(450)), new(new ProductId(9), 1, new Money(300))];

    private const string PrintedLines =
        "Lines = [OrderLine { ProductId = 7, Quantity = 2, UnitPrice = 450, LineTotal = 900 }, OrderLine { ProductId = 9, Quantity = 1, UnitPrice = 300, LineTotal = 300 }]";

    [Fact]
    public void An_order_prints_its_lines_and_its_instants_in_the_round_trip_format()
    {
        InCulture("fr-FR", () =>
        {
            var order = new Order(Id, new UserId(1), Lines, At);
            Assert.Equal(
                $"Order {{ Id = 01a2497d-24ae-7100-9ddd-2b20adbdf2a5, UserId = 1, {PrintedLines}, Total = 1200, PlacedAt = 2026-12-06T09:30:00.0000000+00:00, Status = Placed, CancelledAt =  }}",
                order.ToString());
            Assert.EndsWith("Status = Cancelled, CancelledAt = 2026-12-06T09:31:00.0000000+00:00 }", order.Cancel(At.AddMinutes(1)).Value.ToString(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Order_events_print_their_lines_and_every_event_its_instant_in_the_round_trip_format()
    {
        InCulture("fr-FR", () =>
        {
            var position = new EventPosition(3, 17);
            Assert.Equal(
                $"OrderPlaced {{ At = 2026-12-06T09:30:00.0000000+00:00, Position = 3:17, Stream = {EventStream.ForUser(new UserId(1))}, OrderId = 01a2497d-24ae-7100-9ddd-2b20adbdf2a5, UserId = 1, {PrintedLines}, Total = 1200 }}",
                (new OrderPlaced(Id, new UserId(1), Lines, new Money(1200), At) { Position = position }).ToString());
            Assert.Equal(
                $"OrderCancelled {{ At = 2026-12-06T09:30:00.0000000+00:00, Position = 0:0, Stream = {EventStream.ForUser(new UserId(1))}, OrderId = 01a2497d-24ae-7100-9ddd-2b20adbdf2a5, UserId = 1, {PrintedLines}, Refunded = 1200 }}",
                new OrderCancelled(Id, new UserId(1), Lines, new Money(1200), At).ToString());
            Assert.Equal(
                $"WalletCharged {{ At = 2026-12-06T09:30:00.0000000+00:00, Position = 0:0, Stream = {EventStream.ForUser(new UserId(1))}, UserId = 1, Amount = 5, BalanceAfter = 5 }}",
                new WalletCharged(new UserId(1), new Money(5), new Money(5), At).ToString());
        });
    }

    private static void InCulture(string name, Action action)
    {
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(name);
        try
        {
            action();
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }
}
