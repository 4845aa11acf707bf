using System.Text.Json;
using Commerce.Events;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>
/// The web API's event format agrees with the library's own JSON: an event's <c>type</c> is the kind the library
/// writes as <c>"$type"</c> for an event serialized as <see cref="CommerceEvent"/>.
/// </summary>
public sealed class EventResponseTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 30, 15, TimeSpan.Zero);

    public static TheoryData<CommerceEvent> Events()
    {
        var order = new OrderId(Guid.Parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        OrderLine[] lines = [new(new ProductId(42), 3, new Money(250))];
        return
        [
            new WalletCharged(new UserId(1), new Money(10_000), new Money(10_000), At),
            new ProductAdded(new ProductId(42), "Tea", new Money(250), 3, At),
            new ProductRestocked(new ProductId(42), 5, 8, At),
            new OrderPlaced(order, new UserId(1), lines, new Money(750), At),
            new StockDepleted(new ProductId(42), order, At),
            new OrderCancelled(order, new UserId(1), lines, new Money(750), At),
        ];
    }

    [Theory]
    [MemberData(nameof(Events))]
    public void An_events_type_is_the_kind_the_library_writes(CommerceEvent published)
    {
        var library = JsonSerializer.SerializeToElement(published, JsonSerializerOptions.Web);   // as CommerceEvent
        Assert.Equal(library.GetProperty("$type").GetString(), EventResponse.From(published).Type);
    }
}
