using System.Diagnostics.Metrics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Commerce.Conformance;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Tests;

/// <summary>
/// The repository's README says what the core does: its tables of log events, instruments and error codes, and its
/// list of options with their defaults, match the code.
/// </summary>
public sealed partial class ReadmeTests
{
    private const string RootReadme = "README.md";

    [Fact]
    public void The_logging_table_lists_every_log_event_with_its_id_name_and_level()
    {
        var documented = Readme.Table(RootReadme, "## Logging").Select(row => (int.Parse(row[0], CultureInfo.InvariantCulture), row[1], row[2]));
        Assert.Equal(Readme.LogEvents(typeof(CommerceOptions).Assembly), documented.OrderBy(e => e.Item1));
    }

    [Fact]
    public void The_instrument_table_lists_every_instrument_with_its_type_and_unit()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var defined = Readme.Instruments(factory, f => CommerceTelemetry.Create(f));
        var documented = Readme.Table(RootReadme, "## Observability").Select(row => (row[0], row[1], row[2])).Order();
        Assert.Equal(defined, documented);
    }

    [Fact]
    public void The_observability_section_lists_every_operation_and_names_every_tag_and_span_event()
    {
        var section = Readme.Section(RootReadme, "## Observability");
        var list = section[section.IndexOf("`commerce.operation` is one of", StringComparison.Ordinal)..];
        list = list[..list.IndexOf('.', list.IndexOf(" of ", StringComparison.Ordinal))];
        var operations = typeof(UseCase).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(UseCase))
            .Select(f => ((UseCase)f.GetValue(null)!).Name);
        Assert.Equal(operations.Order(StringComparer.Ordinal), QuotedName().Matches(list).Select(m => m.Groups[1].Value).Skip(1).Order(StringComparer.Ordinal));

        var names = typeof(CommerceTelemetry).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!);
        Assert.All(names, name => Assert.Contains($"`{name}`", section, StringComparison.Ordinal));
    }

    [Fact]
    public void The_error_code_table_lists_every_code()
    {
        var documented = Readme.Table(RootReadme, "### Error codes").Select(row => row[0]).Order(StringComparer.Ordinal);
        Assert.Equal(Enum.GetNames<CommerceErrorCode>().Order(StringComparer.Ordinal), documented);
    }

    [Fact]
    public void The_options_section_gives_every_option_its_default()
    {
        var section = Readme.Section(RootReadme, "## Options");
        var defaults = section[section.IndexOf("Defaults:", StringComparison.Ordinal)..section.IndexOf("Bounds:", StringComparison.Ordinal)];
        var options = new CommerceOptions();
        var properties = typeof(CommerceOptions).GetProperties().ToDictionary(p => p.Name);
        var documented = DocumentedDefault().Matches(defaults).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(properties.Keys.Order(StringComparer.Ordinal), documented.Keys.Order(StringComparer.Ordinal));
        Assert.All(documented, d => Assert.Equal(properties[d.Key].GetValue(options), Parse(d.Value, properties[d.Key].PropertyType)));
    }

    /// <summary>A default as the README writes it (<c>10,000,000</c>, <c>3 days</c>, <c>50 ms</c>, <c>true</c>), as a value of <paramref name="type"/>.</summary>
    private static object Parse(string text, Type type)
    {
        if (type == typeof(bool))
        {
            return bool.Parse(text);
        }

        var parts = text.Split(' ');
        var number = long.Parse(parts[0], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        return type == typeof(Money) ? new Money(number)
            : type == typeof(int) ? checked((int)number)
            : type == typeof(TimeSpan) ? parts[1].TrimEnd('s') switch
            {
                "day" => TimeSpan.FromDays(number),
                "hour" => TimeSpan.FromHours(number),
                "minute" => TimeSpan.FromMinutes(number),
                "second" => TimeSpan.FromSeconds(number),
                "m" => TimeSpan.FromMilliseconds(number), // "ms", its s trimmed
                var unit => throw new FormatException($"Unknown unit '{unit}'."),
            }
            : throw new FormatException($"No parse for {type}.");
    }

    [GeneratedRegex(@"`([\w.]+)`")]
    private static partial Regex QuotedName();

    [GeneratedRegex(@"`(\w+)` ([\d,]+(?: (?:days?|hours?|minutes?|seconds?|ms))?|true|false)")]
    private static partial Regex DocumentedDefault();
}
