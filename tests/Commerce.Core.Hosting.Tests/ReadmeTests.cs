using System.Diagnostics.Metrics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Commerce.Conformance;
using Commerce.Events;
using Commerce.Hosting.Tests.Support;

namespace Commerce.Hosting.Tests;

/// <summary>
/// The package's README says what the dispatcher does: its tables of log events and instruments match the code,
/// and its set-up sets every option.
/// </summary>
public sealed partial class ReadmeTests
{
    private const string HostingReadme = "src/Commerce.Core.Hosting/README.md";

    [Fact]
    public void The_logging_table_lists_every_log_event_with_its_id_name_and_level()
    {
        var documented = Readme.Table(HostingReadme, "## Logging").Select(row => (int.Parse(row[0], CultureInfo.InvariantCulture), row[1], row[2]));
        Assert.Equal(Readme.LogEvents(typeof(CommerceEventDispatcherOptions).Assembly), documented.OrderBy(e => e.Item1));
    }

    [Fact]
    public void The_instrument_table_lists_every_instrument_with_its_type_and_unit()
    {
        using var factory = new TestMeterFactory();
        var defined = Readme.Instruments(factory, f => DispatcherTelemetry.Create(f));
        var documented = Readme.Table(HostingReadme, "## Metrics and traces").Select(row => (row[0], row[1], row[2])).Order();
        Assert.Equal(defined, documented);
    }

    [Fact]
    public void The_metrics_section_names_every_tag_and_the_span()
    {
        var section = Readme.Section(HostingReadme, "## Metrics and traces");
        var names = typeof(DispatcherTelemetry).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.Contains($"`{name}`", section, StringComparison.Ordinal));
    }

    [Fact]
    public void The_set_up_sets_every_option()
    {
        var documented = OptionSet().Matches(Readme.Section(HostingReadme, "## Set-up")).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal);
        Assert.Equal(typeof(CommerceEventDispatcherOptions).GetProperties().Select(p => p.Name).Order(StringComparer.Ordinal), documented);
    }

    [GeneratedRegex(@"\bo\.(\w+) = ")]
    private static partial Regex OptionSet();
}
