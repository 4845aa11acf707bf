using Microsoft.AspNetCore.Http.HttpResults;

namespace Commerce.Samples.WebApi;

/// <summary>The API's routes, one group per part of the shop. Handlers translate wire types to library calls and back.</summary>
internal static class Endpoints
{
    private const int MaxRankingDays = 366;

    public static void MapWalletEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/users/{userId}").WithTags("Wallets").ProducesProblem(StatusCodes.Status400BadRequest);
        users.MapPost("/balance/charge", ChargeAsync).ProducesProblem(StatusCodes.Status409Conflict);
        users.MapGet("/balance", GetBalanceAsync);
    }

    public static void MapProductEndpoints(this IEndpointRouteBuilder app)
    {
        var products = app.MapGroup("/products").WithTags("Products").ProducesProblem(StatusCodes.Status400BadRequest);
        products.MapGet("/", ListProductsAsync);
        products.MapPost("/", AddProductAsync).ProducesProblem(StatusCodes.Status409Conflict);
        products.MapGet("/popular", GetPopularAsync);
        products.MapGet("/{id}", GetProductAsync).ProducesProblem(StatusCodes.Status404NotFound);
        products.MapPost("/{id}/restock", RestockAsync).ProducesProblem(StatusCodes.Status404NotFound);
    }

    public static void MapOrderEndpoints(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/orders").WithTags("Orders").ProducesProblem(StatusCodes.Status400BadRequest);
        orders.MapPost("/", PlaceOrderAsync)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        orders.MapGet("/{orderId}", GetOrderAsync).ProducesProblem(StatusCodes.Status404NotFound);
    }

    public static void MapCartEndpoints(this IEndpointRouteBuilder app)
    {
        var cart = app.MapGroup("/users/{userId}/cart").WithTags("Carts").ProducesProblem(StatusCodes.Status400BadRequest);
        cart.MapGet("/", GetCartAsync);
        cart.MapPost("/items", AddCartItemAsync).ProducesProblem(StatusCodes.Status404NotFound);
        cart.MapDelete("/items/{productId}", RemoveCartItemAsync).ProducesProblem(StatusCodes.Status404NotFound);
    }

    // ------------------------------------------------------------------ wallets

    private static async Task<Results<Ok<BalanceResponse>, ProblemHttpResult>> ChargeAsync(
        long userId, ChargeRequest request, IWalletService wallets, CancellationToken ct) =>
        (await wallets.ChargeAsync(new UserId(userId), new Money(request.Amount), ct))
            .ToHttp(balance => TypedResults.Ok(new BalanceResponse(userId, balance.Amount)));

    private static async Task<Ok<BalanceResponse>> GetBalanceAsync(long userId, IWalletService wallets, CancellationToken ct) =>
        TypedResults.Ok(new BalanceResponse(userId, (await wallets.GetBalanceAsync(new UserId(userId), ct)).Amount));

    // ------------------------------------------------------------------ products

    private static async Task<Results<Ok<ProductResponse[]>, ProblemHttpResult>> ListProductsAsync(
        int? limit, long? after, ICatalogService catalog, CommerceOptions options, CancellationToken ct)
    {
        var pageSize = limit ?? options.DefaultPageSize;
        if (pageSize < 1 || pageSize > options.MaxPageSize)
        {
            return ApiResults.BadRequest($"limit must be between 1 and {options.MaxPageSize}.");
        }

        var page = await catalog.ListProductsAsync(after is { } id ? new ProductId(id) : null, pageSize, ct);
        return TypedResults.Ok(page.Select(ProductResponse.From).ToArray());
    }

    private static async Task<Results<Created<ProductResponse>, ProblemHttpResult>> AddProductAsync(
        AddProductRequest request, ICatalogService catalog, CancellationToken ct) =>
        (await catalog.AddProductAsync(new ProductId(request.Id), request.Name ?? "", new Money(request.Price), request.Stock, ct))
            .ToHttp(product => TypedResults.Created($"/products/{product.Id}", ProductResponse.From(product)));

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
        PlaceOrderRequest request, IOrderService orders, CancellationToken ct)
    {
        var lines = (request.Items ?? []).Select(i => new OrderLineRequest(new ProductId(i.ProductId), i.Quantity)).ToArray();
        return (await orders.PlaceOrderAsync(new UserId(request.UserId), lines, ct))
            .ToHttp(order => TypedResults.Created($"/orders/{order.Id}", OrderResponse.From(order)));
    }

    private static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> GetOrderAsync(
        Guid orderId, IOrderService orders, CancellationToken ct) =>
        (await orders.GetOrderAsync(new OrderId(orderId), ct)).ToHttp(order => TypedResults.Ok(OrderResponse.From(order)));

    // ------------------------------------------------------------------ carts

    private static async Task<Ok<CartResponse>> GetCartAsync(long userId, ICartService carts, CancellationToken ct) =>
        TypedResults.Ok(CartResponse.From(await carts.GetCartAsync(new UserId(userId), ct)));

    private static async Task<Results<Ok<CartResponse>, ProblemHttpResult>> AddCartItemAsync(
        long userId, CartItemRequest request, ICartService carts, CancellationToken ct) =>
        (await carts.AddItemAsync(new UserId(userId), new ProductId(request.ProductId), request.Quantity, ct))
            .ToHttp(cart => TypedResults.Ok(CartResponse.From(cart)));

    private static async Task<Results<Ok<CartResponse>, ProblemHttpResult>> RemoveCartItemAsync(
        long userId, long productId, ICartService carts, CancellationToken ct) =>
        (await carts.RemoveItemAsync(new UserId(userId), new ProductId(productId), ct))
            .ToHttp(cart => TypedResults.Ok(CartResponse.From(cart)));
}
