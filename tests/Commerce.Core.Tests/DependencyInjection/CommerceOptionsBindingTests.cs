using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Tests.DependencyInjection;

/// <summary>Options bound from configuration (appsettings.json, environment variables), as a host binds any options.</summary>
public sealed class CommerceOptionsBindingTests
{
    private static IConfigurationSection Section(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>("Commerce:" + s.Key, s.Value)))
            .Build()
            .GetSection("Commerce");

    [Fact]
    public void Every_kind_of_option_binds_from_its_configuration_text_amounts_included()
    {
        var section = Section(
            ("MaxChargeAmount", "5000"),
            ("MaxBalance", "9000000000"),
            ("MaxOrderLines", "20"),
            ("PopularProductsWindow", "7.00:00:00"),
            ("IdempotencyRetention", "01:30:00"),
            ("PublishEvents", "false"));
        var services = new ServiceCollection();

        services.AddCommerce(options => section.Bind(options));

        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<CommerceOptions>();
        Assert.Equal(new Money(5000), options.MaxChargeAmount);
        Assert.Equal(new Money(9_000_000_000), options.MaxBalance);
        Assert.Equal(20, options.MaxOrderLines);
        Assert.Equal(TimeSpan.FromDays(7), options.PopularProductsWindow);
        Assert.Equal(TimeSpan.FromMinutes(90), options.IdempotencyRetention);
        Assert.False(options.PublishEvents);
        Assert.Equal(new CommerceOptions().MaxLineQuantity, options.MaxLineQuantity); // not configured: the default
    }

    [Theory]
    [InlineData("ten")]
    [InlineData("12.5")]
    [InlineData("1e3")]
    [InlineData("99999999999999999999")]
    [InlineData("")]
    public void An_amount_that_is_not_a_64_bit_integer_is_refused_naming_the_key_and_nothing_is_registered(string text)
    {
        var section = Section(("MaxChargeAmount", text));
        var services = new ServiceCollection();

        var refused = Assert.Throws<InvalidOperationException>(() => services.AddCommerce(options => section.Bind(options)));

        Assert.Contains("Commerce:MaxChargeAmount", refused.Message, StringComparison.Ordinal);
        Assert.Empty(services);
    }

    [Fact]
    public void A_bound_amount_out_of_range_is_refused_by_the_options_check_like_one_set_in_code()
    {
        var section = Section(("MaxChargeAmount", "-5"));
        var services = new ServiceCollection();

        var refused = Assert.Throws<ArgumentException>(() => services.AddCommerce(options => section.Bind(options)));

        Assert.Contains("MaxChargeAmount must be positive, but was -5.", refused.Message, StringComparison.Ordinal);
        Assert.Empty(services);
    }
}
