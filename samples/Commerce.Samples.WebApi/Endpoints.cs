using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Commerce.Samples.WebApi;

/// <summary>The API's routes, one group per part of the shop. Handlers translate wire types to library calls and back.</summary>
internal static class Endpoints
{
    private const int MaxRankingDays = 366;

    /// <summary>The header that makes a POST safe to retry: the same key and request get the first answer again.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The largest page of ledger entries or orders (the library's limit for both).</summary>
    public const int MaxListLimit = 1_000;

    private const int DefaultLedgerLimit = 100;
    private const int DefaultOrdersLimit = 20;

    /// <summary>
    /// The request's <see cref="IdempotencyKeyHeader"/>: none, or its one value (the library judges it). A header
    /// sent more than once is refused: bound as one string, its values would be joined by commas into a key that
    /// neither meant.
    /// </summary>
    private static bool TryReadKey(HttpRequest request, string? bound, out IdempotencyKey? key)
    {
        key = bound is null ? null : new IdempotencyKey(bound);
        return request.Headers[IdempotencyKeyHeader].Count <= 1;
    }

    private static ProblemHttpResult KeySentMoreThanOnce() =>
        ApiResults.Problem(new CommerceError(CommerceErrorCode.InvalidIdempotencyKey, $"{IdempotencyKeyHeader} must be sent at most once."));

    public static void MapWalletEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/users/{userId}").WithTags("Wallets").RequireAccountOwner();
        users.MapPost("/balance/charge", ChargeAsync).ProducesProblem(StatusCodes.Status409Conflict).AcceptsJsonBody().RequireWriteLimit();
        users.MapGet("/balance", GetBalanceAsync);
        users.MapGet("/ledger", GetLedgerAsync);
    }

    public static void MapProductEndpoints(this IEndpointRouteBuilder app)
    {
        var products = app.MapGroup("/products").WithTags("Products").ProducesProblem(StatusCodes.Status400BadRequest);
        products.MapGet("/", ListProductsAsync);
        products.MapPost("/", AddProductAsync).ProducesProblem(StatusCodes.Status409Conflict).AcceptsJsonBody()
            .TakesNoIdempotencyKey("is a 409 ProductAlreadyExists and changes nothing").RequireCatalogAdmin().RequireWriteLimit();
        products.MapGet("/popular", GetPopularAsync);
        products.MapGet("/{id}", GetProductAsync).ProducesProblem(StatusCodes.Status404NotFound);
        products.MapPost("/{id}/restock", RestockAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .AcceptsJsonBody().TakesNoIdempotencyKey("restocks again").RequireCatalogAdmin().RequireWriteLimit();
    }

    public static void MapOrderEndpoints(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/orders").WithTags("Orders").RequireCustomer();
        orders.MapPost("/", PlaceOrderAsync)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .AcceptsJsonBody()
            .RequireWriteLimit();
        orders.MapGet("/{orderId}", GetOrderAsync).ProducesProblem(StatusCodes.Status404NotFound);
        orders.MapPost("/{orderId}/cancel", CancelOrderAsync)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .TakesNoBody()
            .TakesNoIdempotencyKey("is a 409 OrderAlreadyCancelled and changes nothing")
            .RequireWriteLimit();
        app.MapGet("/users/{userId}/orders", ListUserOrdersAsync).WithTags("Orders").RequireAccountOwner();
    }

    public static void MapCartEndpoints(this IEndpointRouteBuilder app)
    {
        var cart = app.MapGroup("/users/{userId}/cart").WithTags("Carts").RequireAccountOwner();
        cart.MapGet("/", GetCartAsync);
        // Every write may be refused with ConcurrencyConflict (409) once the library's commit attempts run out.
        cart.MapPost("/items", AddCartItemAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .AcceptsJsonBody().TakesNoIdempotencyKey("adds the quantity again").RequireWriteLimit();
        cart.MapDelete("/items/{productId}", RemoveCartItemAsync).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict).TakesNoBody().TakesNoIdempotencyKey("is a 404 CartItemNotFound and changes nothing")
            .RequireWriteLimit();
        // A checkout may be refused as an order may be (ICartService.CheckoutAsync): a product unknown to the catalog too.
        cart.MapPost("/checkout", CheckoutAsync).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .TakesNoBody().RequireWriteLimit();
    }

    /// <summary>
    /// The shop's event feed, for back-office systems (the catalog-admin role): pages after a cursor, and a
    /// server-sent event stream that follows the feed as it grows.
    /// </summary>
    public static void MapEventEndpoints(this IEndpointRouteBuilder app)
    {
        _ = StreamKeepAliveOf(app.ServiceProvider.GetRequiredService<IConfiguration>()); // a bad setting fails at start, not per stream
        var events = app.MapGroup("/events").WithTags("Events");
        events.MapGet("/", ReadEventsAsync).ProducesProblem(StatusCodes.Status400BadRequest).RequireCatalogAdmin();
        // ServerSentEventsResult<T> describes its 200 as JSON of SseItem<T> (data, eventType, eventId,
        // reconnectionInterval); on the wire those are the item's SSE fields, and its data line is one event.
        events.MapGet("/stream", StreamEventsAsync).Produces<EventResponse>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest).RequireCatalogAdmin();
    }

    // Every protected route also answers 400 (a malformed route id), 401 (no valid token) and 403 (a token without the right).
    private static RouteGroupBuilder RequireAccountOwner(this RouteGroupBuilder group) =>
        group.RequireAuthorization(Security.AccountOwner).ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);

    private static RouteHandlerBuilder RequireAccountOwner(this RouteHandlerBuilder endpoint) =>
        endpoint.RequireAuthorization(Security.AccountOwner).ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);

    private static RouteGroupBuilder RequireCustomer(this RouteGroupBuilder group) =>
        group.RequireAuthorization(Security.Customer).ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);

    private static RouteHandlerBuilder RequireCatalogAdmin(this RouteHandlerBuilder endpoint) =>
        endpoint.RequireAuthorization(Security.CatalogAdmin)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);

    /// <summary>
    /// A route that reads a JSON body: 413 for a body above the server's limit (Kestrel's <c>MaxRequestBodySize</c>), 415
    /// for one that is not <c>application/json</c> or names a charset the API cannot decode.
    /// </summary>
    private static RouteHandlerBuilder AcceptsJsonBody(this RouteHandlerBuilder builder) =>
        builder.ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    /// <summary>
    /// A write that takes no body (a cancel, a checkout, the removal of a cart line): one that comes with content is a 400
    /// before it runs, as a body write refuses a property it does not take, rather than run as if the content had not
    /// been sent. An empty body (no content, a <c>Content-Length</c> of 0, an empty chunked body) is no body. Every
    /// such route already lists its 400 (a malformed route id).
    /// </summary>
    private static RouteHandlerBuilder TakesNoBody(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(async (context, next) =>
            await HasContentAsync(context.HttpContext.Request)
                ? ApiResults.BadRequest("This request takes no body; send it without one.")
                : await next(context));

    /// <summary>
    /// Whether the request carries content: a <c>Content-Length</c> above 0, or, without one (a chunked body), a first
    /// byte. The body is buffered (<see cref="RequestValidation.UseRequestBodyBuffering"/>), so reading that byte takes
    /// nothing from anyone.
    /// </summary>
    private static async ValueTask<bool> HasContentAsync(HttpRequest request)
    {
        if (request.ContentLength is { } length)
        {
            return length > 0;
        }

        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return false;
        }

        var probe = new byte[1];
        return await request.Body.ReadAsync(probe, request.HttpContext.RequestAborted) > 0;
    }

    /// <summary>
    /// A write that keeps no <see cref="IdempotencyKeyHeader"/> (every one but a charge, an order and a checkout): a
    /// request that sends the header, even empty, is a 400 before it runs. Its client asked for a retry to get the first
    /// answer without running again, which this write cannot give; ignored, the key would let a retried restock or cart
    /// addition run twice. The detail says what a repeat does instead. Every such route already lists its 400.
    /// </summary>
    /// <param name="builder">The route.</param>
    /// <param name="repeat">What the same request sent again does, after "sent again, it".</param>
    private static RouteHandlerBuilder TakesNoIdempotencyKey(this RouteHandlerBuilder builder, string repeat)
    {
        var refusal = $"This request takes no {IdempotencyKeyHeader} (only a charge, an order and a checkout do): sent again, it {repeat}. Send it without the header.";
        return builder.AddEndpointFilter(async (context, next) =>
            context.HttpContext.Request.Headers.ContainsKey(IdempotencyKeyHeader)
                ? ApiResults.BadRequest(refusal)
                : await next(context));
    }

    /// <summary>A write: counted by the per-caller rate limit, 429 past it.</summary>
    private static RouteHandlerBuilder RequireWriteLimit(this RouteHandlerBuilder builder) =>
        builder.RequireRateLimiting(RateLimits.Writes).ProducesProblem(StatusCodes.Status429TooManyRequests);

    // ------------------------------------------------------------------ events

    private const int DefaultEventsLimit = 100;

    /// <summary>The setting of how long an event stream stays silent before it sends a comment line (a time span; 15 s if unset).</summary>
    private const string StreamKeepAliveSetting = "Events:StreamKeepAlive";

    private static readonly TimeSpan DefaultStreamKeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>The stream's keep-alive interval: <see cref="DefaultStreamKeepAlive"/> unless set, from 1 millisecond to 1 day.</summary>
    /// <exception cref="InvalidOperationException">The setting is not a time span in that range.</exception>
    private static TimeSpan StreamKeepAliveOf(IConfiguration configuration) =>
        configuration.GetValue<TimeSpan?>(StreamKeepAliveSetting) switch
        {
            null => DefaultStreamKeepAlive,
            { } set when set >= TimeSpan.FromMilliseconds(1) && set <= TimeSpan.FromDays(1) => set,
            { } set => throw new InvalidOperationException($"{StreamKeepAliveSetting} must be from 1 millisecond to 1 day (was {set})."),
        };

    /// <summary>
    /// Whether a cursor was sent more than once: bound as one string, its values would be joined by commas, the
    /// cursor's own separator, into a cursor that none of them is.
    /// </summary>
    private static bool SentMoreThanOnce(Microsoft.Extensions.Primitives.StringValues values) => values.Count > 1;

    private static readonly byte[] KeepAliveComment = ": keep-alive\n\n"u8.ToArray();

    /// <summary>
    /// Whether the feed refused the cursor a read was given as covering events the store has not committed
    /// (<see cref="Events.ICommerceEventFeed.ReadAsync"/> throws <see cref="ArgumentException"/> for <c>after</c>).
    /// </summary>
    private static bool IsAheadOfTheStore(ArgumentException refused) =>
        refused.GetType() == typeof(ArgumentException) && refused.ParamName == "after";

    /// <summary>
    /// 400 for a cursor ahead of what the store has committed: made up, from another store, or from before the API
    /// restarted (its in-memory store starts empty). Read on, it would skip the events up to it as they come.
    /// </summary>
    /// <param name="parameter">Where the client sent it: <c>after</c> or <c>Last-Event-ID</c>.</param>
    /// <param name="cursor">The cursor.</param>
    private static ProblemHttpResult CursorAhead(string parameter, Events.EventCursor cursor)
    {
        var text = cursor.ToString();
        var shown = text.Length > 64 ? text[..64] + "…" : text;
        return ApiResults.BadRequest(
            $"{parameter} is ahead of the feed: the cursor '{shown}' covers events the store has not committed (one from another store, or from before the API restarted). Pass a cursor the feed gave (a page's next, an event's id), or none to read from the start.");
    }

    /// <summary>The longest delay a cancellation timer takes (2^32 - 2 milliseconds).</summary>
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>
    /// How long the caller's bearer token is still accepted: until its expiry plus the handler's clock skew (a
    /// request with it is a 401 after that); zero if that has passed, null if the token has no expiry. With the
    /// clock it is counted on: the bearer handler's.
    /// </summary>
    private static (TimeSpan Left, TimeProvider Clock)? TokenLifetimeLeft(HttpContext context)
    {
        if (context.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult?.Properties?.ExpiresUtc is not { } expires)
        {
            return null;
        }

        var bearer = context.RequestServices.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
        var clock = bearer.TimeProvider ?? TimeProvider.System;
        var left = expires - clock.GetUtcNow() + bearer.TokenValidationParameters.ClockSkew;
        return (left > TimeSpan.Zero ? left : TimeSpan.Zero, clock);
    }

    private static async Task<Results<Ok<EventPageResponse>, ProblemHttpResult>> ReadEventsAsync(
        string? after, int? limit, Events.ICommerceEventFeed feed, HttpRequest http, CancellationToken ct)
    {
        if (SentMoreThanOnce(http.Query["after"]))
        {
            return ApiResults.BadRequest("after must be sent at most once.");
        }

        if (!Events.EventCursor.TryParse(after ?? string.Empty, out var cursor))
        {
            return ApiResults.BadRequest("after must be a cursor from a previous page (stripe:sequence pairs), or empty for the start.");
        }

        var pageSize = limit ?? DefaultEventsLimit;
        if (pageSize < 1 || pageSize > MaxListLimit)
        {
            return ApiResults.BadRequest($"limit must be between 1 and {MaxListLimit}.");
        }

        Events.EventPage page;
        try
        {
            page = await feed.ReadAsync(cursor, pageSize, ct);
        }
        catch (ArgumentException refused) when (IsAheadOfTheStore(refused))
        {
            return CursorAhead("after", cursor);
        }

        return TypedResults.Ok(new EventPageResponse([.. page.Events.Select(EventResponse.From)], page.Next.ToString()));
    }

    /// <summary>
    /// GET /events/stream: every event after <c>after</c> (or the <c>Last-Event-ID</c> a reconnecting client
    /// sends), then each new one as it is committed, until the client goes or its token stops being accepted.
    /// Each event's <c>id</c> is the cursor that covers it, so a client that reconnects resumes without a gap.
    /// </summary>
    private static async Task<Results<ServerSentEventsResult<EventResponse>, ProblemHttpResult>> StreamEventsAsync(
        string? after,
        [FromHeader(Name = "Last-Event-ID")] string? lastEventId,
        Events.ICommerceEventFeed feed,
        IHostApplicationLifetime lifetime,
        IConfiguration configuration,
        HttpContext context,
        CancellationToken ct)
    {
        if (SentMoreThanOnce(context.Request.Query["after"]) || SentMoreThanOnce(context.Request.Headers["Last-Event-ID"]))
        {
            return ApiResults.BadRequest("after (and Last-Event-ID) must be sent at most once.");
        }

        // An empty Last-Event-ID names no event (an empty SSE id resets the last one), so ?after= still counts;
        // read as the start, it would send again everything the client has.
        var resumeFrom = string.IsNullOrEmpty(lastEventId) ? after : lastEventId;
        if (!Events.EventCursor.TryParse(resumeFrom ?? string.Empty, out var cursor))
        {
            return ApiResults.BadRequest("after (or Last-Event-ID) must be a cursor, or empty for the start.");
        }

        try
        {
            // The stream reads after its headers went, too late for a 400: a cursor the feed refuses is found here.
            _ = await feed.ReadAsync(cursor, 1, ct);
        }
        catch (ArgumentException refused) when (IsAheadOfTheStore(refused))
        {
            return CursorAhead(string.IsNullOrEmpty(lastEventId) ? "after" : "Last-Event-ID", cursor);
        }

        if (HeadRequests.IsHead(context))
        {
            // The stream's headers, and an end: a HEAD has no body to follow.
            return TypedResults.ServerSentEvents(AsyncEnumerable.Empty<System.Net.ServerSentEvents.SseItem<EventResponse>>());
        }

        return TypedResults.ServerSentEvents(
            FollowAsync(feed, cursor, context.Response, StreamKeepAliveOf(configuration), TokenLifetimeLeft(context), lifetime.ApplicationStopping, ct));

        static async IAsyncEnumerable<System.Net.ServerSentEvents.SseItem<EventResponse>> FollowAsync(
            Events.ICommerceEventFeed feed,
            Events.EventCursor cursor,
            HttpResponse response,
            TimeSpan keepAlive,
            (TimeSpan Left, TimeProvider Clock)? tokenLifetimeLeft,
            CancellationToken stopping,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            // The token that opened the stream stops being accepted at some point: the stream ends then, as a
            // request with it would be refused (a timer fires at most every ~49 days: a longer stream ends early
            // instead, and its client reconnects).
            using var tokenExpired = tokenLifetimeLeft is var (left, clock)
                ? new CancellationTokenSource(left < MaxTimerDelay ? left : MaxTimerDelay, clock)
                : null;
            using var linked = tokenExpired is null
                ? CancellationTokenSource.CreateLinkedTokenSource(stopping, ct)
                : CancellationTokenSource.CreateLinkedTokenSource(stopping, ct, tokenExpired.Token);
            var token = linked.Token;
            var started = false;
            while (!token.IsCancellationRequested)
            {
                Events.EventPage page;
                try
                {
                    if (!started)
                    {
                        // The status and headers go now, not with the first event: a client resuming at the
                        // head (or a quiet shop) sees the stream open at once.
                        await response.Body.FlushAsync(token);
                        started = true;
                    }

                    page = await feed.ReadAsync(cursor, DefaultEventsLimit, token);
                    if (page.Events.Count == 0)
                    {
                        // While nothing comes, a comment line now and then keeps proxies from closing an idle
                        // stream and finds a client that went without a word.
                        using var idle = CancellationTokenSource.CreateLinkedTokenSource(token);
                        idle.CancelAfter(keepAlive);
                        try
                        {
                            await feed.WaitAsync(cursor, idle.Token);
                        }
                        catch (OperationCanceledException) when (!token.IsCancellationRequested)
                        {
                            await response.Body.WriteAsync(KeepAliveComment, token);
                            await response.Body.FlushAsync(token);
                        }

                        continue;
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    yield break; // The client went, or the host is stopping: the stream ends.
                }

                foreach (var published in page.Events)
                {
                    cursor = cursor.Through(published.Position);
                    yield return new(EventResponse.From(published), published.GetType().Name) { EventId = cursor.ToString() };
                }
            }
        }
    }

    // ------------------------------------------------------------------ wallets

    private static async Task<Results<Ok<BalanceResponse>, ProblemHttpResult>> ChargeAsync(
        long userId,
        ChargeRequest request,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        HttpRequest http,
        IWalletService wallets,
        CancellationToken ct)
    {
        if (!TryReadKey(http, idempotencyKey, out var key))
        {
            return KeySentMoreThanOnce();
        }

        var (user, amount) = (new UserId(userId), new Money(request.Amount));
        var charged = key is { } given
            ? await wallets.ChargeAsync(user, amount, given, ct)
            : await wallets.ChargeAsync(user, amount, ct);
        return charged.ToHttp(balance => TypedResults.Ok(new BalanceResponse(userId, balance.Amount)));
    }

    private static async Task<Ok<BalanceResponse>> GetBalanceAsync(long userId, IWalletService wallets, CancellationToken ct) =>
        TypedResults.Ok(new BalanceResponse(userId, (await wallets.GetBalanceAsync(new UserId(userId), ct)).Amount));

    private static async Task<Results<Ok<LedgerEntryResponse[]>, ProblemHttpResult>> GetLedgerAsync(
        long userId, long? after, int? limit, IWalletService wallets, CancellationToken ct)
    {
        var afterSequence = after ?? 0;
        if (afterSequence < 0)
        {
            return ApiResults.BadRequest("after must be 0 or more.");
        }

        var pageSize = limit ?? DefaultLedgerLimit;
        if (pageSize < 1 || pageSize > MaxListLimit)
        {
            return ApiResults.BadRequest($"limit must be between 1 and {MaxListLimit}.");
        }

        var entries = await wallets.GetLedgerAsync(new UserId(userId), afterSequence, pageSize, ct);
        return TypedResults.Ok(entries.Select(LedgerEntryResponse.From).ToArray());
    }

    // ------------------------------------------------------------------ products

    private static async Task<Results<Ok<ProductResponse[]>, ProblemHttpResult>> ListProductsAsync(
        int? limit, long? after, ICatalogService catalog, CommerceOptions options, CancellationToken ct)
    {
        var pageSize = limit ?? options.DefaultPageSize;
        if (pageSize < 1 || pageSize > options.MaxPageSize)
        {
            return ApiResults.BadRequest($"limit must be between 1 and {options.MaxPageSize}.");
        }

        if (after < 0)
        {
            return ApiResults.BadRequest("after must be 0 or more.");
        }

        var page = await catalog.ListProductsAsync(after is { } id ? new ProductId(id) : null, pageSize, ct);
        return TypedResults.Ok(page.Select(ProductResponse.From).ToArray());
    }

    private static async Task<Results<Created<ProductResponse>, ProblemHttpResult>> AddProductAsync(
        AddProductRequest request, ICatalogService catalog, CancellationToken ct)
    {
        if (request.Id <= 0)
        {
            return ApiResults.BadRequest("id must be a positive integer.");
        }

        return (await catalog.AddProductAsync(new ProductId(request.Id), request.Name ?? "", new Money(request.Price), request.Stock, ct))
            .ToHttp(product => TypedResults.Created($"/products/{product.Id}", ProductResponse.From(product)));
    }

    private static async Task<Results<Ok<ProductResponse>, ProblemHttpResult>> GetProductAsync(
        long id, ICatalogService catalog, CancellationToken ct) =>
        (await catalog.GetProductAsync(new ProductId(id), ct)).ToHttp(product => TypedResults.Ok(ProductResponse.From(product)));

    private static async Task<Results<Ok<ProductResponse>, ProblemHttpResult>> RestockAsync(
        long id, RestockRequest request, ICatalogService catalog, CancellationToken ct) =>
        (await catalog.RestockAsync(new ProductId(id), request.Quantity, ct)).ToHttp(product => TypedResults.Ok(ProductResponse.From(product)));

    private static async Task<Results<Ok<PopularProductResponse[]>, ProblemHttpResult>> GetPopularAsync(
        int? count, int? days, ISalesRankingService ranking, CommerceOptions options, CancellationToken ct)
    {
        var top = count ?? options.PopularProductsCount;
        if (top < 1 || top > options.MaxPopularProductsCount)
        {
            return ApiResults.BadRequest($"count must be between 1 and {options.MaxPopularProductsCount}.");
        }

        var maxDays = Math.Min(MaxRankingDays, (int)options.MaxRankingWindow.TotalDays);
        if (days is < 1 || days > maxDays)
        {
            return ApiResults.BadRequest($"days must be between 1 and {maxDays}.");
        }

        var window = days is { } d ? TimeSpan.FromDays(d) : options.PopularProductsWindow;

        var popular = await ranking.GetPopularProductsAsync(top, window, ct);
        return TypedResults.Ok(popular.Select(PopularProductResponse.From).ToArray());
    }

    // ------------------------------------------------------------------ orders

    private static async Task<Results<Created<OrderResponse>, ProblemHttpResult>> PlaceOrderAsync(
        PlaceOrderRequest request,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        HttpContext context,
        IOrderService orders,
        CancellationToken ct)
    {
        if (!TryReadKey(context.Request, idempotencyKey, out var key))
        {
            return KeySentMoreThanOnce();
        }

        var user = context.CallerId();
        if (request.UserId is { } named)
        {
            if (named <= 0)
            {
                return ApiResults.BadRequest("userId must be a positive integer.");
            }

            if (named != user.Value)
            {
                return ApiResults.Forbidden("A customer places orders for themself only: userId must be the token's user, or left out.");
            }
        }

        if (FirstNonPositiveProduct(request.Items) is { } index)
        {
            return ApiResults.BadRequest($"items[{index}].productId must be a positive integer.");
        }

        var lines = (request.Items ?? []).Select(i => new OrderLineRequest(new ProductId(i.ProductId), i.Quantity)).ToArray();
        var placed = key is { } given
            ? await orders.PlaceOrderAsync(user, lines, given, ct)
            : await orders.PlaceOrderAsync(user, lines, ct);
        return placed.ToHttp(Created);
    }

    private static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> GetOrderAsync(
        Guid orderId, HttpContext context, IOrderService orders, CancellationToken ct)
    {
        var order = await orders.GetOrderAsync(new OrderId(orderId), ct);
        if (order.IsSuccess && order.Value.UserId != context.CallerId())
        {
            return OtherUsersOrder();
        }

        return order.ToHttp(o => TypedResults.Ok(OrderResponse.From(o)));
    }

    private static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> CancelOrderAsync(
        Guid orderId, HttpContext context, IOrderService orders, CancellationToken ct)
    {
        // An order never changes hands, so the owner read here is the owner of the order being cancelled. A read
        // that fails (no such order, or the store unavailable) answers with its error: the cancel is never sent
        // for an order whose owner was not checked.
        var order = await orders.GetOrderAsync(new OrderId(orderId), ct);
        if (order.IsFailure)
        {
            return order.ToHttp(o => TypedResults.Ok(OrderResponse.From(o)));
        }

        if (order.Value.UserId != context.CallerId())
        {
            return OtherUsersOrder();
        }

        return (await orders.CancelOrderAsync(new OrderId(orderId), ct)).ToHttp(o => TypedResults.Ok(OrderResponse.From(o)));
    }

    private static ProblemHttpResult OtherUsersOrder() =>
        ApiResults.Forbidden("The order belongs to another user: a customer reads and cancels their own orders only.");

    private static int? FirstNonPositiveProduct(IReadOnlyList<OrderItemRequest>? items)
    {
        if (items is null)
        {
            return null;
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].ProductId <= 0)
            {
                return i;
            }
        }

        return null;
    }

    private static async Task<Results<Ok<OrderResponse[]>, ProblemHttpResult>> ListUserOrdersAsync(
        long userId, int? limit, IOrderService orders, CancellationToken ct)
    {
        var count = limit ?? DefaultOrdersLimit;
        if (count < 1 || count > MaxListLimit)
        {
            return ApiResults.BadRequest($"limit must be between 1 and {MaxListLimit}.");
        }

        var list = await orders.ListOrdersAsync(new UserId(userId), count, ct);
        return TypedResults.Ok(list.Select(OrderResponse.From).ToArray());
    }

    /// <summary>201 with the order and its location (a placed order or a checkout, first answer or replay alike).</summary>
    private static Created<OrderResponse> Created(Order order) => TypedResults.Created($"/orders/{order.Id}", OrderResponse.From(order));

    // ------------------------------------------------------------------ carts

    private static async Task<Ok<CartResponse>> GetCartAsync(long userId, ICartService carts, CancellationToken ct) =>
        TypedResults.Ok(CartResponse.From(await carts.GetCartAsync(new UserId(userId), ct)));

    private static async Task<Results<Ok<CartResponse>, ProblemHttpResult>> AddCartItemAsync(
        long userId, CartItemRequest request, ICartService carts, CancellationToken ct)
    {
        if (request.ProductId <= 0)
        {
            return ApiResults.BadRequest("productId must be a positive integer.");
        }

        return (await carts.AddItemAsync(new UserId(userId), new ProductId(request.ProductId), request.Quantity, ct))
            .ToHttp(cart => TypedResults.Ok(CartResponse.From(cart)));
    }

    private static async Task<Results<Ok<CartResponse>, ProblemHttpResult>> RemoveCartItemAsync(
        long userId, long productId, ICartService carts, CancellationToken ct) =>
        (await carts.RemoveItemAsync(new UserId(userId), new ProductId(productId), ct))
            .ToHttp(cart => TypedResults.Ok(CartResponse.From(cart)));

    private static async Task<Results<Created<OrderResponse>, ProblemHttpResult>> CheckoutAsync(
        long userId,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        HttpRequest http,
        ICartService carts,
        CancellationToken ct)
    {
        if (!TryReadKey(http, idempotencyKey, out var key))
        {
            return KeySentMoreThanOnce();
        }

        var user = new UserId(userId);
        var placed = key is { } given
            ? await carts.CheckoutAsync(user, given, ct)
            : await carts.CheckoutAsync(user, ct);
        return placed.ToHttp(Created);
    }
}
