using Commerce.Events;
using Commerce.Storage;

namespace Commerce;

/// <summary>Adds, restocks and lists products, through the store's units of work.</summary>
internal sealed class CatalogService(CommerceRuntime runtime) : ICatalogService
{
    public async ValueTask<Result<ProductSummary>> AddProductAsync(ProductId id, string name, Money price, int initialStock, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        var scope = runtime.Telemetry.Start(UseCase.AddProduct, id);
        var created = Product.Create(id, name, price, runtime.Options.MaxProductNameLength);
        Result<ProductSummary> result;
        if (created.IsFailure)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
            result = Result<ProductSummary>.Failure(created.Error);
        }
        else if (initialStock < 0)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
            result = Errors.NegativeQuantity(initialStock);
        }
        else
        {
            result = await runtime.RunAsync(
                scope,
                "AddProduct",
                (product: created.Value, initialStock, runtime),
                static async (unitOfWork, state, ct) =>
                {
                    var (product, stock, runtime) = state;
                    if (await unitOfWork.Products.FindAsync(product.Id, ct).ConfigureAwait(false) is not null)
                    {
                        return Result<ProductSummary>.Failure(Errors.ProductAlreadyExists(product.Id));
                    }

                    unitOfWork.Products.Add(product);
                    unitOfWork.Inventory.Save(new StockItem(product.Id, stock));
                    if (runtime.Options.PublishEvents)
                    {
                        unitOfWork.Publish(new ProductAdded(product.Id, product.Name, product.Price, stock, runtime.UtcNow()));
                    }

                    return new ProductSummary(product.Id, product.Name, product.Price, stock);
                },
                cancellationToken).ConfigureAwait(false);
        }

        if (result.IsSuccess)
        {
            Log.ProductAdded(runtime.Logger, id, result.Value.Name, price, initialStock);
        }
        else
        {
            Log.CatalogChangeRefused(runtime.Logger, id, result.Error.Code, result.Error.Message);
        }

        return scope.End(result);
    }

    public async ValueTask<Result<ProductSummary>> RestockAsync(ProductId id, int quantity, CancellationToken cancellationToken = default)
    {
        var scope = runtime.Telemetry.Start(UseCase.Restock, id);
        if (quantity <= 0)
        {
            scope.ThrowIfCancellationRequested(cancellationToken);
        }

        var result = quantity <= 0
            ? Errors.NonPositiveQuantity(quantity)
            : await runtime.RunAsync(
                scope,
                "Restock",
                (id, quantity, runtime),
                static async (unitOfWork, state, ct) =>
                {
                    var (id, quantity, runtime) = state;
                    unitOfWork.Prefetch(StoreKey.ForStock(id));
                    var product = await unitOfWork.Products.FindAsync(id, ct).ConfigureAwait(false);
                    var stock = await unitOfWork.Inventory.FindAsync(id, ct).ConfigureAwait(false);
                    if (product is null || stock is null)
                    {
                        return Result<ProductSummary>.Failure(Errors.ProductNotFound(id));
                    }

                    var restocked = stock.Restock(quantity);
                    if (restocked.IsFailure)
                    {
                        return Result<ProductSummary>.Failure(restocked.Error);
                    }

                    unitOfWork.Inventory.Save(restocked.Value);
                    if (runtime.Options.PublishEvents)
                    {
                        unitOfWork.Publish(new ProductRestocked(id, quantity, restocked.Value.OnHand, runtime.UtcNow()));
                    }

                    return new ProductSummary(id, product.Name, product.Price, restocked.Value.OnHand);
                },
                cancellationToken).ConfigureAwait(false);

        if (result.IsSuccess)
        {
            Log.ProductRestocked(runtime.Logger, id, quantity, result.Value.Stock);
        }
        else
        {
            Log.CatalogChangeRefused(runtime.Logger, id, result.Error.Code, result.Error.Message);
        }

        return scope.End(result);
    }

    public ValueTask<Result<ProductSummary>> GetProductAsync(ProductId id, CancellationToken cancellationToken = default) =>
        runtime.TraceAsync(
            "GetProduct",
            id,
            static async (unitOfWork, id, ct) =>
            {
                unitOfWork.Prefetch(StoreKey.ForStock(id));
                var product = await unitOfWork.Products.FindAsync(id, ct).ConfigureAwait(false);
                var onHand = await UnitOfWork.FindOnHandAsync(unitOfWork, id, ct).ConfigureAwait(false);
                return product is null || onHand is not { } stock
                    ? Result<ProductSummary>.Failure(Errors.ProductNotFound(id))
                    : new ProductSummary(id, product.Name, product.Price, stock);
            },
            cancellationToken);

    public ValueTask<IReadOnlyList<ProductSummary>> ListProductsAsync(CancellationToken cancellationToken = default) =>
        ListProductsAsync(null, runtime.Options.DefaultPageSize, cancellationToken);

    public ValueTask<IReadOnlyList<ProductSummary>> ListProductsAsync(ProductId? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (limit > runtime.Options.MaxPageSize)
        {
            throw Errors.AboveOptionLimit(nameof(limit), limit, runtime.Options.MaxPageSize, nameof(CommerceOptions.MaxPageSize));
        }

        return runtime.ReadAsync(
            "ListProducts",
            (limit, after), // led by the limit: the cursor is no product the span is about, so it is not tagged as one
            static async (unitOfWork, state, ct) =>
            {
                // The listing reads each product's stock with it.
                var products = await unitOfWork.Products.ListAsync(state.after, state.limit, ct).ConfigureAwait(false);
                var page = new ProductSummary[products.Count];
                for (var i = 0; i < page.Length; i++)
                {
                    var product = products[i];
                    var onHand = await UnitOfWork.FindOnHandAsync(unitOfWork, product.Id, ct).ConfigureAwait(false);
                    page[i] = new ProductSummary(product.Id, product.Name, product.Price, onHand ?? 0);
                }

                return Result<IReadOnlyList<ProductSummary>>.Success(Array.AsReadOnly(page));
            },
            cancellationToken);
    }
}
