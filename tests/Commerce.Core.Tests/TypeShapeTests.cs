using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using Commerce.Conformance;

namespace Commerce.Tests;

/// <summary>
/// The core's public surface keeps its shape (<see cref="PublicSurface"/>): every public type is sealed
/// (or cannot be inherited from by accident), public value types and records are immutable, and records that
/// hold a collection compare and print it by value.
/// </summary>
public sealed class TypeShapeTests
{
    private static readonly Assembly Core = typeof(Money).Assembly;

    /// <summary>
    /// Types meant to be inherited from: the events' base, whose constructor is private protected, so that
    /// only the library's own sealed events derive from it.
    /// </summary>
    private static readonly HashSet<Type> AbstractByDesign = [typeof(Commerce.Events.CommerceEvent)];

    /// <summary>Types documented as mutable: options are set in <c>AddCommerce(o => …)</c> and snapshotted.</summary>
    private static readonly HashSet<Type> DocumentedMutable = [typeof(CommerceOptions)];

    [Fact]
    public void Every_public_class_is_sealed_static_or_abstract_by_design() =>
        Assert.Empty(PublicSurface.OpenClasses(Core, AbstractByDesign));

    [Fact]
    public void Public_types_expose_no_setters_or_writable_fields_except_the_documented_options() =>
        Assert.Empty(PublicSurface.MutableMembers(Core, DocumentedMutable));

    [Fact]
    public void Public_structs_are_readonly()
    {
        Assert.NotEmpty(PublicSurface.Structs(Core));
        Assert.Empty(PublicSurface.MutableStructs(Core));
    }

    [Fact]
    public void The_documented_mutable_options_are_settable() =>
        Assert.True(typeof(CommerceOptions).GetProperties().All(p => p.CanWrite));

    [Fact]
    public void Public_records_that_hold_a_collection_compare_and_print_it_by_value()
    {
        // A record's own Equals compares a collection member by reference and its ToString prints the
        // collection's type: such a record writes its own Equals, GetHashCode and PrintMembers.
        var holders = Core.GetExportedTypes()
            .Where(t => t.GetMethod("PrintMembers", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(System.Text.StringBuilder)]) is not null)
            .Where(t => t.GetProperties(BindingFlags.Instance | BindingFlags.Public)
                .Any(p => p.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(p.PropertyType)))
            .ToList();
        Assert.Contains(typeof(Commerce.Storage.SalesTop), holders);
        Assert.Contains(typeof(Cart), holders);

        var synthesized = holders
            .Where(t => new[]
            {
                t.GetMethod("Equals", [t]),
                t.GetMethod("GetHashCode", Type.EmptyTypes),
                t.GetMethod("PrintMembers", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(System.Text.StringBuilder)]),
            }.Any(m => m is null || m.DeclaringType != t || m.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false)))
            .Select(t => t.FullName)
            .ToList();
        Assert.Empty(synthesized);
    }
}
