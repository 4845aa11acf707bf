using System.Buffers;
using System.Text;
using System.Text.Json;
using Commerce.Events;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// How events are kept in the <c>events</c> table: a kind (<see cref="KindOf"/>), the instant split into
/// microseconds and ticks, and the other fields as a small JSON object (amounts and ids as numbers, an
/// order id as its GUID's text, lines as <c>[product, quantity, unit price]</c> triples).
/// </summary>
internal static class PostgresEventRows
{
    private const short OrderPlacedKind = 1;
    private const short OrderCancelledKind = 2;
    private const short WalletChargedKind = 3;
    private const short ProductAddedKind = 4;
    private const short ProductRestockedKind = 5;
    private const short StockDepletedKind = 6;

    /// <summary>The number that stands for the event's type in the <c>kind</c> column.</summary>
    public static short KindOf(CommerceEvent @event) => @event switch
    {
        OrderPlaced => OrderPlacedKind,
        OrderCancelled => OrderCancelledKind,
        WalletCharged => WalletChargedKind,
        ProductAdded => ProductAddedKind,
        ProductRestocked => ProductRestockedKind,
        StockDepleted => StockDepletedKind,
        _ => throw new NotSupportedException("The PostgreSQL store does not keep events of type " + @event?.GetType().Name + "."),
    };

    /// <summary>The event's fields besides its instant, as JSON.</summary>
    public static string Payload(CommerceEvent @event)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            switch (@event)
            {
                case OrderPlaced placed:
                    json.WriteString("order", placed.OrderId.Value);
                    json.WriteNumber("user", placed.UserId.Value);
                    WriteLines(json, placed.Lines);
                    json.WriteNumber("total", placed.Total.Amount);
                    break;
                case OrderCancelled cancelled:
                    json.WriteString("order", cancelled.OrderId.Value);
                    json.WriteNumber("user", cancelled.UserId.Value);
                    WriteLines(json, cancelled.Lines);
                    json.WriteNumber("refunded", cancelled.Refunded.Amount);
                    break;
                case WalletCharged charged:
                    json.WriteNumber("user", charged.UserId.Value);
                    json.WriteNumber("amount", charged.Amount.Amount);
                    json.WriteNumber("balance", charged.BalanceAfter.Amount);
                    break;
                case ProductAdded added:
                    json.WriteNumber("product", added.ProductId.Value);
                    json.WriteString("name", added.Name);
                    json.WriteNumber("price", added.Price.Amount);
                    json.WriteNumber("stock", added.InitialStock);
                    break;
                case ProductRestocked restocked:
                    json.WriteNumber("product", restocked.ProductId.Value);
                    json.WriteNumber("quantity", restocked.Quantity);
                    json.WriteNumber("on_hand", restocked.OnHandAfter);
                    break;
                case StockDepleted depleted:
                    json.WriteNumber("product", depleted.ProductId.Value);
                    json.WriteString("order", depleted.OrderId.Value);
                    break;
                default:
                    throw new NotSupportedException("The PostgreSQL store does not keep events of type " + @event?.GetType().Name + ".");
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// The event of the current row of an event read, with its position: columns stripe, seq, kind, at,
    /// at_tick and the payload as text.
    /// </summary>
    public static CommerceEvent Read(NpgsqlDataReader row)
    {
        var position = new EventPosition(row.GetInt16(0), row.GetInt64(1));
        var kind = row.GetInt16(2);
        var at = PostgresRows.Instant(row, 3, 4);
        using var document = JsonDocument.Parse(row.GetString(5));
        var p = document.RootElement;
        CommerceEvent @event = kind switch
        {
            OrderPlacedKind => new OrderPlaced(Order(p), User(p), Lines(p), new Money(p.GetProperty("total").GetInt64()), at),
            OrderCancelledKind => new OrderCancelled(Order(p), User(p), Lines(p), new Money(p.GetProperty("refunded").GetInt64()), at),
            WalletChargedKind => new WalletCharged(User(p), new Money(p.GetProperty("amount").GetInt64()), new Money(p.GetProperty("balance").GetInt64()), at),
            ProductAddedKind => new ProductAdded(Product(p), p.GetProperty("name").GetString()!, new Money(p.GetProperty("price").GetInt64()), p.GetProperty("stock").GetInt32(), at),
            ProductRestockedKind => new ProductRestocked(Product(p), p.GetProperty("quantity").GetInt32(), p.GetProperty("on_hand").GetInt32(), at),
            StockDepletedKind => new StockDepleted(Product(p), Order(p), at),
            _ => throw new InvalidOperationException($"Event {position} has kind {kind}, which this version of the store does not know (a newer one wrote it)."),
        };
        return @event with { Position = position };
    }

    private static void WriteLines(Utf8JsonWriter json, IReadOnlyList<OrderLine> lines)
    {
        json.WriteStartArray("lines");
        foreach (var line in lines)
        {
            json.WriteStartArray();
            json.WriteNumberValue(line.ProductId.Value);
            json.WriteNumberValue(line.Quantity);
            json.WriteNumberValue(line.UnitPrice.Amount);
            json.WriteEndArray();
        }

        json.WriteEndArray();
    }

    /// <summary>An event's lines, read-only (as an order's own are): an array would let a reader change the event.</summary>
    private static IReadOnlyList<OrderLine> Lines(JsonElement p)
    {
        var array = p.GetProperty("lines");
        var lines = new OrderLine[array.GetArrayLength()];
        var i = 0;
        foreach (var line in array.EnumerateArray())
        {
            lines[i++] = new OrderLine(new ProductId(line[0].GetInt64()), line[1].GetInt32(), new Money(line[2].GetInt64()));
        }

        return Array.AsReadOnly(lines);
    }

    private static OrderId Order(JsonElement p) => new(p.GetProperty("order").GetGuid());

    private static UserId User(JsonElement p) => new(p.GetProperty("user").GetInt64());

    private static ProductId Product(JsonElement p) => new(p.GetProperty("product").GetInt64());
}
