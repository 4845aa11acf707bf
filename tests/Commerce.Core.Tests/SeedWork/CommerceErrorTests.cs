namespace Commerce.Tests.SeedWork;

public sealed class CommerceErrorTests
{
    /// <summary>
    /// Pairs of errors drawn from a fixed seed over two codes, two messages and lists of up to three of three
    /// products (so that equal and nearly equal pairs are common): equal exactly when their codes, messages and
    /// products in order are, with equal hashes then, and equality symmetric.
    /// </summary>
    [Fact]
    public void Errors_are_equal_exactly_when_code_message_and_products_in_order_are()
    {
        var random = new Random(20261206);
        CommerceError Draw(out (CommerceErrorCode Code, string Message, long[] Products) parts)
        {
            parts = (random.Next(2) == 0 ? CommerceErrorCode.InsufficientStock : CommerceErrorCode.ProductNotFound,
                random.Next(2) == 0 ? "Not enough stock." : "Not enough stock!",
                [.. Enumerable.Range(0, random.Next(4)).Select(_ => (long)random.Next(1, 4))]);
            return new CommerceError(parts.Code, parts.Message, parts.Products.Select(id => new ProductId(id)));
        }

        for (var i = 0; i < 2_000; i++)
        {
            var a = Draw(out var x);
            var b = Draw(out var y);
            var same = x.Code == y.Code && x.Message == y.Message && x.Products.SequenceEqual(y.Products);
            Assert.Equal(same, a.Equals(b));
            Assert.Equal(same, b.Equals(a));
            Assert.Equal(same, a == b);
            Assert.True(!same || a.GetHashCode() == b.GetHashCode());
        }
    }

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
