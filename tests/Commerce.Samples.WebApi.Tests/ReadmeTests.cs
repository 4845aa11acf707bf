using System.Globalization;
using System.Text.RegularExpressions;
using Commerce.Conformance;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>The samples' README says what the web API answers: its table of errors gives each library error code the status the API sends.</summary>
public sealed class ReadmeTests
{
    [Fact]
    public void The_error_table_lists_every_error_code_once_under_the_status_the_api_sends()
    {
        var rows = Readme.Table("samples/README.md", "### Errors");
        Assert.All(Enum.GetValues<CommerceErrorCode>(), code =>
        {
            var listing = rows.Where(row => Regex.IsMatch(row[1], $@"\b{code}\b", RegexOptions.None, TimeSpan.FromSeconds(1))).ToList();
            var row = Assert.Single(listing);
            Assert.Contains(ApiResults.StatusCodeOf(code).ToString(CultureInfo.InvariantCulture), row[0].Split(", "));
        });
    }
}
