using Commerce.Tests.Support;

namespace Commerce.Tests;

/// <summary>The services' XML documentation, as the package ships it, says what the services do.</summary>
public sealed class ServiceDocumentationTests
{
    /// <summary>
    /// The methods that answer a request their arguments alone refuse without the store (the conformance suite checks
    /// that they do, after disposal too): each says so where it documents <see cref="ObjectDisposedException"/>, since
    /// such a request gets its refusal from a disposed store rather than the exception.
    /// </summary>
    [Theory]
    [InlineData("M:Commerce.IWalletService.ChargeAsync(Commerce.UserId,Commerce.Money,System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.IWalletService.ChargeAsync(Commerce.UserId,Commerce.Money,Commerce.IdempotencyKey,System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.ICatalogService.AddProductAsync(Commerce.ProductId,System.String,Commerce.Money,System.Int32,System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.ICatalogService.RestockAsync(Commerce.ProductId,System.Int32,System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.IOrderService.PlaceOrderAsync(Commerce.UserId,System.Collections.Generic.IReadOnlyList{Commerce.OrderLineRequest},System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.IOrderService.PlaceOrderAsync(Commerce.UserId,System.Collections.Generic.IReadOnlyList{Commerce.OrderLineRequest},Commerce.IdempotencyKey,System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.ICartService.AddItemAsync(Commerce.UserId,Commerce.ProductId,System.Int32,System.Threading.CancellationToken)")]
    [InlineData("M:Commerce.ICartService.CheckoutAsync(Commerce.UserId,Commerce.IdempotencyKey,System.Threading.CancellationToken)")]
    public void A_method_that_refuses_from_its_arguments_alone_says_so_where_it_documents_ObjectDisposedException(string method)
    {
        var disposed = XmlDocumentation.Member(method).Elements("exception")
            .Single(e => (string?)e.Attribute("cref") == "T:System.ObjectDisposedException");

        Assert.Contains("arguments alone refuse", disposed.Value, StringComparison.Ordinal);
    }
}
