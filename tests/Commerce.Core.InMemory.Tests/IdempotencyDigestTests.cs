using System.IO.Hashing;
using System.Text;
using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>The in-memory store digests idempotency keys and requests itself: XXH3, seeded per store.</summary>
public sealed class IdempotencyDigestTests
{
    private static readonly UserId Alice = new(1);

    [Fact]
    public void The_digest_is_XXH3_with_the_store_s_seed()
    {
        var data = Encoding.UTF8.GetBytes("\u0002order-1");

        Assert.Equal(unchecked((long)XxHash3.HashToUInt64(data, 7)), new InMemoryCommerceStore(digestSeed: 7).Digest(data));
        Assert.Equal(new InMemoryCommerceStore(digestSeed: 7).Digest(data), new InMemoryCommerceStore(digestSeed: 7).Digest(data));
        Assert.NotEqual(new InMemoryCommerceStore(digestSeed: 7).Digest(data), new InMemoryCommerceStore(digestSeed: 8).Digest(data));
    }

    [Fact]
    public async Task A_keyed_order_s_record_is_kept_at_the_store_s_digest_of_its_key()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(1, 100);

        var placed = await shop.KeyedOrderAsync(1, new IdempotencyKey("order-1"), (1, 2));

        var store = shop.InMemoryStore();
        var cell = store.Idempotency.Find(CellKey.From(StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "order-1", store)));
        var record = Assert.IsType<CompactIdempotencyRecord>(MultiWordCas.Read(Assert.IsType<Cell>(cell))).ToRecord(Alice);
        Assert.Equal(("order-1", placed.Value.Id), (record.Key, record.OrderId));
        Assert.Null(store.Idempotency.Find(CellKey.From(StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "order-1"))));

        // The repository a unit of work offers finds it at the same key.
        await using var unitOfWork = await Commerce.Storage.UnitOfWork.BeginAsync(store, TimeSpan.FromMinutes(1), pooled: false, default);
        Assert.Equal(record, await unitOfWork.Idempotency.FindAsync(Alice, IdempotentOperation.PlaceOrder, "order-1"));
    }

    [Fact]
    public async Task Two_keys_whose_digests_collide_are_told_apart_and_the_second_is_refused_with_nothing_changed()
    {
        // Every key and request digests to the same value: the record's own key tells the keys apart.
        using var shop = InMemoryShop.Create(wrap: store => new CollidingStore(store));
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(1, 100);
        var first = await shop.KeyedOrderAsync(1, new IdempotencyKey("a"), (1, 2));
        var before = await shop.DescribeAsync(1);

        var second = await shop.KeyedOrderAsync(1, new IdempotencyKey("b"), (1, 1));
        var retried = await shop.KeyedOrderAsync(1, new IdempotencyKey("a"), (1, 2));

        Assert.Equal(CommerceErrorCode.IdempotencyKeyReused, second.Error?.Code);
        Assert.Equal(first.Value.Id, retried.Value.Id);
        Assert.Equal(before, await shop.DescribeAsync(1));
    }

    private sealed class CollidingStore(ICommerceStore inner) : ICommerceStore, IIdempotencyDigest
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => inner.OpenSessionAsync(cancellationToken);

        public long Digest(ReadOnlySpan<byte> data) => 1;
    }
}
