using Xunit.Abstractions;
using Xunit.Sdk;

namespace Commerce.Conformance;

/// <summary>
/// Marks a conformance class whose store needs something outside the process (a database server, say).
/// Where it is missing, the class's tests are skipped with <see cref="SkipReason"/> — unless the <c>CI</c>
/// variable is set, where they run and fail, so a missing server never passes silently.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public abstract class StoreRequirementAttribute : Attribute
{
    /// <summary>Why the store cannot run here, in one line; <see langword="null"/> when it can.</summary>
    public abstract string? SkipReason { get; }

    internal static string? SkipReasonOf(ITestMethod method)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            return null;
        }

        var requirement = method.TestClass.Class.ToRuntimeType()?.GetCustomAttributes(typeof(StoreRequirementAttribute), inherit: true)
            .OfType<StoreRequirementAttribute>().FirstOrDefault();
        return requirement?.SkipReason;
    }
}

/// <summary>
/// Marks a conformance class whose store needs an external server, named by an environment variable
/// (for example a PostgreSQL connection string). Without the variable its tests are skipped, except
/// under CI (see <see cref="StoreRequirementAttribute"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class RequiresEnvironmentAttribute(string variable) : StoreRequirementAttribute
{
    /// <summary>The environment variable the store needs.</summary>
    public string Variable { get; } = variable;

    /// <inheritdoc />
    public override string? SkipReason => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))
        ? $"{Variable} is not set (the store under test needs it); CI sets it and runs these tests."
        : null;
}

/// <summary>A conformance fact: skipped when its class's <see cref="StoreRequirementAttribute"/> is not met.</summary>
[XunitTestCaseDiscoverer("Commerce.Conformance.StoreFactDiscoverer", "Commerce.Core.Conformance")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class StoreFactAttribute : FactAttribute;

/// <summary>A conformance theory: skipped when its class's <see cref="StoreRequirementAttribute"/> is not met.</summary>
[XunitTestCaseDiscoverer("Commerce.Conformance.StoreTheoryDiscoverer", "Commerce.Core.Conformance")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class StoreTheoryAttribute : TheoryAttribute;

/// <summary>Discovers <see cref="StoreFactAttribute"/> tests.</summary>
public sealed class StoreFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        StoreRequirementAttribute.SkipReasonOf(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>Discovers <see cref="StoreTheoryAttribute"/> tests.</summary>
public sealed class StoreTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    /// <inheritdoc />
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        StoreRequirementAttribute.SkipReasonOf(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : base.Discover(discoveryOptions, testMethod, theoryAttribute);
}
