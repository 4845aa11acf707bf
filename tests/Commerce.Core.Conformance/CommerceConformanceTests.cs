using Commerce.Storage;

namespace Commerce.Conformance;

/// <summary>
/// The base of every conformance class: a storage adapter's test project derives a concrete class and
/// says how to select its store. Everything else is written against the public services only.
/// </summary>
public abstract class CommerceConformanceTests
{
    /// <summary>Selects the store under test, for example <c>builder.UseInMemoryStore()</c>.</summary>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    protected abstract void UseStore(ICommerceBuilder builder);

    /// <summary>A fresh shop on the store under test, with a fake clock.</summary>
    /// <param name="configure">Sets options, as in <c>AddCommerce</c>.</param>
    /// <param name="start">Where the fake clock starts; <see cref="TestClock.Start"/> if null.</param>
    /// <param name="wrapStore">Wraps the store under test, for example to force an interleaving.</param>
    protected Shop CreateShop(Action<CommerceOptions>? configure = null, DateTimeOffset? start = null, Func<ICommerceStore, ICommerceStore>? wrapStore = null) =>
        new(UseStore, configure, start, wrapStore);

    protected static UserId User(long id) => new(id);

    protected static ProductId Product(long id) => new(id);

    protected static Money Money(long amount) => new(amount);

    /// <summary>Asserts that a result failed with the given code and returns its error.</summary>
    protected static CommerceError AssertFails<T>(Result<T> result, CommerceErrorCode code)
    {
        Assert.False(result.IsSuccess, $"Expected {code} but got {result}.");
        Assert.Equal(code, result.Error!.Code);
        return result.Error;
    }
}
