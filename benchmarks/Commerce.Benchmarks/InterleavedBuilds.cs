using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;

namespace Commerce.Benchmarks;

/// <summary>
/// Two builds of the library measured as <see cref="Interleaved"/> measures two variants: each build's
/// benchmarks assembly (and with it that build's Commerce assemblies and their dependencies) is loaded into
/// its own <see cref="AssemblyLoadContext"/>, each makes its own shop, and the same worker threads place
/// orders in one and then the other in alternating slices. So a change to the store is measured against the
/// code before it in one process, where runs minutes apart drift by a quarter. Both builds share the
/// process's collector: a change that only alters what the collector does is blurred by the other build's
/// garbage, so this is for changes to the code an order runs through.
/// </summary>
internal static class InterleavedBuilds
{
    public static int Run(string[] args)
    {
        if (args.Length is < 5 or > 6
            || args[2] is not ("events" or "no-events" or "keyed")
            || !int.TryParse(args[3], out var workers) || workers < 1
            || !double.TryParse(args[4], CultureInfo.InvariantCulture, out var seconds) || seconds <= 0
            || !int.TryParse(args.Length == 6 ? args[5] : "1000", out var sliceMs) || sliceMs < 10)
        {
            Console.Error.WriteLine("usage: interleaved-builds <build-dir-A> <build-dir-B> <events|no-events|keyed> <workers> <seconds> [slice-ms]");
            Console.Error.WriteLine("  a build dir is the output of: dotnet build -c Release benchmarks/Commerce.Benchmarks -o <dir>");
            return 2;
        }

        var variant = args[2];
        using var shopA = Load(args[0], "A").Create(variant, workers, out var placeA);
        using var shopB = Load(args[1], "B").Create(variant, workers, out var placeB);
        return Interleaved.Alternate(placeA, placeB, $"A ({args[0]})", $"B ({args[1]})", workers, seconds, sliceMs);
    }

    /// <summary>The benchmarks assembly of the build in <paramref name="directory"/>, loaded apart from every other build.</summary>
    private static Build Load(string directory, string name)
    {
        var path = Path.GetFullPath(Path.Combine(directory, "Commerce.Benchmarks.dll"));
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No benchmarks build in {directory}.", path);
        }

        var context = new BuildContext(path, name);
        var assembly = context.LoadFromAssemblyPath(path);
        var create = assembly.GetType("Commerce.Benchmarks.Interleaved", throwOnError: true)!.GetMethod(
            nameof(Interleaved.Create),
            BindingFlags.Static | BindingFlags.NonPublic,
            [typeof(string), typeof(int), typeof(Func<int, int, bool>).MakeByRefType()])
            ?? throw new InvalidOperationException($"The build in {directory} has no Interleaved.Create(string, int, out Func<int, int, bool>): it predates this command.");
        return new Build(create);
    }

    private sealed class Build(MethodInfo create)
    {
        public IDisposable Create(string variant, int workers, out Func<int, int, bool> place)
        {
            var arguments = new object?[] { variant, workers, null };
            var shop = (IDisposable)create.Invoke(null, arguments)!;
            place = (Func<int, int, bool>)arguments[2]!;
            return shop;
        }
    }

    /// <summary>Resolves a build's own assemblies from its directory; the framework's come from the default context.</summary>
    private sealed class BuildContext(string mainAssembly, string name) : AssemblyLoadContext($"build {name}")
    {
        private readonly AssemblyDependencyResolver _resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName assemblyName) =>
            _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
