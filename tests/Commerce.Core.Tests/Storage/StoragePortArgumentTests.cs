using Commerce.Events;
using Commerce.Storage;

namespace Commerce.Tests.Storage;

/// <summary>
/// The storage port's public helpers (<see cref="StoreKey"/>, <see cref="EventStream"/>, <see cref="ChangeSet"/>,
/// <see cref="ReadBatch"/>, <see cref="CommerceStoreExtensions"/>) refuse bad arguments with the exceptions
/// their documentation names, naming the parameter.
/// </summary>
public sealed class StoragePortArgumentTests
{
    [Fact]
    public void An_idempotency_key_without_text_is_refused_naming_it()
    {
        Assert.Equal("key", Assert.Throws<ArgumentNullException>(() => StoreKey.ForIdempotency(new UserId(1), IdempotentOperation.Charge, null!)).ParamName);
        Assert.Equal("key", Assert.Throws<ArgumentNullException>(() => StoreKey.ForIdempotency(new UserId(1), IdempotentOperation.Charge, null!, null)).ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(EventCursor.MaxStripes + 1)]
    public void A_stripe_count_outside_its_range_is_refused_naming_it(int stripeCount) =>
        Assert.Equal("stripeCount", Assert.Throws<ArgumentOutOfRangeException>(() => EventStream.ForUser(new UserId(1)).StripeOf(stripeCount)).ParamName);

    [Fact]
    public void A_null_store_is_refused_by_BeginAsync_naming_it() =>
        Assert.Equal("store", Assert.Throws<ArgumentNullException>(() => CommerceStoreExtensions.BeginAsync(null!)).ParamName);

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void An_index_outside_an_empty_change_set_or_read_batch_is_refused_naming_it(int index)
    {
        var changes = new ChangeSet();
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => changes.TryGetPlacedOrder(index, out _)).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => changes.TryGetChargeEntry(index, out _)).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => changes.EventStreamOf(index)).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => changes[index]).ParamName);

        var batch = new ReadBatch();
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => batch[index]).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => batch.SetResult(index, default)).ParamName);
    }
}
