using Xunit.Abstractions;
using Xunit.Sdk;

namespace Commerce.Conformance;

/// <summary>
/// Marks a conformance class whose store needs an external server, named by an environment variable
/// (for example a PostgreSQL connection string). Without the variable its tests are skipped — unless
/// the <c>CI</c> variable is set, where they run and fail, so a missing server never passes silently.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class RequiresEnvironmentAttribute(string variable) : Attribute
{
    /// <summary>The environment variable the store needs.</summary>
    public string Variable { get; } = variable;

    internal static string? SkipReason(ITestMethod method)
    {
        var required = method.TestClass.Class.GetCustomAttributes(typeof(RequiresEnvironmentAttribute)).FirstOrDefault();
        if (required?.GetConstructorArguments().FirstOrDefault() is not string variable
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            return null;
        }

        return $"{variable} is not set (the store under test needs it); CI sets it and runs these tests.";
    }
}

/// <summary>A conformance fact: skipped when its class's <see cref="RequiresEnvironmentAttribute"/> is not met.</summary>
[XunitTestCaseDiscoverer("Commerce.Conformance.StoreFactDiscoverer", "Commerce.Core.Conformance")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class StoreFactAttribute : FactAttribute;

/// <summary>A conformance theory: skipped when its class's <see cref="RequiresEnvironmentAttribute"/> is not met.</summary>
[XunitTestCaseDiscoverer("Commerce.Conformance.StoreTheoryDiscoverer", "Commerce.Core.Conformance")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class StoreTheoryAttribute : TheoryAttribute;

/// <summary>Discovers <see cref="StoreFactAttribute"/> tests.</summary>
public sealed class StoreFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        RequiresEnvironmentAttribute.SkipReason(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>Discovers <see cref="StoreTheoryAttribute"/> tests.</summary>
public sealed class StoreTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        RequiresEnvironmentAttribute.SkipReason(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(discoveryOptions, testMethod, theoryAttribute);
}
