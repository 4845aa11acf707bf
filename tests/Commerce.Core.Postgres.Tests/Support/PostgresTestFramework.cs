using System.Reflection;
using Commerce.Postgres.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Commerce.Postgres.Tests.Support.PostgresTestFramework", "Commerce.Core.Postgres.Tests")]

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// xunit v2's test framework with one assembly-level fixture (v2 has no assembly fixtures of its own):
/// when the test run ends, passed or failed, it stops the throw-away servers the tests started
/// (<see cref="TestDatabase"/>), and deletes their directories.
/// </summary>
public sealed class PostgresTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    /// <inheritdoc />
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
    {
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new AssemblyRunner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync();
        }
    }

    private sealed class AssemblyRunner(
        ITestAssembly testAssembly,
        IEnumerable<IXunitTestCase> testCases,
        IMessageSink diagnosticMessageSink,
        IMessageSink executionMessageSink,
        ITestFrameworkExecutionOptions executionOptions)
        : XunitTestAssemblyRunner(testAssembly, testCases, diagnosticMessageSink, executionMessageSink, executionOptions)
    {
        protected override async Task BeforeTestAssemblyFinishedAsync()
        {
            // A failure here is reported as the assembly's clean-up failure, and fails the run.
            Aggregator.Run(TestDatabase.Stop);
            await base.BeforeTestAssemblyFinishedAsync();
        }
    }
}
