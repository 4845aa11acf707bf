namespace Commerce.Tests.SeedWork;

public sealed class CommerceErrorTests
{
    private static CommerceError Short(params long[] ids) =>
        new(CommerceErrorCode.InsufficientStock, "Not enough stock.", ids.Select(id => new ProductId(id)));

    [Fact]
    public void Errors_with_the_same_code_message_and_products_are_equal_and_hash_alike()
    {
        var first = Short(1, 2);
        var copy = Short(1, 2);

        Assert.NotSame(first, copy);
        Assert.Equal(first, copy);
        Assert.True(first == copy);
        Assert.False(first != copy);
        Assert.True(first.Equals((object)copy));
        Assert.Equal(first.GetHashCode(), copy.GetHashCode());
    }

    [Fact]
    public void Errors_that_differ_in_code_message_products_or_their_order_are_not_equal()
    {
        var error = Short(1, 2);

        Assert.NotEqual(error, new CommerceError(CommerceErrorCode.ProductNotFound, "Not enough stock.", [new ProductId(1), new ProductId(2)]));
        Assert.NotEqual(error, new CommerceError(CommerceErrorCode.InsufficientStock, "Not enough stock!", [new ProductId(1), new ProductId(2)]));
        Assert.NotEqual(error, Short(1));
        Assert.NotEqual(error, Short(2, 1));
        Assert.NotEqual(error, Short(1, 2, 3));
        Assert.True(error != Short(3));
        Assert.False(error.Equals(null));
        Assert.False(error == null);
        Assert.True((CommerceError?)null == null);
    }
}
