using System.Security.Cryptography;
using System.Text;
using Commerce.Storage;

namespace Commerce.Tests.Storage;

/// <summary>The key of an idempotency record: SHA-256 unless the store digests keys itself.</summary>
public sealed class IdempotencyDigestTests
{
    private static readonly UserId Alice = new(7);

    [Fact]
    public void Without_a_store_digest_the_key_is_the_first_64_bits_of_SHA_256_of_the_operation_and_the_key()
    {
        // Durable stores keep this digest in their records: it must never change.
        var expected = BitConverter.ToInt64(SHA256.HashData([(byte)IdempotentOperation.PlaceOrder, .. Encoding.UTF8.GetBytes("order-é1")]));

        var key = StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "order-é1");

        Assert.Equal(new StoreKey(StoreTable.Idempotency, Alice.Value, expected), key);
        Assert.Equal(key, StoreKey.ForIdempotency(Alice, IdempotentOperation.PlaceOrder, "order-é1", null));
    }

    [Fact]
    public void A_store_digest_is_given_the_operation_s_code_and_the_key_s_UTF8_text()
    {
        var digest = new RecordingDigest(42);

        var key = StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "c-é", digest);

        Assert.Equal(new StoreKey(StoreTable.Idempotency, Alice.Value, 42), key);
        Assert.Equal([(byte)IdempotentOperation.Charge, .. Encoding.UTF8.GetBytes("c-é")], Assert.Single(digest.Inputs));
    }

    [Fact]
    public void An_order_request_s_digest_is_the_store_s_when_it_has_one()
    {
        OrderLineRequest[] lines = [new(new ProductId(1), 2), new(new ProductId(3), 4)];
        var digest = new RecordingDigest(-5);

        Assert.Equal(-5, Idempotent.HashOf(lines, new DigestingStore(digest)));
        Assert.Equal(24, Assert.Single(digest.Inputs).Length); // 12 bytes a line: the product id and the quantity

        // Without one: SHA-256 of the same bytes, so the digest is the same in every process.
        var sha = BitConverter.ToInt64(SHA256.HashData(digest.Inputs[0]));
        Assert.Equal(sha, Idempotent.HashOf(lines, new PlainStore()));
    }

    private sealed class RecordingDigest(long value) : IIdempotencyDigest
    {
        public List<byte[]> Inputs { get; } = [];

        public long Digest(ReadOnlySpan<byte> data)
        {
            Inputs.Add(data.ToArray());
            return value;
        }
    }

    private sealed class PlainStore : ICommerceStore
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }

    private sealed class DigestingStore(IIdempotencyDigest digest) : ICommerceStore, IIdempotencyDigest
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public long Digest(ReadOnlySpan<byte> data) => digest.Digest(data);
    }
}
