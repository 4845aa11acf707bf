namespace Commerce.Tests.SeedWork;

/// <summary>The result type's accessors: a failure is data until its value is asked for.</summary>
public sealed class ResultTests
{
    private static readonly CommerceError Short = new(CommerceErrorCode.InsufficientBalance, "The wallet holds less than the total.");

    [Fact]
    public void A_success_gives_its_value_through_every_accessor()
    {
        var result = Result<int>.Success(42);

        Assert.Equal(42, result.GetValueOrDefault(-1));
        Assert.True(result.TryGetValue(out var value, out var error));
        Assert.Equal(42, value);
        Assert.Null(error);
        Assert.Equal(Result<string>.Success("42"), result.Map(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void A_failure_gives_its_error_the_fallback_and_passes_through_Map_without_calling_it()
    {
        var result = Result<int>.Failure(Short.Code, Short.Message);

        Assert.Equal(Short, result.Error);
        Assert.Equal(-1, result.GetValueOrDefault(-1));
        Assert.False(result.TryGetValue(out var value, out var error));
        Assert.Equal(0, value);
        Assert.Equal(Short, error);
        var mapped = result.Map<string>(_ => throw new InvalidOperationException("A failure's value was converted."));
        Assert.True(mapped.IsFailure);
        Assert.Same(result.Error, mapped.Error);
        Assert.Equal("map", Assert.Throws<ArgumentNullException>(() => result.Map<string>(null!)).ParamName);
    }

    [Fact]
    public void Reading_the_value_of_a_failure_or_of_a_default_result_throws_saying_which()
    {
        var failed = Assert.Throws<InvalidOperationException>(() => Result<int>.Failure(Short).Value);
        Assert.Contains("The operation failed and has no value", failed.Message, StringComparison.Ordinal);
        Assert.Contains(Short.Message, failed.Message, StringComparison.Ordinal);

        var uninitialised = Assert.Throws<InvalidOperationException>(() => default(Result<int>).Value);
        Assert.Equal("The result is uninitialised (default).", uninitialised.Message);
    }

    [Fact]
    public void A_default_result_is_refused_by_every_accessor_that_would_read_a_value_or_an_error()
    {
        var uninitialised = default(Result<int>);
        const string Message = "The result is uninitialised (default).";

        Assert.Equal(Message, Assert.Throws<InvalidOperationException>(() => uninitialised.Error).Message);
        Assert.Equal(Message, Assert.Throws<InvalidOperationException>(() => uninitialised.TryGetValue(out _, out _)).Message);
        Assert.Equal(Message, Assert.Throws<InvalidOperationException>(() => uninitialised.GetValueOrDefault(-1)).Message);
        Assert.Equal(Message, Assert.Throws<InvalidOperationException>(() => uninitialised.Map(v => v + 1)).Message);
        Assert.Equal("Uninitialised", uninitialised.ToString());
        Assert.False(uninitialised.IsSuccess);
    }

    [Fact]
    public void A_failure_without_an_error_or_a_message_is_refused_naming_the_argument()
    {
        Assert.Equal("error", Assert.Throws<ArgumentNullException>(() => Result<int>.Failure(null!)).ParamName);
        Assert.Equal("error", Assert.Throws<ArgumentNullException>(() => { Result<int> result = (CommerceError)null!; }).ParamName);
        Assert.Equal("message", Assert.Throws<ArgumentNullException>(() => Result<int>.Failure(CommerceErrorCode.InsufficientBalance, null!)).ParamName);
    }
}
