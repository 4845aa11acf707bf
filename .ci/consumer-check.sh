#!/usr/bin/env bash
# Packs Commerce.Core, Commerce.Core.InMemory, Commerce.Core.Postgres and Commerce.Core.Hosting into a throwaway folder, checks what the packages
# hold, then installs them by id and version into a fresh console app outside the repository and
# runs the library through it. Exits non-zero on the first thing that does not hold.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work="$(mktemp -d "${TMPDIR:-/tmp}/commerce-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"          # the local package source
app="$work/app"            # the host app, outside the repository: none of its Directory.*.props apply
export NUGET_PACKAGES="$work/packages"   # an empty cache: nothing stale can be restored
mkdir -p "$feed" "$app"

fail() { echo "consumer-check: FAILED: $*" >&2; exit 1; }
checks=0
ok() { checks=$((checks + 1)); echo "  ok: $*"; }

zip_list() {   # the entries of a zip, one a line
    if command -v unzip >/dev/null; then unzip -Z1 "$1"
    else python3 -c 'import sys,zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"; fi
}
zip_cat() {    # one entry of a zip to stdout, byte for byte (a pdb is binary)
    if command -v unzip >/dev/null; then unzip -p "$1" "$2"
    else python3 -c 'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$1" "$2"; fi
}

version="$(dotnet msbuild "$repo/src/Commerce.Core/Commerce.Core.csproj" -getProperty:PackageVersion)"
[[ -n "$version" ]] || fail "could not read the package version"
echo "consumer-check: packing version $version into $feed"

# --- pack the whole solution: exactly the four packages and their symbol packages come out ---
dotnet pack "$repo/Commerce.sln" -c Release -o "$feed" --nologo -v quiet
expected="Commerce.Core.$version.nupkg
Commerce.Core.$version.snupkg
Commerce.Core.InMemory.$version.nupkg
Commerce.Core.InMemory.$version.snupkg
Commerce.Core.Postgres.$version.nupkg
Commerce.Core.Postgres.$version.snupkg
Commerce.Core.Hosting.$version.nupkg
Commerce.Core.Hosting.$version.snupkg"
actual="$(cd "$feed" && ls -1 | LC_ALL=C sort)"
[[ "$actual" == "$(LC_ALL=C sort <<<"$expected")" ]] || fail "pack produced:
$actual
expected:
$expected"
ok "the solution packs to exactly Commerce.Core, Commerce.Core.InMemory, Commerce.Core.Postgres and Commerce.Core.Hosting (+ .snupkg)"

# --- what each package holds ---
for id in Commerce.Core Commerce.Core.InMemory Commerce.Core.Postgres Commerce.Core.Hosting; do
    nupkg="$feed/$id.$version.nupkg"
    entries="$(zip_list "$nupkg")"
    for entry in "lib/net10.0/$id.dll" "lib/net10.0/$id.xml" "README.md" "$id.nuspec"; do
        grep -qxF "$entry" <<<"$entries" || fail "$id: $entry missing from the package"
    done
    grep -qxF "lib/net10.0/$id.pdb" <<<"$(zip_list "$feed/$id.$version.snupkg")" \
        || fail "$id: the .snupkg holds no lib/net10.0/$id.pdb"
    # grep -c reads the whole pdb: grep -q would stop at the match and, under pipefail, the writer's SIGPIPE
    # would fail the check for any pdb larger than the pipe's buffer.
    [[ "$(zip_cat "$feed/$id.$version.snupkg" "lib/net10.0/$id.pdb" | grep -ac '{"documents":{')" -gt 0 ]] \
        || fail "$id: the pdb carries no Source Link map"
    nuspec="$(zip_cat "$nupkg" "$id.nuspec")"
    grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || fail "$id: no MIT license expression"
    grep -q '<readme>README.md</readme>' <<<"$nuspec" || fail "$id: no readme in the nuspec"
    grep -q '<repository type="git"' <<<"$nuspec" || fail "$id: no repository metadata"
    [[ "$(zip_cat "$nupkg" "lib/net10.0/$id.xml" | grep -c '<member name=')" -gt 0 ]] \
        || fail "$id: the XML documentation is empty"
    ok "$id.$version.nupkg holds the dll, its XML docs, README.md, license and repository; the .snupkg holds the pdb with a Source Link map"

    deps="$(grep -o '<dependency id="[^"]*" version="[^"]*"' <<<"$nuspec" | sed -E 's/<dependency id="([^"]*)" version="([^"]*)"/\1 \2/' | LC_ALL=C sort)"
    case "$id" in
        Commerce.Core) want="Microsoft.Extensions.DependencyInjection.Abstractions
Microsoft.Extensions.Logging.Abstractions" ;;
        Commerce.Core.InMemory) want="Commerce.Core
Microsoft.Extensions.DependencyInjection.Abstractions
System.IO.Hashing" ;;   # XXH3, the store's idempotency digest
        Commerce.Core.Postgres) want="Commerce.Core
Microsoft.Extensions.Diagnostics.HealthChecks
Npgsql" ;;   # the health check (IHealthChecksBuilder lives in the full HealthChecks package)
        Commerce.Core.Hosting) want="Commerce.Core
Microsoft.Extensions.Hosting.Abstractions" ;;   # the dispatcher is a BackgroundService
    esac
    [[ "$(cut -d' ' -f1 <<<"$deps")" == "$want" ]] || fail "$id depends on:
$deps
expected only:
$want"
    if [[ "$id" != Commerce.Core ]]; then
        grep -qxF "Commerce.Core $version" <<<"$deps" || fail "$id does not depend on Commerce.Core $version"
    fi
    ok "$id depends only on: $(tr '\n' ',' <<<"$deps" | sed 's/,$//; s/,/, /g')"
done

# --- a fresh host app that installs the packages by id and version ---
cat > "$app/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
    <add key="local" value="$feed" />
  </packageSources>
  <!-- Commerce.* may only come from the folder just packed, never from a public package of the same name. -->
  <packageSourceMapping>
    <packageSource key="local">
      <package pattern="Commerce.*" />
    </packageSource>
    <packageSource key="nuget.org">
      <package pattern="*" />
    </packageSource>
  </packageSourceMapping>
</configuration>
XML

cat > "$app/ConsumerCheck.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Commerce.Core" Version="$version" />
    <PackageReference Include="Commerce.Core.InMemory" Version="$version" />
    <PackageReference Include="Commerce.Core.Hosting" Version="$version" />
    <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.0" />
  </ItemGroup>
</Project>
XML

cat > "$app/Program.cs" <<'CS'
using Commerce;
using Commerce.Events;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var failures = 0;
var passes = 0;
void Check(bool condition, string what)
{
    if (condition) { passes++; Console.WriteLine($"  ok: {what}"); }
    else { failures++; Console.WriteLine($"  FAILED: {what}"); }
}

var services = new ServiceCollection();
services.AddCommerce().UseInMemoryStore();
await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

var wallets = provider.GetRequiredService<IWalletService>();
var catalog = provider.GetRequiredService<ICatalogService>();
var orders = provider.GetRequiredService<IOrderService>();
var ranking = provider.GetRequiredService<ISalesRankingService>();

var alice = new UserId(1);
var tea = new ProductId(10);
var mug = new ProductId(20);

var charged = await wallets.ChargeAsync(alice, new Money(10_000));
Check(charged.IsSuccess && charged.Value == new Money(10_000), "a charge returns the new balance");

var added = await catalog.AddProductAsync(tea, "Tea", new Money(450), 20);
Check(added.IsSuccess && added.Value.Stock == 20 && added.Value.Name == "Tea", "a product is added with its stock");
Check((await catalog.AddProductAsync(mug, "Mug", new Money(300), 5)).IsSuccess, "a second product is added");

var placed = await orders.PlaceOrderAsync(alice, [new OrderLineRequest(tea, 3), new OrderLineRequest(mug, 1)]);
Check(placed.IsSuccess && placed.Value.Total == new Money(3 * 450 + 300) && placed.Value.Lines.Count == 2,
    "an order is placed with the right total");
Check(await wallets.GetBalanceAsync(alice) == new Money(10_000 - 1_650), "the order paid from the wallet");
var teaAfter = await catalog.GetProductAsync(tea);
Check(teaAfter.IsSuccess && teaAfter.Value.Stock == 17, "the order deducted the stock");
if (placed.IsSuccess)
{
    var read = await orders.GetOrderAsync(placed.Value.Id);
    Check(read.IsSuccess && read.Value.Total == placed.Value.Total, "the order can be read back");
}

var refused = await orders.PlaceOrderAsync(alice, [new OrderLineRequest(mug, 5)]);
Check(!refused.IsSuccess && refused.Error.Code == CommerceErrorCode.InsufficientStock,
    "an order for more than the stock is refused with InsufficientStock");

var popular = await ranking.GetPopularProductsAsync();
Check(popular.Count == 2
      && popular[0] is { Rank: 1, Name: "Tea", QuantitySold: 3 }
      && popular[1] is { Rank: 2, Name: "Mug", QuantitySold: 1 },
    "the popular products rank the order's products by quantity sold");

var hosted = new ServiceCollection();
hosted.AddCommerce().UseInMemoryStore()
    .AddEventHandler<Mailer>()
    .AddEventDispatcher(o => o.EventRetention = TimeSpan.FromDays(1));
Check(hosted.Count(d => d.ServiceType == typeof(IHostedService)) == 1
      && hosted.Any(d => d.ServiceType == typeof(Mailer) && d.Lifetime == ServiceLifetime.Scoped),
    "the hosting package registers a handler and one event dispatcher");

Console.WriteLine($"consumer: {passes} passed, {failures} failed");
return failures == 0 ? 0 : 1;

sealed class Mailer : ICommerceEventHandler
{
    public ValueTask HandleAsync(CommerceEvent @event, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
CS

echo "consumer-check: restoring and running a host app in $app"
dotnet restore "$app" --nologo -v quiet
for id in commerce.core commerce.core.inmemory commerce.core.hosting; do
    meta="$NUGET_PACKAGES/$id/$version/.nupkg.metadata"
    [[ -f "$meta" ]] || fail "$id $version was not restored into the throwaway packages folder"
    grep -qF "$feed" "$meta" || fail "$id $version was not restored from the local folder: $(cat "$meta")"
done
ok "the three packages restored by id and version from the local folder"
dotnet build "$app" --no-restore --nologo -v quiet -c Release
dotnet run --project "$app" --no-build -c Release || fail "the host app's checks failed"
ok "a host app using the packages charged, added products, placed an order and ranked best-sellers"

# --- the READMEs' programs, as a user copies them: the C# blocks of each package README that together make a program
# (and the first block of the repository's README) are built against the packages and run ---
readme_program() {   # $1: the README; $2: how many C# blocks, from the first (0: all)
    awk -v limit="$2" '/^```csharp/ { n++; p = (limit == 0 || n <= limit); next } /^```/ { p = 0 } p' "$1"
}
readme_app="$work/readme"
mkdir -p "$readme_app"
cp "$app/nuget.config" "$readme_app/"
sed 's|<PackageReference Include="Commerce.Core.Hosting" Version="[^"]*" />|<PackageReference Include="Microsoft.Extensions.Logging" Version="10.0.0" />|' \
    "$app/ConsumerCheck.csproj" > "$readme_app/ReadmeCheck.csproj"
for source in "README.md 1" "src/Commerce.Core/README.md 0" "src/Commerce.Core.InMemory/README.md 0"; do
    set -- $source
    readme_program "$repo/$1" "$2" > "$readme_app/Program.cs"
    [[ -s "$readme_app/Program.cs" ]] || fail "$1 holds no C# program"
    output="$(dotnet run --project "$readme_app" -c Release 2>&1)" || fail "the program of $1 does not build or run:
$output"
    case "$1" in
        src/Commerce.Core.InMemory/README.md) grep -qxF "Paid 900; balance now 100" <<<"$output" || fail "$1 printed, not the 900 and 100 it says:
$output" ;;
        *) grep -q "^Order .*: " <<<"$output" || fail "$1 placed no order:
$output" ;;
    esac
    ok "the program in $1 builds against the packages and runs as its comments say"
done

# --- the worker that opens the Hosting package's README, as a user copies it: it runs until its host stops, so it is
# built against the packages (with the generic host it names), not run ---
hosting_app="$work/hosting-readme"
mkdir -p "$hosting_app"
cp "$app/nuget.config" "$hosting_app/"
sed 's|<PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="[^"]*" />|<PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.0" />|' \
    "$app/ConsumerCheck.csproj" > "$hosting_app/HostingReadmeCheck.csproj"
readme_program "$repo/src/Commerce.Core.Hosting/README.md" 1 > "$hosting_app/Program.cs"
grep -q "AddEventDispatcher" "$hosting_app/Program.cs" || fail "src/Commerce.Core.Hosting/README.md opens with no worker that registers the dispatcher"
output="$(dotnet build "$hosting_app" -c Release --nologo -v quiet 2>&1)" || fail "the worker in src/Commerce.Core.Hosting/README.md does not build against the packages:
$output"
ok "the worker in src/Commerce.Core.Hosting/README.md builds against the packages"

# --- the same host app published trimmed: the packages declare IsAotCompatible, so the trimmer analyses them
# whole; any trim or AOT warning fails the publish (the app treats warnings as errors and reports each one), and the
# trimmed app must pass the same checks ---
echo "consumer-check: publishing the host app trimmed (self-contained, linux-x64)"
dotnet publish "$app" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true -p:TrimmerSingleWarn=false \
    -o "$work/trimmed" --nologo -v quiet || fail "the trimmed publish of the host app failed (a trim warning is an error)"
"$work/trimmed/ConsumerCheck" || fail "the trimmed host app's checks failed"
ok "the host app, trimmed, builds without a trim warning and passes the same checks"

echo "consumer-check: $checks passed, 0 failed"
