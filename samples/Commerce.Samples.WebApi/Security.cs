using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;

namespace Commerce.Samples.WebApi;

/// <summary>
/// Who may do what. Callers prove who they are with a JWT bearer token (scheme <c>Bearer</c>); the
/// token's <c>sub</c> claim is the user id of a customer, its <c>role</c> claims grant roles.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="Customer"/>: any valid token whose <c>sub</c> is a positive integer (orders by id, placing orders).</item>
/// <item><see cref="AccountOwner"/>: a customer whose <c>sub</c> equals the route's <c>userId</c> (wallet, ledger, cart, order list).</item>
/// <item><see cref="CatalogAdmin"/>: a valid token with the role <see cref="CatalogAdminRole"/> (adding and restocking products).</item>
/// </list>
/// Reading the catalog, the ranking, the health check, the OpenAPI document and the metrics is public.
/// The signing keys, issuers and audiences come from configuration under <c>Authentication:Schemes:Bearer</c>,
/// where <c>dotnet user-jwts</c> writes them for local use.
/// </remarks>
internal static class Security
{
    public const string Customer = "Customer";
    public const string AccountOwner = "AccountOwner";
    public const string CatalogAdmin = "CatalogAdmin";

    /// <summary>The role that manages the catalog.</summary>
    public const string CatalogAdminRole = "catalog-admin";

    /// <summary>The claim that holds the caller's user id.</summary>
    public const string UserIdClaim = "sub";

    public const string RoleClaim = "role";

    public static IServiceCollection AddSampleSecurity(this IServiceCollection services)
    {
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            // Keep the token's claim names ("sub", "role") instead of mapping them to the long SOAP-era URIs.
            options.MapInboundClaims = false;
            options.TokenValidationParameters.NameClaimType = UserIdClaim;
            options.TokenValidationParameters.RoleClaimType = RoleClaim;
        });

        services.AddAuthorizationBuilder()
            .AddPolicy(Customer, policy => policy.RequireAuthenticatedUser().RequireAssertion(c => TryGetUserId(c.User, out _)))
            .AddPolicy(AccountOwner, policy => policy.RequireAuthenticatedUser().RequireAssertion(c =>
                TryGetUserId(c.User, out var caller)
                && c.Resource is HttpContext http
                && http.Request.RouteValues.TryGetValue("userId", out var routeUser)
                && TryParseId(routeUser as string, out var owner)
                && owner == caller.Value))
            .AddPolicy(CatalogAdmin, policy => policy.RequireAuthenticatedUser().RequireRole(CatalogAdminRole));
        return services;
    }

    /// <summary>The caller's user id: the <c>sub</c> claim, when it is a positive integer.</summary>
    public static bool TryGetUserId(ClaimsPrincipal user, out UserId userId)
    {
        if (user.Identity?.IsAuthenticated == true && TryParseId(user.FindFirst(UserIdClaim)?.Value, out var id))
        {
            userId = new UserId(id);
            return true;
        }

        userId = default;
        return false;
    }

    /// <summary>The caller's user id; only for endpoints that require <see cref="Customer"/> or <see cref="AccountOwner"/>.</summary>
    public static UserId CallerId(this HttpContext context) =>
        TryGetUserId(context.User, out var id) ? id : throw new InvalidOperationException("The endpoint requires a customer.");

    /// <summary>A positive 64-bit integer in invariant digits: the form of every user and product id.</summary>
    public static bool TryParseId(string? text, out long id) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0;
}
