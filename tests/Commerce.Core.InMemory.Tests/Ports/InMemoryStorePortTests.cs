using Commerce.Conformance.Ports;
using Commerce.Storage;

namespace Commerce.InMemory.Tests.Ports;

/// <summary>The storage port's rules on the lock-free in-memory store.</summary>
public sealed class InMemoryStorePortTests : StorePortConformanceTests
{
    protected override ICommerceStore CreateStore() => new InMemoryCommerceStore();
}
