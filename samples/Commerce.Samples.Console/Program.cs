using Commerce;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddCommerce().UseInMemoryStore();
using var host = builder.Build();

var wallets = host.Services.GetRequiredService<IWalletService>();
var charged = await wallets.ChargeAsync(new UserId(1), new Money(1000));
Console.WriteLine($"Charged user 1: {charged}");
