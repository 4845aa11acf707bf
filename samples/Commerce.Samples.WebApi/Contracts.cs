using System.Text.Json.Serialization;

namespace Commerce.Samples.WebApi;

// The wire format: plain numbers for ids and money, camelCase names. Kept apart from the library's
// types so that the JSON stays exactly this whatever the domain types look like.

/// <summary>Body of POST /users/{userId}/balance/charge.</summary>
internal sealed record ChargeRequest(long Amount);

/// <summary>Body of POST /products.</summary>
internal sealed record AddProductRequest(long Id, string? Name, long Price, int Stock);

/// <summary>Body of POST /products/{id}/restock.</summary>
internal sealed record RestockRequest(int Quantity);

/// <summary>
/// Body of POST /orders; <c>userId</c> may be left out (it is the caller's), and if present must be the caller's;
/// without <c>items</c> the order is empty. The defaults tell the OpenAPI document that neither is required.
/// </summary>
internal sealed record PlaceOrderRequest(long? UserId = null, IReadOnlyList<OrderItemRequest>? Items = null);

/// <summary>One line of <see cref="PlaceOrderRequest"/>; both properties are required.</summary>
/// <remarks>
/// A struct, so that a null line is not a line. The serializer reads a struct through its parameterless
/// constructor unless told otherwise, which would read a left-out property as 0; through this constructor
/// a line without its product or its quantity is refused as one, as a cart item is.
/// </remarks>
internal readonly record struct OrderItemRequest
{
    [JsonConstructor]
    public OrderItemRequest(long productId, int quantity) => (ProductId, Quantity) = (productId, quantity);

    public long ProductId { get; }

    public int Quantity { get; }
}

/// <summary>Body of POST /users/{userId}/cart/items.</summary>
internal sealed record CartItemRequest(long ProductId, int Quantity);

internal sealed record BalanceResponse(long UserId, long Balance);

internal sealed record ProductResponse(long Id, string Name, long Price, int Stock)
{
    public static ProductResponse From(ProductSummary product) =>
        new(product.Id.Value, product.Name, product.Price.Amount, product.Stock);
}

internal sealed record OrderLineResponse(long ProductId, int Quantity, long UnitPrice, long LineTotal);

/// <summary>An order; <c>status</c> is <c>Placed</c> or <c>Cancelled</c>, <c>cancelledAt</c> is null while it stands.</summary>
internal sealed record OrderResponse(
    Guid Id, long UserId, IReadOnlyList<OrderLineResponse> Lines, long Total, DateTimeOffset PlacedAt, string Status, DateTimeOffset? CancelledAt)
{
    public static OrderResponse From(Order order) => new(
        order.Id.Value,
        order.UserId.Value,
        [.. order.Lines.Select(l => new OrderLineResponse(l.ProductId.Value, l.Quantity, l.UnitPrice.Amount, l.LineTotal.Amount))],
        order.Total.Amount,
        order.PlacedAt,
        order.Status.ToString(),
        order.CancelledAt);
}

/// <summary>
/// One entry of a wallet's ledger: <c>kind</c> is <c>Charge</c>, <c>Payment</c> or <c>Refund</c>, <c>amount</c> is
/// positive for every kind, <c>orderId</c> is null for a charge.
/// </summary>
internal sealed record LedgerEntryResponse(long Sequence, string Kind, long Amount, long BalanceAfter, Guid? OrderId, DateTimeOffset At)
{
    public static LedgerEntryResponse From(LedgerEntry entry) =>
        new(entry.Sequence, entry.Kind.ToString(), entry.Amount.Amount, entry.BalanceAfter.Amount, entry.OrderId?.Value, entry.At);
}

internal sealed record PopularProductResponse(int Rank, long ProductId, string Name, long Price, long QuantitySold)
{
    public static PopularProductResponse From(PopularProduct popular) =>
        new(popular.Rank, popular.ProductId.Value, popular.Name, popular.Price.Amount, popular.QuantitySold);
}

internal sealed record CartLineResponse(long ProductId, string Name, long UnitPrice, int Quantity, long LineTotal);

internal sealed record CartResponse(long UserId, IReadOnlyList<CartLineResponse> Lines, long Total)
{
    public static CartResponse From(CartView cart) => new(
        cart.UserId.Value,
        [.. cart.Lines.Select(l => new CartLineResponse(l.ProductId.Value, l.Name, l.UnitPrice.Amount, l.Quantity, l.LineTotal.Amount))],
        cart.Total.Amount);
}

/// <summary>
/// One event of the shop's feed: <c>position</c> is where it was committed (<c>stripe:sequence</c>), <c>type</c>
/// its kind (<c>OrderPlaced</c>, <c>OrderCancelled</c>, <c>WalletCharged</c>, <c>ProductAdded</c>,
/// <c>ProductRestocked</c>, <c>StockDepleted</c>), and the other fields those of its kind (the rest are left out).
/// </summary>
internal sealed record EventResponse(
    string Position,
    string Type,
    DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? UserId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? OrderId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? ProductId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Amount = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? BalanceAfter = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Total = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<OrderLineResponse>? Lines = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Price = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Quantity = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? OnHand = null)
{
    public static EventResponse From(Events.CommerceEvent published)
    {
        var (position, type, at) = (published.Position.ToString(), published.GetType().Name, published.At);
        return published switch
        {
            Events.OrderPlaced o => new(position, type, at, UserId: o.UserId.Value, OrderId: o.OrderId.Value, Total: o.Total.Amount, Lines: LinesOf(o.Lines)),
            Events.OrderCancelled c => new(position, type, at, UserId: c.UserId.Value, OrderId: c.OrderId.Value, Amount: c.Refunded.Amount, Lines: LinesOf(c.Lines)),
            Events.WalletCharged c => new(position, type, at, UserId: c.UserId.Value, Amount: c.Amount.Amount, BalanceAfter: c.BalanceAfter.Amount),
            Events.ProductAdded a => new(position, type, at, ProductId: a.ProductId.Value, Name: a.Name, Price: a.Price.Amount, OnHand: a.InitialStock),
            Events.ProductRestocked r => new(position, type, at, ProductId: r.ProductId.Value, Quantity: r.Quantity, OnHand: r.OnHandAfter),
            Events.StockDepleted d => new(position, type, at, OrderId: d.OrderId.Value, ProductId: d.ProductId.Value, OnHand: 0),
            _ => new(position, type, at),
        };
    }

    private static OrderLineResponse[] LinesOf(IReadOnlyList<OrderLine> lines) =>
        [.. lines.Select(l => new OrderLineResponse(l.ProductId.Value, l.Quantity, l.UnitPrice.Amount, l.LineTotal.Amount))];
}

/// <summary>A page of GET /events: the events, and <c>next</c>, the cursor to pass as <c>after</c> for the next page.</summary>
internal sealed record EventPageResponse(IReadOnlyList<EventResponse> Events, string Next);
