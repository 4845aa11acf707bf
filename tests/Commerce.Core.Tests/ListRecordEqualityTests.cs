using Commerce.Events;
using Commerce.Storage;

namespace Commerce.Tests;

/// <summary>
/// The records that hold a list (an event's lines, a cart view's lines, a page's events, a store's best sellers) are equal as values: the
/// same content in two lists is equal, with equal hash codes, and a difference in any line is not.
/// </summary>
public sealed class ListRecordEqualityTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 30, 15, TimeSpan.Zero);
    private static readonly OrderId AnOrder = new(Guid.Parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));

    private static OrderLine[] Lines(int quantity = 3) => [new(new ProductId(42), quantity, new Money(250)), new(new ProductId(7), 1, new Money(100))];

    [Fact]
    public void Events_with_lines_are_equal_by_their_lines_content()
    {
        var placed = new OrderPlaced(AnOrder, new UserId(1), Lines(), new Money(850), At) { Position = new EventPosition(3, 5) };
        var same = new OrderPlaced(AnOrder, new UserId(1), Lines().ToList(), new Money(850), At) { Position = new EventPosition(3, 5) };
        Assert.Equal(placed, same);
        Assert.Equal(placed.GetHashCode(), same.GetHashCode());
        Assert.NotEqual(placed, same with { Lines = Lines(quantity: 4) });
        Assert.NotEqual(placed, same with { Position = new EventPosition(3, 6) });
        Assert.NotEqual(placed, same with { At = At.AddTicks(1) });
        Assert.NotEqual(placed, same with { Total = new Money(851) });

        var cancelled = new OrderCancelled(AnOrder, new UserId(1), Lines(), new Money(850), At);
        var sameCancelled = new OrderCancelled(AnOrder, new UserId(1), Lines(), new Money(850), At);
        Assert.Equal(cancelled, sameCancelled);
        Assert.Equal(cancelled.GetHashCode(), sameCancelled.GetHashCode());
        Assert.NotEqual(cancelled, sameCancelled with { Lines = Lines(quantity: 2) });
        Assert.NotEqual(cancelled, sameCancelled with { Refunded = new Money(1) });
        Assert.False(((CommerceEvent)placed).Equals(new OrderCancelled(AnOrder, new UserId(1), Lines(), new Money(850), At) { Position = placed.Position }));
    }

    [Fact]
    public void Cart_views_and_event_pages_are_equal_by_their_lists_content()
    {
        CartLineView[] CartLines() => [new(new ProductId(42), "Tea", new Money(250), 3, new Money(750))];
        var view = new CartView(new UserId(1), CartLines(), new Money(750));
        Assert.Equal(view, new CartView(new UserId(1), CartLines(), new Money(750)));
        Assert.Equal(view.GetHashCode(), new CartView(new UserId(1), CartLines(), new Money(750)).GetHashCode());
        Assert.NotEqual(view, new CartView(new UserId(1), [CartLines()[0] with { Quantity = 2 }], new Money(750)));
        Assert.NotEqual(view, new CartView(new UserId(1), [], new Money(750)));

        CommerceEvent[] Events() => [new OrderPlaced(AnOrder, new UserId(1), Lines(), new Money(850), At) { Position = new EventPosition(3, 5) }];
        var next = EventCursor.Start.Through(new EventPosition(3, 5));
        var page = new EventPage(Events(), next);
        Assert.Equal(page, new EventPage(Events(), EventCursor.Start.Through(new EventPosition(3, 5))));
        Assert.Equal(page.GetHashCode(), new EventPage(Events(), next).GetHashCode());
        Assert.NotEqual(page, new EventPage([], next));
        Assert.NotEqual(page, new EventPage(Events(), EventCursor.Start));

        // Printed with their items, not the lists' types.
        Assert.Equal("CartView { UserId = 1, Lines = [CartLineView { ProductId = 42, Name = Tea, UnitPrice = 250, Quantity = 3, LineTotal = 750 }], Total = 750 }", view.ToString());
        Assert.StartsWith("EventPage { Events = [OrderPlaced { At = 2026-11-24T12:30:15.0000000+00:00, Position = 3:5", page.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("], Next = 3:5 }", page.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Records_whose_list_is_null_compare_hash_and_print_as_records_do_without_throwing()
    {
        // A list left null, as a JSON document without the member deserializes: equal to the same record with a null list,
        // not to one with a list, and printed with the member empty, as a record prints a null member.
        var placed = new OrderPlaced(AnOrder, new UserId(1), null!, new Money(850), At);
        Assert.Equal(placed, placed with { });
        Assert.Equal(placed.GetHashCode(), (placed with { }).GetHashCode());
        Assert.NotEqual(placed, placed with { Lines = Lines() });
        Assert.NotEqual(placed with { Lines = Lines() }, placed);
        Assert.Contains("Lines = ,", placed.ToString(), StringComparison.Ordinal);

        var cancelled = new OrderCancelled(AnOrder, new UserId(1), null!, new Money(850), At);
        Assert.Equal(cancelled, cancelled with { });
        Assert.NotEqual(cancelled with { Lines = Lines() }, cancelled);

        var view = new CartView(new UserId(1), null!, new Money(0));
        Assert.Equal(view, view with { });
        Assert.Equal(view.GetHashCode(), (view with { }).GetHashCode());
        Assert.NotEqual(view with { Lines = [] }, view);
        Assert.Equal("CartView { UserId = 1, Lines = , Total = 0 }", view.ToString());

        var page = new EventPage(null!, EventCursor.Start);
        Assert.Equal(page, page with { });
        Assert.Equal(page.GetHashCode(), (page with { }).GetHashCode());
        Assert.NotEqual(page with { Events = [] }, page);
        Assert.Equal("EventPage { Events = , Next = " + EventCursor.Start + " }", page.ToString());
    }

    [Fact]
    public void Sales_tops_are_equal_by_their_sales_content()
    {
        ProductSales[] Sales() => [new(new ProductId(42), 5), new(new ProductId(7), 2)];
        var top = new SalesTop(Sales());
        Assert.Equal(top, new SalesTop(Sales().ToList()));
        Assert.True(top == new SalesTop(Sales()));
        Assert.Equal(top.GetHashCode(), new SalesTop(Sales()).GetHashCode());
        Assert.NotEqual(top, new SalesTop([Sales()[0] with { Quantity = 4 }, Sales()[1]]));
        Assert.NotEqual(top, new SalesTop(Sales(), Consistent: false));
        Assert.NotEqual(top, new SalesTop([]));
        Assert.Equal(default, default(SalesTop));

        // Printed with its items, not the list's type.
        Assert.Equal("SalesTop { Sales = [ProductSales { ProductId = 42, Quantity = 5 }, ProductSales { ProductId = 7, Quantity = 2 }], Consistent = True }", top.ToString());
    }
}
