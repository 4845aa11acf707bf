using System.Reflection;
using System.Runtime.CompilerServices;

namespace Commerce.Tests;

/// <summary>
/// The public surface keeps its shape: every public type is sealed (or cannot be inherited from by
/// accident), and public value types and records are immutable. In the spirit of NodaTime's test that
/// lists which of its types are not immutable.
/// </summary>
public sealed class TypeShapeTests
{
    /// <summary>Types meant to be inherited from; none so far.</summary>
    private static readonly HashSet<Type> AbstractByDesign = [];

    /// <summary>Types documented as mutable: options are set in <c>AddCommerce(o => …)</c> and snapshotted.</summary>
    private static readonly HashSet<Type> DocumentedMutable = [typeof(CommerceOptions)];

    public static TheoryData<string> Assemblies => new() { "Commerce.Core", "Commerce.Core.InMemory" };

    private static Type[] PublicTypes(string assembly) =>
        (assembly == "Commerce.Core" ? typeof(Money).Assembly : typeof(InMemoryCommerceBuilderExtensions).Assembly).GetExportedTypes();

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Every_public_class_is_sealed_static_or_abstract_by_design(string assembly)
    {
        var open = PublicTypes(assembly)
            .Where(t => t.IsClass && !t.IsSealed && !(t.IsAbstract && t.IsSealed) && !AbstractByDesign.Contains(t))
            .Select(t => t.FullName)
            .ToList();

        Assert.Empty(open);
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Public_types_expose_no_setters_or_writable_fields_except_the_documented_options(string assembly)
    {
        var mutable = new List<string>();
        foreach (var type in PublicTypes(assembly).Where(t => !t.IsInterface && !t.IsEnum && !DocumentedMutable.Contains(t)))
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                // init accessors (positional record parameters) only work during construction or `with`: not mutation.
                if (property.SetMethod is { IsPublic: true } setter && !IsInitOnly(setter))
                {
                    mutable.Add($"{type.Name}.{property.Name}");
                }
            }

            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (!field.IsInitOnly && !field.IsLiteral)
                {
                    mutable.Add($"{type.Name}.{field.Name}");
                }
            }
        }

        Assert.Empty(mutable);
    }

    [Fact]
    public void Public_structs_are_readonly()
    {
        var structs = PublicTypes("Commerce.Core").Concat(PublicTypes("Commerce.Core.InMemory"))
            .Where(t => t.IsValueType && !t.IsEnum)
            .ToList();

        Assert.NotEmpty(structs);
        Assert.All(structs, t => Assert.True(t.IsDefined(typeof(IsReadOnlyAttribute)), $"{t.Name} is not a readonly struct."));
    }

    [Fact]
    public void The_documented_mutable_options_are_settable() =>
        Assert.True(typeof(CommerceOptions).GetProperties().All(p => p.CanWrite));

    private static bool IsInitOnly(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));
}
