using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Hosting.Tests.DependencyInjection;

/// <summary>Dispatcher options bound from configuration (appsettings.json, environment variables), as the README shows.</summary>
public sealed class CommerceEventDispatcherOptionsBindingTests
{
    private static IConfigurationSection Section(params (string Key, string? Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>("Commerce:EventDispatcher:" + s.Key, s.Value)))
            .Build()
            .GetSection("Commerce:EventDispatcher");

    private static CommerceEventDispatcherOptions Registered(IConfigurationSection section)
    {
        var services = new ServiceCollection();
        services.AddCommerce().UseInMemoryStore().AddEventDispatcher(options => section.Bind(options));
        return Assert.Single(services, d => d.ServiceType == typeof(CommerceEventDispatcherOptions)).ImplementationInstance as CommerceEventDispatcherOptions
            ?? throw new InvalidOperationException("The options are not registered as an instance.");
    }

    [Fact]
    public void Every_kind_of_option_binds_from_its_configuration_text_the_policy_by_name()
    {
        var options = Registered(Section(
            ("PageSize", "50"),
            ("PoisonEventPolicy", "Stop"),
            ("RetryBaseDelay", "00:00:02"),
            ("EventRetention", "2.00:00:00")));

        Assert.Equal(50, options.PageSize);
        Assert.Equal(PoisonEventPolicy.Stop, options.PoisonEventPolicy);
        Assert.Equal(TimeSpan.FromSeconds(2), options.RetryBaseDelay);
        Assert.Equal(TimeSpan.FromDays(2), options.EventRetention);
        Assert.Equal(new CommerceEventDispatcherOptions().MaxDeliveryAttempts, options.MaxDeliveryAttempts); // not configured: the default
    }

    [Theory]
    [InlineData(null)] // "EventRetention": null in appsettings.json
    [InlineData("")]   // Commerce__EventDispatcher__EventRetention= in the environment
    public void A_null_or_empty_retention_keeps_every_event(string? value)
    {
        var options = Registered(Section(("EventRetention", value)));

        Assert.Null(options.EventRetention);
    }

    [Fact]
    public void A_policy_number_that_names_no_policy_is_refused_by_the_options_check_and_nothing_is_registered()
    {
        var section = Section(("PoisonEventPolicy", "5"));
        var services = new ServiceCollection();
        var builder = services.AddCommerce().UseInMemoryStore();
        var before = services.Count;

        var refused = Assert.Throws<ArgumentException>(() => builder.AddEventDispatcher(options => section.Bind(options)));

        Assert.Contains("PoisonEventPolicy must be Skip or Stop, but was 5.", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, services.Count);
    }
}
