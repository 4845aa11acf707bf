using System.Security.Cryptography;
using Commerce.Storage;

namespace Commerce;

/// <summary>The 64-bit digests of idempotency keys and requests: the store's own (<see cref="IIdempotencyDigest"/>), or SHA-256's first 64 bits.</summary>
internal static class Digests
{
    /// <summary>The digest of <paramref name="data"/> by <paramref name="digest"/>, or the first 64 bits of its SHA-256 digest if that is <see langword="null"/>.</summary>
    public static long Of(ReadOnlySpan<byte> data, IIdempotencyDigest? digest)
    {
        if (digest is not null)
        {
            return digest.Digest(data);
        }

        Span<byte> sha256 = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(data, sha256);
        return BitConverter.ToInt64(sha256);
    }
}
