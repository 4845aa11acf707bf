using BenchmarkDotNet.Running;
using Commerce.Benchmarks;

if (args is ["check-ranking"])
{
    return RankingCheck.Run();
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
