using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Commerce.Events;

namespace Commerce.Tests;

/// <summary>
/// Hosts forward events to queues and store domain objects with System.Text.Json: every public domain type and
/// event serializes to plain JSON and reads back to an equal value, with reflection (default and web options, and
/// the strict options of the web sample) and through a source-generated context (as a native-AOT host does), and
/// reading JSON never builds a value that the type's constructor refuses.
/// </summary>
public sealed class JsonSerializationTests
{
    /// <summary>How a host serializes.</summary>
    public enum Format
    {
        /// <summary>Reflection, <c>new JsonSerializerOptions()</c>.</summary>
        Default,

        /// <summary>Reflection, <see cref="JsonSerializerDefaults.Web"/>.</summary>
        Web,

        /// <summary>Reflection, web defaults made strict as in the web sample (no unmapped or duplicate properties, required constructor parameters).</summary>
        Strict,

        /// <summary>The source-generated <see cref="CoreJsonContext"/>, default options.</summary>
        SourceGenerated,

        /// <summary>The source-generated <see cref="CoreJsonContext"/> over web options.</summary>
        SourceGeneratedWeb,
    }

    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 30, 15, TimeSpan.Zero);
    private static readonly OrderId AnOrder = new(Guid.Parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));

    private static readonly JsonSerializerOptions DefaultOptions = new() { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
    private static readonly JsonSerializerOptions WebOptions = new(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
    private static readonly JsonSerializerOptions StrictOptions = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        NumberHandling = JsonNumberHandling.Strict,
        AllowDuplicateProperties = false,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
    };

    private static readonly CoreJsonContext SourceGeneratedContext = new(new JsonSerializerOptions());
    private static readonly CoreJsonContext SourceGeneratedWebContext = new(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static TheoryData<Format> Formats => [.. Enum.GetValues<Format>()];

    [Theory]
    [MemberData(nameof(Formats))]
    public void Money_round_trips_as_its_amount_negative_amounts_included(Format format)
    {
        Assert.Equal(300, Write(new Money(300), format).GetInt64());
        Assert.Equal(new Money(300), RoundTrip(new Money(300), format));
        Assert.Equal(new Money(-5), RoundTrip(new Money(-5), format));   // a Money may hold a negative difference
        Assert.Equal(new Money(long.MaxValue), RoundTrip(new Money(long.MaxValue), format));
        Assert.Equal(Money.Zero, RoundTrip(Money.Zero, format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Money_ids_and_keys_are_written_as_their_value_alone(Format format)
    {
        // The same text whatever the options: numbers for amounts and numeric ids, strings for order ids and keys.
        Assert.Equal("300", Write(new Money(300), format).GetRawText());
        Assert.Equal("-5", Write(new Money(-5), format).GetRawText());
        Assert.Equal("7", Write(new UserId(7), format).GetRawText());
        Assert.Equal("-9223372036854775808", Write(new ProductId(long.MinValue), format).GetRawText());
        Assert.Equal("\"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"", Write(AnOrder, format).GetRawText());
        Assert.Equal("\"top-up-1\"", Write(new IdempotencyKey("top-up-1"), format).GetRawText());
        Assert.Equal("null", Write(default(IdempotencyKey), format).GetRawText());
        Assert.Equal(default, Read<IdempotencyKey>("null", format));
        Assert.Equal("\"\"", Write(new IdempotencyKey(string.Empty), format).GetRawText());
        Assert.Equal(new IdempotencyKey(string.Empty), Read<IdempotencyKey>("\"\"", format));

        var line = Node(new OrderLine(new ProductId(42), 3, new Money(250)), format);
        Assert.Equal(42, (long)line[Name(format, "ProductId")]!);
        Assert.Equal(250, (long)line[Name(format, "UnitPrice")]!);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Ids_are_dictionary_keys_as_their_text(Format format)
    {
        var stock = new Dictionary<ProductId, int> { [new ProductId(42)] = 3, [new ProductId(-1)] = 0 };
        Assert.Equal("{\"42\":3,\"-1\":0}", Write(stock, format).GetRawText());
        Assert.Equal(stock, RoundTrip(stock, format));

        var spent = new Dictionary<UserId, Money> { [new UserId(7)] = new Money(450) };
        Assert.Equal("{\"7\":450}", Write(spent, format).GetRawText());
        Assert.Equal(spent, RoundTrip(spent, format));

        var orders = new Dictionary<OrderId, int> { [AnOrder] = 1 };
        Assert.Equal("{\"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\":1}", Write(orders, format).GetRawText());
        Assert.Equal(orders, RoundTrip(orders, format));

        Assert.Throws<JsonException>(() => Read<Dictionary<ProductId, int>>("{\"tea\":3}", format));
        Assert.Throws<JsonException>(() => Read<Dictionary<OrderId, int>>("{\"42\":3}", format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_value_of_another_kind_is_a_JsonException(Format format)
    {
        Assert.Throws<JsonException>(() => Read<Money>("\"450\"", format));
        Assert.Throws<JsonException>(() => Read<Money>("4.5", format));
        Assert.Throws<JsonException>(() => Read<Money>("9223372036854775808", format));
        Assert.Throws<JsonException>(() => Read<Money>("{\"amount\":450}", format));
        Assert.Throws<JsonException>(() => Read<Money>("null", format));
        Assert.Throws<JsonException>(() => Read<UserId>("true", format));
        Assert.Throws<JsonException>(() => Read<ProductId>("[42]", format));
        Assert.Throws<JsonException>(() => Read<OrderId>("42", format));
        Assert.Throws<JsonException>(() => Read<OrderId>("\"not-a-guid\"", format));
        Assert.Throws<JsonException>(() => Read<IdempotencyKey>("42", format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Ids_round_trip_as_their_value(Format format)
    {
        Assert.Equal(7, Write(new UserId(7), format).GetInt64());
        Assert.Equal(new UserId(7), RoundTrip(new UserId(7), format));
        Assert.Equal(new UserId(long.MinValue), RoundTrip(new UserId(long.MinValue), format));
        Assert.Equal(new ProductId(42), RoundTrip(new ProductId(42), format));
        Assert.Equal(AnOrder.Value, Write(AnOrder, format).GetGuid());
        Assert.Equal(AnOrder, RoundTrip(AnOrder, format));
        Assert.Equal(new IdempotencyKey("top-up-1"), RoundTrip(new IdempotencyKey("top-up-1"), format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void An_order_line_round_trips_with_its_product_quantity_and_unit_price(Format format)
    {
        var line = new OrderLine(new ProductId(42), 3, new Money(250));
        var json = Write(line, format);
        Assert.Equal(3, Property(json, format, "Quantity").GetInt32());

        var back = RoundTrip(line, format);
        Assert.Equal(line, back);
        Assert.Equal(new Money(750), back.LineTotal);
        Assert.Equal(new OrderLineRequest(new ProductId(42), 3), RoundTrip(new OrderLineRequest(new ProductId(42), 3), format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void An_order_round_trips_placed_and_cancelled(Format format)
    {
        var placed = new Order(AnOrder, new UserId(1), [new OrderLine(new ProductId(42), 3, new Money(250)), new OrderLine(new ProductId(7), 1, Money.Zero)], At);
        var back = RoundTrip(placed, format);
        Assert.Equal(placed, back);
        Assert.Equal(new Money(750), back.Total);
        Assert.Equal(OrderStatus.Placed, back.Status);

        var cancelled = placed.Cancel(At.AddMinutes(5)).Value;
        var json = Write(cancelled, format);
        Assert.Equal(750, Property(json, format, "Total").GetInt64());
        back = RoundTrip(cancelled, format);
        Assert.Equal(cancelled, back);
        Assert.Equal(OrderStatus.Cancelled, back.Status);
        Assert.Equal(At.AddMinutes(5), back.CancelledAt);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_wallet_and_its_ledger_entries_round_trip(Format format)
    {
        var wallet = new Wallet(new UserId(1), new Money(9_250), ledgerLength: 4);
        Assert.Equal(wallet, RoundTrip(wallet, format));

        var charge = new LedgerEntry(1, new UserId(1), LedgerEntryKind.Charge, new Money(10_000), new Money(10_000), null, At);
        var payment = new LedgerEntry(2, new UserId(1), LedgerEntryKind.Payment, new Money(750), new Money(9_250), AnOrder, At);
        Assert.Equal(charge, RoundTrip(charge, format));
        Assert.Equal(payment, RoundTrip(payment, format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Stock_products_and_the_views_of_the_catalog_and_ranking_round_trip(Format format)
    {
        Assert.Equal(new StockItem(new ProductId(42), 17), RoundTrip(new StockItem(new ProductId(42), 17), format));
        Assert.Equal(new Product(new ProductId(42), "Tea \"Earl Grey\" – 100 g", new Money(450)), RoundTrip(new Product(new ProductId(42), "Tea \"Earl Grey\" – 100 g", new Money(450)), format));
        Assert.Equal(new ProductSummary(new ProductId(42), "Tea", new Money(450), 17), RoundTrip(new ProductSummary(new ProductId(42), "Tea", new Money(450), 17), format));
        Assert.Equal(new PopularProduct(1, new ProductId(42), "Tea", new Money(450), 12), RoundTrip(new PopularProduct(1, new ProductId(42), "Tea", new Money(450), 12), format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_cart_and_its_view_round_trip(Format format)
    {
        var cart = new Cart(new UserId(1), [new CartLine(new ProductId(42), 2), new CartLine(new ProductId(7), 1)]);
        Assert.Equal(cart, RoundTrip(cart, format));
        Assert.Equal(Cart.Empty(new UserId(2)), RoundTrip(Cart.Empty(new UserId(2)), format));

        var view = new CartView(new UserId(1), [new CartLineView(new ProductId(42), "Tea", new Money(450), 2, new Money(900))], new Money(900));
        var back = RoundTrip(view, format);
        Assert.Equal(view.Lines, back.Lines);   // a list compares by reference in the record's equality
        Assert.Equal(view, back with { Lines = view.Lines });
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void An_error_round_trips_with_its_code_message_and_products(Format format)
    {
        var error = new CommerceError(CommerceErrorCode.InsufficientStock, "Not enough stock.", [new ProductId(42), new ProductId(7)]);
        Assert.Equal(error, RoundTrip(error, format));
        Assert.Equal(new CommerceError(CommerceErrorCode.EmptyOrder, "No lines."), RoundTrip(new CommerceError(CommerceErrorCode.EmptyOrder, "No lines."), format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Event_positions_and_streams_round_trip(Format format)
    {
        Assert.Equal(new EventPosition(3, 17), RoundTrip(new EventPosition(3, 17), format));
        Assert.Equal(EventStream.ForProduct(new ProductId(42)), RoundTrip(EventStream.ForProduct(new ProductId(42)), format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Each_event_round_trips_as_its_own_type(Format format)
    {
        foreach (var published in Events())
        {
            AssertSameEvent(published, RoundTripAs(published, published.GetType(), format));
        }
    }

    /// <summary>An event sent as <see cref="CommerceEvent"/> (how a queue sees it) keeps its kind, under a stable name, and its data.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void An_event_serialized_as_CommerceEvent_keeps_its_kind_and_data(Format format)
    {
        foreach (var published in Events())
        {
            var json = Write<CommerceEvent>(published, format);
            Assert.Equal(Discriminators[published.GetType()], json.GetProperty("$type").GetString());
            Assert.Equal(published.Position.Sequence, Property(Property(json, format, "Position"), format, "Sequence").GetInt64());

            var back = Read<CommerceEvent>(json.GetRawText(), format);
            Assert.IsType(published.GetType(), back);
            AssertSameEvent(published, back);
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void An_event_cursor_round_trips_as_its_text(Format format)
    {
        var cursor = EventCursor.Start.Through(new EventPosition(3, 5)).Through(new EventPosition(17, 2));
        Assert.Equal("3:5,17:2", Write(cursor, format).GetString());
        Assert.Equal(cursor, RoundTrip(cursor, format));
        Assert.Equal(EventCursor.Start, RoundTrip(EventCursor.Start, format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void An_event_page_round_trips_with_every_kind_of_event(Format format)
    {
        var page = new EventPage(Events(), EventCursor.Start.Through(new EventPosition(3, 9)));
        var back = RoundTrip(page, format);
        Assert.Equal(page.Next, back.Next);
        Assert.Equal(page.Events.Count, back.Events.Count);
        for (var i = 0; i < page.Events.Count; i++)
        {
            Assert.IsType(page.Events[i].GetType(), back.Events[i]);
            AssertSameEvent(page.Events[i], back.Events[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Options_round_trip(Format format)
    {
        var options = new CommerceOptions { MaxBalance = new Money(5_000_000), PopularProductsWindow = TimeSpan.FromDays(7), PublishEvents = false };
        var back = RoundTrip(options, format);
        Assert.Equal(options.MaxBalance, back.MaxBalance);
        Assert.Equal(options.PopularProductsWindow, back.PopularProductsWindow);
        Assert.False(back.PublishEvents);
    }

    /// <summary>JSON is input: what a type's constructor refuses, reading it refuses too, with the same exception.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_refuses_a_wallet_stock_item_product_or_cart_that_its_constructor_refuses(Format format)
    {
        var wallet = Node(new Wallet(new UserId(1), new Money(1)), format);
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<Wallet>(Set(wallet, format, -1, "Balance"), format));
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<Wallet>(Set(wallet, format, -1, "LedgerLength"), format));
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<StockItem>(Set(Node(new StockItem(new ProductId(1), 5), format), format, -5, "OnHand"), format));

        var product = Node(new Product(new ProductId(1), "Tea", new Money(450)), format);
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<Product>(Set(product, format, -450, "Price"), format));
        Assert.Throws<ArgumentNullException>(() => Read<Product>(Set(product, format, null, "Name"), format));

        var cart = Node(new Cart(new UserId(1), [new CartLine(new ProductId(42), 2), new CartLine(new ProductId(7), 1)]), format);
        Assert.Throws<ArgumentException>(() => Read<Cart>(Set(cart, format, 0, "Lines", "0", "Quantity"), format));
        Assert.Throws<ArgumentException>(() => Read<Cart>(Set(cart, format, 42, "Lines", "1", "ProductId"), format));

        Assert.Throws<JsonException>(() => Read<Money>("\"300\"", format));
        Assert.Throws<JsonException>(() => Read<Wallet>("[]", format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_refuses_an_order_line_that_its_constructor_refuses(Format format)
    {
        var line = Node(new OrderLine(new ProductId(42), 3, new Money(250)), format);
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<OrderLine>(Set(line, format, 0, "Quantity"), format));
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<OrderLine>(Set(line, format, -250, "UnitPrice"), format));
        Assert.Throws<OverflowException>(() => Read<OrderLine>(Set(line, format, long.MaxValue, "UnitPrice"), format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_refuses_an_order_that_its_constructor_refuses(Format format)
    {
        var order = Node(new Order(AnOrder, new UserId(1), [new OrderLine(new ProductId(42), 3, new Money(250))], At), format);
        var line = order[Name(format, "Lines")]![0]!;
        Assert.Throws<ArgumentException>(() => Read<Order>(Set(order, format, new JsonArray(), "Lines"), format));
        Assert.Throws<ArgumentException>(() => Read<Order>(Set(order, format, new JsonArray(line.DeepClone(), line.DeepClone()), "Lines"), format));
        Assert.Throws<ArgumentOutOfRangeException>(() => Read<Order>(Set(order, format, 0, "Lines", "0", "Quantity"), format));
        Assert.Throws<ArgumentNullException>(() => Read<Order>(Set(order, format, null, "Lines"), format));
    }

    /// <summary>The total and status an order's JSON shows follow from its lines and cancellation; reading computes them again.</summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_an_order_computes_its_total_from_its_lines(Format format)
    {
        var order = Node(new Order(AnOrder, new UserId(1), [new OrderLine(new ProductId(42), 3, new Money(250))], At), format);
        Assert.Equal(new Money(750), Read<Order>(Set(order, format, 1, "Total"), format).Total);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_refuses_an_error_without_a_message(Format format) =>
        Assert.Throws<ArgumentNullException>(() => Read<CommerceError>(Set(Node(new CommerceError(CommerceErrorCode.EmptyOrder, "No lines."), format), format, null, "Message"), format));

    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_refuses_what_is_not_an_event_cursor(Format format)
    {
        Assert.Throws<JsonException>(() => Read<EventCursor>("\"3:0\"", format));
        Assert.Throws<JsonException>(() => Read<EventCursor>("\"5:1,3:2\"", format));
        Assert.Throws<JsonException>(() => Read<EventCursor>("\"3:05\"", format));
        Assert.Throws<JsonException>(() => Read<EventCursor>("\"03:5\"", format));
        Assert.Throws<JsonException>(() => Read<EventCursor>("\"not a cursor\"", format));
        Assert.Throws<JsonException>(() => Read<EventCursor>("17", format));
        Assert.Throws<JsonException>(() => Read<EventCursor>("{}", format));
        Assert.Null(Read<EventCursor?>("null", format));
    }

    /// <summary>
    /// An event read as <see cref="CommerceEvent"/> names its kind first: an unknown kind is a <see cref="JsonException"/>;
    /// none, or one after other properties, is the serializer's <see cref="NotSupportedException"/> for an abstract type.
    /// </summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void Reading_refuses_an_event_of_an_unknown_or_unnamed_kind(Format format)
    {
        Assert.Throws<JsonException>(() => Read<CommerceEvent>("{\"$type\":\"OrderShipped\",\"At\":\"2026-11-24T12:30:15+00:00\"}", format));
        Assert.Throws<JsonException>(() => Read<CommerceEvent>("{\"$type\":3}", format));
        Assert.Throws<NotSupportedException>(() => Read<CommerceEvent>("{\"At\":\"2026-11-24T12:30:15+00:00\"}", format));
        Assert.Throws<NotSupportedException>(() => Read<CommerceEvent>("{\"At\":\"2026-11-24T12:30:15+00:00\",\"$type\":\"WalletCharged\"}", format));
    }

    /// <summary>The name each kind of event is written under: fixed, whatever the types are called.</summary>
    private static readonly Dictionary<Type, string> Discriminators = new()
    {
        [typeof(OrderPlaced)] = "OrderPlaced",
        [typeof(OrderCancelled)] = "OrderCancelled",
        [typeof(WalletCharged)] = "WalletCharged",
        [typeof(ProductAdded)] = "ProductAdded",
        [typeof(ProductRestocked)] = "ProductRestocked",
        [typeof(StockDepleted)] = "StockDepleted",
    };

    /// <summary>
    /// Generated values, from a fixed seed: orders placed and cancelled (line totals up to 64 bits), ledger
    /// entries, errors, cursors and every kind of event, with extreme ids, amounts, instants and names of any
    /// characters, read back equal in every format, events both as their own type and as <see cref="CommerceEvent"/>.
    /// </summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void Generated_orders_ledger_entries_errors_cursors_and_events_read_back_equal(Format format)
    {
        var random = new Random(20261206);
        for (var i = 0; i < 200; i++)
        {
            var order = GeneratedOrder(random);
            var back = RoundTrip(order, format);
            Assert.Equal(order, back);
            Assert.Equal(order.Total, back.Total);
            Assert.Equal(order.Status, back.Status);

            var kind = (LedgerEntryKind)random.Next(3);
            var entry = new LedgerEntry(Long(random, 1), new UserId(Long(random, long.MinValue)), kind, new Money(Long(random, 0)), new Money(Long(random, 0)), kind == LedgerEntryKind.Charge ? null : order.Id, Instant(random));
            Assert.Equal(entry, RoundTrip(entry, format));

            var codes = Enum.GetValues<CommerceErrorCode>();
            var error = new CommerceError(codes[random.Next(codes.Length)], Text(random), Enumerable.Range(0, random.Next(4)).Select(_ => new ProductId(Long(random, long.MinValue))));
            Assert.Equal(error, RoundTrip(error, format));

            var cursor = Enumerable.Range(0, random.Next(5)).Aggregate(EventCursor.Start, (c, _) => c.Through(Position(random)));
            Assert.Equal(cursor, RoundTrip(cursor, format));

            var at = Instant(random);
            var product = new ProductId(Long(random, long.MinValue));
            CommerceEvent[] events =
            [
                new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt),
                new OrderCancelled(order.Id, order.UserId, order.Lines, order.Total, at),
                new WalletCharged(order.UserId, new Money(Long(random, 1)), new Money(Long(random, 0)), at),
                new ProductAdded(product, Text(random), new Money(Long(random, 0)), random.Next(), at),
                new ProductRestocked(product, random.Next(1, int.MaxValue), random.Next(), at),
                new StockDepleted(product, order.Id, at),
            ];
            foreach (var published in events.Select(e => e with { Position = Position(random) }))
            {
                AssertSameEvent(published, RoundTripAs(published, published.GetType(), format));
                var json = Write<CommerceEvent>(published, format);
                AssertSameEvent(published, Read<CommerceEvent>(json.GetRawText(), format));
            }
        }
    }

    /// <summary>A 64-bit value from <paramref name="min"/> up: mostly small, sometimes at either end of the range.</summary>
    private static long Long(Random random, long min) => random.Next(4) switch
    {
        0 => min,
        1 => long.MaxValue - random.Next(3),
        _ => Math.Max(min, random.NextInt64(-1_000, 1_000_000)),
    };

    /// <summary>An instant anywhere in the range of <see cref="DateTimeOffset"/>, at its ends sometimes, at offset zero or another.</summary>
    private static DateTimeOffset Instant(Random random)
    {
        var ticks = random.Next(4) switch
        {
            0 => DateTimeOffset.MinValue.UtcTicks + TimeSpan.TicksPerDay,
            1 => DateTimeOffset.MaxValue.UtcTicks - TimeSpan.TicksPerDay,
            _ => random.NextInt64(DateTimeOffset.MinValue.UtcTicks + TimeSpan.TicksPerDay, DateTimeOffset.MaxValue.UtcTicks - TimeSpan.TicksPerDay),
        };
        var utc = new DateTimeOffset(ticks, TimeSpan.Zero);
        return random.Next(3) == 0 ? utc.ToOffset(TimeSpan.FromMinutes(random.Next(-14 * 60, (14 * 60) + 1))) : utc;
    }

    /// <summary>A position in any stripe a cursor may name, with a number up to <see cref="long.MaxValue"/>.</summary>
    private static EventPosition Position(Random random) => new(random.Next(EventCursor.MaxStripes), Long(random, 1));

    /// <summary>Text of letters, quotes, backslashes, control characters, accents and surrogate pairs.</summary>
    private static string Text(Random random)
    {
        string[] pieces = ["a", "Z", " ", "\"", "\\", "\n", "\u0000", "\u001f", "é", "\u2028", "\ud83d\ude00", "\ufeff", "<", "&"];
        return string.Concat(Enumerable.Range(0, random.Next(12)).Select(_ => pieces[random.Next(pieces.Length)]));
    }

    /// <summary>An order of one to four products whose total fits in 64 bits (a single line reaches <see cref="long.MaxValue"/> sometimes), cancelled sometimes.</summary>
    private static Order GeneratedOrder(Random random)
    {
        var count = random.Next(1, 5);
        var products = new HashSet<long>();
        while (products.Count < count)
        {
            products.Add(Long(random, long.MinValue));
        }

        var lines = products.Select(p =>
        {
            var quantity = random.Next(3) == 0 ? int.MaxValue - random.Next(3) : random.Next(1, 100);
            var price = count == 1 && random.Next(4) == 0 ? long.MaxValue / quantity : random.NextInt64(0, (long.MaxValue / 4 / quantity) + 1);
            return new OrderLine(new ProductId(p), quantity, new Money(price));
        }).ToArray();
        var bytes = new byte[16];
        random.NextBytes(bytes);
        var order = new Order(new OrderId(new Guid(bytes)), new UserId(Long(random, long.MinValue)), lines, Instant(random));
        return random.Next(2) == 0 ? order : order.Cancel(Instant(random)).Value;
    }

    /// <summary>Events with one of each kind, at distinct positions.</summary>
    private static CommerceEvent[] Events()
    {
        OrderLine[] lines = [new(new ProductId(42), 3, new Money(250)), new(new ProductId(7), 1, Money.Zero)];
        return
        [
            new WalletCharged(new UserId(1), new Money(10_000), new Money(10_000), At) { Position = new EventPosition(0, 1) },
            new ProductAdded(new ProductId(42), "Tea", new Money(250), 3, At) { Position = new EventPosition(1, 1) },
            new ProductRestocked(new ProductId(42), 5, 8, At) { Position = new EventPosition(1, 2) },
            new OrderPlaced(AnOrder, new UserId(1), lines, new Money(750), At) { Position = new EventPosition(0, 2) },
            new StockDepleted(new ProductId(42), AnOrder, At) { Position = new EventPosition(1, 3) },
            new OrderCancelled(AnOrder, new UserId(1), lines, new Money(750), At.AddMinutes(1)) { Position = new EventPosition(0, 3) },
        ];
    }

    /// <summary>The same event: equal, its lines (a list, which a record compares by reference) compared item by item.</summary>
    private static void AssertSameEvent(CommerceEvent expected, CommerceEvent actual)
    {
        switch (expected, actual)
        {
            case (OrderPlaced placed, OrderPlaced back):
                Assert.Equal(placed.Lines, back.Lines);
                Assert.Equal(placed, back with { Lines = placed.Lines });
                break;
            case (OrderCancelled cancelled, OrderCancelled back):
                Assert.Equal(cancelled.Lines, back.Lines);
                Assert.Equal(cancelled, back with { Lines = cancelled.Lines });
                break;
            default:
                Assert.Equal(expected, actual);
                break;
        }

        Assert.Equal(expected.Position, actual.Position);
        Assert.Equal(expected.At, actual.At);
    }

    private static JsonObject Node<T>(T value, Format format) => JsonNode.Parse(Write(value, format).GetRawText())!.AsObject();

    /// <summary>A copy of <paramref name="json"/> with the value at a path (of property names and array indexes) replaced.</summary>
    private static string Set(JsonObject json, Format format, JsonNode? value, params string[] path)
    {
        var copy = json.DeepClone();
        var parent = copy;
        foreach (var step in path[..^1])
        {
            parent = int.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? parent[index]! : parent[Name(format, step)]!;
        }

        parent[Name(format, path[^1])] = value;
        return copy.ToJsonString();
    }

    private static string Name(Format format, string name) =>
        format is Format.Default or Format.SourceGenerated ? name : JsonNamingPolicy.CamelCase.ConvertName(name);

    private static JsonElement Property(JsonElement json, Format format, string name) => json.GetProperty(Name(format, name));

    private static T RoundTrip<T>(T value, Format format) => Read<T>(Write(value, format).GetRawText(), format);

    private static CommerceEvent RoundTripAs(CommerceEvent value, Type type, Format format)
    {
        var json = format switch
        {
            Format.SourceGenerated => JsonSerializer.Serialize(value, SourceGeneratedContext.GetTypeInfo(type)!),
            Format.SourceGeneratedWeb => JsonSerializer.Serialize(value, SourceGeneratedWebContext.GetTypeInfo(type)!),
            _ => JsonSerializer.Serialize(value, type, OptionsOf(format)),
        };
        return (CommerceEvent)(format switch
        {
            Format.SourceGenerated => JsonSerializer.Deserialize(json, SourceGeneratedContext.GetTypeInfo(type)!),
            Format.SourceGeneratedWeb => JsonSerializer.Deserialize(json, SourceGeneratedWebContext.GetTypeInfo(type)!),
            _ => JsonSerializer.Deserialize(json, type, OptionsOf(format)),
        })!;
    }

    private static JsonElement Write<T>(T value, Format format) =>
        JsonSerializer.SerializeToElement(value, TypeInfo<T>(format));

    private static T Read<T>(string json, Format format) =>
        JsonSerializer.Deserialize(json, TypeInfo<T>(format))!;

    /// <summary>
    /// The contract of <typeparamref name="T"/>: from the source-generated context alone (no reflection behind it:
    /// a type it does not hold is an error), or by reflection.
    /// </summary>
    private static JsonTypeInfo<T> TypeInfo<T>(Format format) => format switch
    {
        Format.SourceGenerated => (JsonTypeInfo<T>)SourceGeneratedContext.GetTypeInfo(typeof(T))!,
        Format.SourceGeneratedWeb => (JsonTypeInfo<T>)SourceGeneratedWebContext.GetTypeInfo(typeof(T))!,
        _ => (JsonTypeInfo<T>)OptionsOf(format).GetTypeInfo(typeof(T)),
    };

    private static JsonSerializerOptions OptionsOf(Format format) => format switch
    {
        Format.Default => DefaultOptions,
        Format.Web => WebOptions,
        Format.Strict => StrictOptions,
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };
}

/// <summary>The core's public types in a source-generated context, as a native-AOT host declares them.</summary>
[JsonSerializable(typeof(Money))]
[JsonSerializable(typeof(UserId))]
[JsonSerializable(typeof(ProductId))]
[JsonSerializable(typeof(OrderId))]
[JsonSerializable(typeof(IdempotencyKey))]
[JsonSerializable(typeof(Dictionary<ProductId, int>))]
[JsonSerializable(typeof(Dictionary<UserId, Money>))]
[JsonSerializable(typeof(Dictionary<OrderId, int>))]
[JsonSerializable(typeof(OrderLine))]
[JsonSerializable(typeof(OrderLineRequest))]
[JsonSerializable(typeof(Order))]
[JsonSerializable(typeof(Wallet))]
[JsonSerializable(typeof(LedgerEntry))]
[JsonSerializable(typeof(StockItem))]
[JsonSerializable(typeof(Product))]
[JsonSerializable(typeof(ProductSummary))]
[JsonSerializable(typeof(PopularProduct))]
[JsonSerializable(typeof(Cart))]
[JsonSerializable(typeof(CartView))]
[JsonSerializable(typeof(CommerceError))]
[JsonSerializable(typeof(CommerceOptions))]
[JsonSerializable(typeof(EventPosition))]
[JsonSerializable(typeof(EventStream))]
[JsonSerializable(typeof(EventCursor))]
[JsonSerializable(typeof(EventPage))]
[JsonSerializable(typeof(CommerceEvent))]
[JsonSerializable(typeof(OrderPlaced))]
[JsonSerializable(typeof(OrderCancelled))]
[JsonSerializable(typeof(WalletCharged))]
[JsonSerializable(typeof(ProductAdded))]
[JsonSerializable(typeof(ProductRestocked))]
[JsonSerializable(typeof(StockDepleted))]
internal sealed partial class CoreJsonContext : JsonSerializerContext;
