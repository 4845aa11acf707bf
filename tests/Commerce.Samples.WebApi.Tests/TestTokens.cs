using System.Globalization;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Commerce.Samples.WebApi.Tests;

/// <summary>
/// Bearer tokens signed with a key made for this test run, and the settings that make the API accept them: the
/// same <c>Authentication:Schemes:Bearer</c> keys that <c>dotnet user-jwts</c> writes for local use.
/// </summary>
public static class TestTokens
{
    public const string Issuer = "commerce-tests";
    public const string Audience = "commerce-tests";
    public const string CatalogAdminRole = "catalog-admin";

    private static readonly byte[] SigningKey = RandomNumberGenerator.GetBytes(32);

    /// <summary>Command-line settings that make the API trust <see cref="Issuer"/>'s tokens for <see cref="Audience"/>.</summary>
    public static IReadOnlyList<string> ServerArgs { get; } =
    [
        $"--Authentication:Schemes:Bearer:ValidIssuer={Issuer}",
        $"--Authentication:Schemes:Bearer:ValidAudiences:0={Audience}",
        $"--Authentication:Schemes:Bearer:SigningKeys:0:Issuer={Issuer}",
        $"--Authentication:Schemes:Bearer:SigningKeys:0:Value={Convert.ToBase64String(SigningKey)}",
    ];

    /// <summary>A customer's token: <c>sub</c> is the user id.</summary>
    public static string ForUser(long userId) => Create(userId.ToString(CultureInfo.InvariantCulture));

    /// <summary>A catalog administrator's token (no customer id).</summary>
    public static string ForCatalogAdmin() => Create("catalog-admin", roles: [CatalogAdminRole]);

    /// <summary>A token with the given subject and roles, valid for an hour unless told otherwise.</summary>
    public static string Create(
        string? subject,
        IReadOnlyList<string>? roles = null,
        DateTime? notBefore = null,
        DateTime? expires = null,
        byte[]? signingKey = null,
        string issuer = Issuer,
        string audience = Audience)
    {
        var claims = new Dictionary<string, object>();
        if (subject is not null)
        {
            claims["sub"] = subject;
        }

        if (roles is { Count: > 0 })
        {
            claims["role"] = roles.ToArray();
        }

        var from = notBefore ?? DateTime.UtcNow.AddMinutes(-1);
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = from,
            NotBefore = from,
            Expires = expires ?? from.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(signingKey ?? SigningKey), SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }
}
