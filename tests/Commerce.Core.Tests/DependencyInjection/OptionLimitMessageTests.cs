using Commerce.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Tests.DependencyInjection;

/// <summary>An argument beyond a limit that an option sets is refused with a message naming that option.</summary>
public sealed class OptionLimitMessageTests
{
    private static ServiceProvider Build()
    {
        var services = new ServiceCollection();
        services.AddCommerce(o =>
        {
            o.MaxPageSize = 30;
            o.MaxPopularProductsCount = 40;
            o.MaxRankingWindow = TimeSpan.FromDays(50);
        }).UseFakeStore();
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_page_larger_than_MaxPageSize_names_the_option_and_the_values()
    {
        using var provider = Build();
        var catalog = provider.GetRequiredService<ICatalogService>();

        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await catalog.ListProductsAsync(null, 31));

        Assert.Equal("limit", e.ParamName);
        Assert.Equal(31, e.ActualValue);
        Assert.Contains("CommerceOptions.MaxPageSize", e.Message, StringComparison.Ordinal);
        Assert.Contains("30", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_count_larger_than_MaxPopularProductsCount_names_the_option_and_the_values()
    {
        using var provider = Build();
        var ranking = provider.GetRequiredService<ISalesRankingService>();

        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await ranking.GetPopularProductsAsync(41, TimeSpan.FromDays(1)));

        Assert.Equal("count", e.ParamName);
        Assert.Equal(41, e.ActualValue);
        Assert.Contains("CommerceOptions.MaxPopularProductsCount", e.Message, StringComparison.Ordinal);
        Assert.Contains("40", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_window_longer_than_MaxRankingWindow_names_the_option_and_the_values()
    {
        using var provider = Build();
        var ranking = provider.GetRequiredService<ISalesRankingService>();

        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(51)));

        Assert.Equal("window", e.ParamName);
        Assert.Equal(TimeSpan.FromDays(51), e.ActualValue);
        Assert.Contains("CommerceOptions.MaxRankingWindow", e.Message, StringComparison.Ordinal);
        Assert.Contains("50.00:00:00", e.Message, StringComparison.Ordinal);
    }
}
