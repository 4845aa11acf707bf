using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests;

/// <summary>An invalid <see cref="PostgresStoreOptions"/> setting is refused with a message naming the option and its value.</summary>
public sealed class PostgresStoreOptionsMessageTests
{
    private static ArgumentException Refused(Action<PostgresStoreOptions> configure) =>
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = "Host=localhost";
            configure(o);
        }));

    [Fact]
    public void An_invalid_schema_names_the_option_and_the_value()
    {
        var error = Refused(o => o.Schema = "Pg_Bad");

        Assert.Equal("configure", error.ParamName);
        Assert.Contains("PostgresStoreOptions.Schema", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"Pg_Bad\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_command_timeout_names_the_option_and_the_value()
    {
        var error = Refused(o => o.CommandTimeout = -7);

        Assert.Contains("PostgresStoreOptions.CommandTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("-7", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_group_size_names_the_option_and_the_value()
    {
        var error = Refused(o => o.MaxGroupSize = 1_234);

        Assert.Contains("PostgresStoreOptions.MaxGroupSize", error.Message, StringComparison.Ordinal);
        Assert.Contains("1234", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_event_notification_interval_names_the_option_and_the_value()
    {
        var error = Refused(o => o.EventNotificationInterval = TimeSpan.FromMilliseconds(1_500));

        Assert.Contains("PostgresStoreOptions.EventNotificationInterval", error.Message, StringComparison.Ordinal);
        Assert.Contains("00:00:01.5", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3_600_001)]
    public void A_shutdown_timeout_outside_zero_to_one_hour_names_the_option_and_the_value_and_registers_nothing(int milliseconds)
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = "Host=localhost";
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(milliseconds);
        }));

        Assert.Equal("configure", error.ParamName);
        Assert.Contains("PostgresStoreOptions.ShutdownTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains(TimeSpan.FromMilliseconds(milliseconds).ToString(), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    [Fact]
    public void The_shutdown_timeout_defaults_to_five_seconds_and_reaches_the_store_from_zero_to_one_hour()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), new PostgresStoreOptions().ShutdownTimeout);
        foreach (var timeout in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(250), TimeSpan.FromHours(1) })
        {
            var services = new ServiceCollection();
            services.AddCommerce().UsePostgresStore(o =>
            {
                o.ConnectionString = "Host=localhost";
                o.ShutdownTimeout = timeout;
            });
            using var provider = services.BuildServiceProvider();

            Assert.Equal(timeout, provider.GetRequiredService<Commerce.Postgres.PostgresCommerceStore>().ShutdownTimeout);
        }
    }

    /// <summary>
    /// A connection string Npgsql cannot read, set in the options, was refused as "The connection string is not one Npgsql
    /// can read", unlike every other option, whose message names it. It names the option too (not the value, which may
    /// hold a password: see below).
    /// </summary>
    [Fact]
    public void A_connection_string_npgsql_cannot_read_names_the_option()
    {
        var error = Refused(o => o.ConnectionString = "Host=x;Bogus=1");

        Assert.Equal("configure", error.ParamName);
        Assert.Contains("PostgresStoreOptions.ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("bogus", error.Message, StringComparison.OrdinalIgnoreCase); // Npgsql's reason
    }

    /// <summary>
    /// A connection string of white space only was taken for none: the store silently used the registered data source, or,
    /// without one, failed at its first resolution saying it had no connection string. UsePostgresStore(string) refuses it;
    /// the options are refused alike, at registration, naming the option. An empty one still means none (documented).
    /// </summary>
    [Theory]
    [InlineData(" ")]
    [InlineData("\t\r\n")]
    public void A_white_space_connection_string_names_the_option_and_registers_nothing(string connectionString)
    {
        var services = new ServiceCollection();
        services.AddSingleton(Npgsql.NpgsqlDataSource.Create("Host=localhost"));
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o => o.ConnectionString = connectionString));

        Assert.Equal("configure", error.ParamName);
        Assert.Contains("PostgresStoreOptions.ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("white space", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void A_null_or_empty_connection_string_uses_the_registered_data_source(string? connectionString)
    {
        var services = new ServiceCollection();
        using var registered = Npgsql.NpgsqlDataSource.Create("Host=localhost");
        services.AddSingleton(registered);
        services.AddCommerce().UsePostgresStore(o => o.ConnectionString = connectionString);
        using var provider = services.BuildServiceProvider();

        Assert.Same(registered, provider.GetRequiredService<Commerce.Postgres.PostgresCommerceStore>().DataSource);
    }

    [Theory]
    [InlineData("Host=x;Password=s3cret-pw;Bogus=1")]
    [InlineData("Host=x;Password=s3cret-pw;Port=abc")]
    [InlineData("Host=x;Password=s3cret-pw;Timeout=-5")]
    public void A_refused_connection_string_does_not_repeat_its_password(string connectionString)
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddCommerce().UsePostgresStore(connectionString));

        Assert.DoesNotContain("s3cret-pw", error.ToString(), StringComparison.Ordinal);
    }
}
