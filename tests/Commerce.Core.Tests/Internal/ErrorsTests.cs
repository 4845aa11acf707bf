using System.Reflection;
using Commerce.Tests.Support;

namespace Commerce.Tests.Internal;

public sealed class ErrorsTests
{
    [Fact]
    public void A_charge_over_the_limit_names_the_amount_the_limit_and_its_option()
    {
        var message = Errors.ChargeLimitExceeded(new Money(1_500), new Money(1_000)).Message;

        Assert.Contains("1500", message, StringComparison.Ordinal);
        Assert.Contains("1000", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxChargeAmount", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_balance_over_the_limit_names_the_balance_the_amount_the_limit_and_its_option()
    {
        var message = Errors.BalanceLimitExceeded(new Money(900), new Money(200), new Money(1_000)).Message;

        Assert.Contains("900", message, StringComparison.Ordinal);
        Assert.Contains("200", message, StringComparison.Ordinal);
        Assert.Contains("1000", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxBalance", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_quantity_over_the_limit_names_the_quantity_the_limit_and_its_option()
    {
        var message = Errors.QuantityLimitExceeded(1_001, 1_000).Message;

        Assert.Contains("1001", message, StringComparison.Ordinal);
        Assert.Contains("1000", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxLineQuantity", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_lines_names_the_count_the_limit_and_its_option()
    {
        var message = Errors.TooManyLines(101, 100).Message;

        Assert.Contains("101", message, StringComparison.Ordinal);
        Assert.Contains("at most 100 distinct products", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxOrderLines", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_full_cart_names_the_limit_and_its_option()
    {
        var message = Errors.CartFull(100).Message;

        Assert.Contains("at most 100 distinct products", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxOrderLines", message, StringComparison.Ordinal);
    }


    [Fact]
    public void A_name_too_long_names_its_length_the_limit_and_its_option()
    {
        var message = Errors.InvalidProductName(new string('a', 12), 10).Message;

        Assert.Contains("12", message, StringComparison.Ordinal);
        Assert.Contains("10", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxProductNameLength", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "white space")]
    [InlineData("a\u0000b", "control character")]
    [InlineData("a\ud800b", "unpaired surrogate")]
    public void A_name_refused_for_its_characters_says_which_rule_it_breaks(string name, string rule)
    {
        var message = Errors.InvalidProductName(name, 10).Message;

        Assert.Contains(rule, message, StringComparison.Ordinal);
        Assert.DoesNotContain("CommerceOptions.MaxProductNameLength", message, StringComparison.Ordinal);
    }


    [Fact]
    public void A_refusal_that_is_not_retried_says_why_and_what_the_store_waited_for()
    {
        var message = Errors.StoreUnavailable("PlaceOrder", 1, retryable: false).Message;

        Assert.StartsWith("PlaceOrder found the store unavailable on attempt 1 and did not retry", message, StringComparison.Ordinal);
        Assert.Contains("a free connection", message, StringComparison.Ordinal);
        Assert.Contains("CommerceOptions.MaxCommitAttempts", message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was changed.", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_idempotency_key_is_called_empty()
    {
        var message = Errors.InvalidIdempotencyKey(new IdempotencyKey(string.Empty)).Message;

        Assert.Contains("was empty", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_idempotency_key_too_long_names_its_length_and_the_limit_without_repeating_the_key()
    {
        var key = new IdempotencyKey(new string('k', 130));

        var message = Errors.InvalidIdempotencyKey(key).Message;

        Assert.Contains("130 characters", message, StringComparison.Ordinal);
        Assert.Contains("128", message, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Value, message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_idempotency_key_with_a_character_outside_printable_ASCII_names_it_and_its_index_without_repeating_the_key()
    {
        var message = Errors.InvalidIdempotencyKey(new IdempotencyKey("secret-order\t7")).Message;

        Assert.Contains("U+0009 at index 12", message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-order", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Giving_up_on_conflicts_names_the_attempts_and_their_option()
    {
        var message = Errors.ConcurrencyConflict("Charge", 5).Message;

        Assert.Contains("after 5 attempts (CommerceOptions.MaxCommitAttempts)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Giving_up_on_refusals_names_the_attempts_and_their_option()
    {
        var message = Errors.StoreUnavailable("Charge", 5).Message;

        Assert.Contains("after 5 attempts (CommerceOptions.MaxCommitAttempts)", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Every error the library makes is built with sample arguments (product 7 wherever a product is asked for):
    /// each code whose error names a product is one that the documentation of <see cref="CommerceError.ProductIds"/>
    /// gives products for, as hosts read the products of exactly those codes (the documentation lies next to the
    /// assembly, as the package ships it).
    /// </summary>
    [Fact]
    public void The_documentation_of_ProductIds_names_every_code_whose_errors_carry_products()
    {
        object? Sample(Type type) =>
            type == typeof(ProductId) ? new ProductId(7)
            : type == typeof(IEnumerable<ProductId>) ? new[] { new ProductId(7) }
            : type == typeof(string) ? "Charge"
            : Activator.CreateInstance(type);

        var withProducts = typeof(Errors).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.ReturnType == typeof(CommerceError) && !m.IsGenericMethodDefinition)
            .Select(m => (CommerceError)m.Invoke(null, [.. m.GetParameters().Select(p => Sample(p.ParameterType))])!)
            .Where(e => e.ProductIds.Count > 0)
            .Select(e => e.Code)
            .Distinct()
            .Order()
            .ToList();

        var documented = XmlDocumentation.Member("P:Commerce.CommerceError.ProductIds").Descendants("see")
            .Select(see => (string?)see.Attribute("cref"))
            .Where(cref => cref is not null && cref.StartsWith("F:Commerce.CommerceErrorCode.", StringComparison.Ordinal))
            .Select(cref => Enum.Parse<CommerceErrorCode>(cref!["F:Commerce.CommerceErrorCode.".Length..]))
            .Distinct()
            .Order()
            .ToList();

        Assert.Contains(CommerceErrorCode.InsufficientStock, withProducts);
        Assert.Equal(withProducts, documented);
    }
}
