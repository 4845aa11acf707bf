using System.Reflection;
using Commerce.Conformance;

namespace Commerce.Postgres.Tests;

/// <summary>The PostgreSQL package's public surface: the same shape rules as the core's.</summary>
public sealed class PublicApiTests
{
    private static readonly Assembly Postgres = typeof(PostgresCommerceBuilderExtensions).Assembly;

    [Fact]
    public void Every_public_class_is_sealed_or_static() => Assert.Empty(PublicSurface.OpenClasses(Postgres));

    /// <summary>The options class is the one mutable type, as every options class bound from configuration is.</summary>
    [Fact]
    public void Public_types_expose_no_setters_or_writable_fields_but_the_options() =>
        Assert.Empty(PublicSurface.MutableMembers(Postgres, new HashSet<Type> { typeof(PostgresStoreOptions) }));

    [Fact]
    public void Public_structs_are_readonly() => Assert.Empty(PublicSurface.MutableStructs(Postgres));

    [Fact]
    public void The_package_exposes_only_its_entry_points()
    {
        var types = Postgres.GetExportedTypes().Select(t => t.FullName!).Order().ToArray();
        Assert.Equal(
            new[] { "Commerce.ICommerceSchemaMigrator", "Commerce.PostgresCommerceBuilderExtensions", "Commerce.PostgresCommerceHealthChecksBuilderExtensions", "Commerce.PostgresStoreOptions" },
            types);
    }
}
