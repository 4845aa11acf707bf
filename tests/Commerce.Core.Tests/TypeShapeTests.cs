using System.Reflection;
using Commerce.Conformance;

namespace Commerce.Tests;

/// <summary>
/// The core's public surface keeps its shape (<see cref="PublicSurface"/>): every public type is sealed
/// (or cannot be inherited from by accident), and public value types and records are immutable.
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
}
