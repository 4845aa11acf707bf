using System.Reflection;

namespace Commerce.Hosting.Tests;

/// <summary>
/// The hosting package's public surface keeps the library's shape: every public class is sealed or
/// static, and only the documented options can be changed after construction.
/// </summary>
public sealed class TypeShapeTests
{
    private static readonly Type[] Exported = typeof(CommerceEventDispatcherOptions).Assembly.GetExportedTypes();

    [Fact]
    public void The_public_surface_is_the_options_their_policy_and_the_registration_extensions() =>
        Assert.Equal(
            ["Commerce.CommerceEventDispatcherBuilderExtensions", "Commerce.CommerceEventDispatcherOptions", "Commerce.PoisonEventPolicy"],
            Exported.Select(t => t.FullName!).Order(StringComparer.Ordinal));

    [Fact]
    public void Every_public_class_is_sealed_or_static() =>
        Assert.All(Exported.Where(t => t.IsClass), t => Assert.True(t.IsSealed, $"{t} is neither sealed nor static"));

    [Fact]
    public void Only_the_documented_options_have_setters() =>
        Assert.DoesNotContain(
            Exported.Where(t => t != typeof(CommerceEventDispatcherOptions))
                .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)),
            p => p.SetMethod is { IsPublic: true });
}
