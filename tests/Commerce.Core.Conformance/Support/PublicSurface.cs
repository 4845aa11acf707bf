using System.Reflection;
using System.Runtime.CompilerServices;

namespace Commerce.Conformance;

/// <summary>
/// The shape every shipped assembly's public surface keeps (the core and each store): every public
/// class is sealed, static, or abstract by design, and public types are immutable. In the spirit of
/// NodaTime's test that lists which of its types are not immutable. Each returns the offenders, so a
/// test asserts the list is empty.
/// </summary>
public static class PublicSurface
{
    /// <summary>Public classes that can be inherited from by accident.</summary>
    /// <param name="assembly">The assembly.</param>
    /// <param name="abstractByDesign">Classes meant to be inherited from.</param>
    public static IReadOnlyList<string> OpenClasses(Assembly assembly, IReadOnlySet<Type>? abstractByDesign = null)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return assembly.GetExportedTypes()
            .Where(t => t.IsClass && !t.IsSealed && !(t.IsAbstract && t.IsSealed) && abstractByDesign?.Contains(t) != true)
            .Select(t => t.FullName!)
            .ToList();
    }

    /// <summary>Public setters (other than init accessors) and writable fields.</summary>
    /// <param name="assembly">The assembly.</param>
    /// <param name="documentedMutable">Types documented as mutable.</param>
    public static IReadOnlyList<string> MutableMembers(Assembly assembly, IReadOnlySet<Type>? documentedMutable = null)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var mutable = new List<string>();
        foreach (var type in assembly.GetExportedTypes().Where(t => !t.IsInterface && !t.IsEnum && documentedMutable?.Contains(t) != true))
        {
            // init accessors (positional record parameters) only work during construction or `with`: not mutation.
            mutable.AddRange(type.GetProperties(Declared)
                .Where(p => p.SetMethod is { IsPublic: true } setter && !setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit)))
                .Select(p => $"{type.Name}.{p.Name}"));
            mutable.AddRange(type.GetFields(Declared).Where(f => !f.IsInitOnly && !f.IsLiteral).Select(f => $"{type.Name}.{f.Name}"));
        }

        return mutable;
    }

    /// <summary>Public structs (not enums) of the assembly.</summary>
    /// <param name="assembly">The assembly.</param>
    public static IReadOnlyList<Type> Structs(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return assembly.GetExportedTypes().Where(t => t.IsValueType && !t.IsEnum).ToList();
    }

    /// <summary>Public structs that are not <c>readonly</c>.</summary>
    /// <param name="assembly">The assembly.</param>
    public static IReadOnlyList<string> MutableStructs(Assembly assembly) =>
        Structs(assembly).Where(t => !t.IsDefined(typeof(IsReadOnlyAttribute))).Select(t => t.FullName!).ToList();
}
