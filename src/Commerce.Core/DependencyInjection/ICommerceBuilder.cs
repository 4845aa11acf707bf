using Microsoft.Extensions.DependencyInjection;

namespace Commerce;

/// <summary>Returned by <c>AddCommerce</c>; storage adapters add their <c>Use…Store()</c> extensions to it.</summary>
public interface ICommerceBuilder
{
    /// <summary>The service collection the library is registered in.</summary>
    IServiceCollection Services { get; }
}
