using System.Diagnostics.CodeAnalysis;
using Commerce.Events;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Commerce;

/// <summary>Registers event handlers and the hosted service that delivers the shop's events to them.</summary>
public static class CommerceEventDispatcherBuilderExtensions
{
    /// <summary>
    /// Registers <typeparamref name="THandler"/> to be called for every event (see
    /// <see cref="ICommerceEventHandler"/>), with its own durable checkpoint named <paramref name="name"/>.
    /// Events reach it only where <see cref="AddEventDispatcher"/> is called too.
    /// </summary>
    /// <remarks>
    /// <typeparamref name="THandler"/> is registered as scoped unless the host registered it already (with
    /// any lifetime, which is then kept): the dispatcher opens a scope for each page of events it delivers,
    /// and a new one for each retry after a failure, and resolves the handler there. An interface or abstract
    /// class is not registered: the host registers it (before or after this call), or the dispatcher refuses
    /// to be created, naming it. A class the host registers itself (with a factory, say) is registered before this
    /// call: one registered after is the one resolved, but the scoped registration made here stays beside it, and a
    /// provider that validates on build (<c>ValidateOnBuild</c>, the default in Development) checks that one's
    /// constructor too, and refuses to be built if it takes what only the host's registration supplies.
    /// The name is what the handler's checkpoint is saved under, so keep it stable
    /// across releases; a new name starts from the oldest event kept.
    /// </remarks>
    /// <typeparam name="THandler">The handler.</typeparam>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    /// <param name="name">
    /// The handler's checkpoint name; default the full name of <typeparamref name="THandler"/> (for a generic type,
    /// its <see cref="Type.ToString"/>, which names the type arguments without their assemblies' versions).
    /// </param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space, longer than <see cref="Storage.CheckpointNames.MaxLength"/> (as the default name may be, for a generic type), holds U+0000 or an unpaired surrogate (which no store keeps), or another handler is registered under it.</exception>
    public static ICommerceBuilder AddEventHandler<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this ICommerceBuilder builder, string? name = null)
        where THandler : class, ICommerceEventHandler
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (name is not null && string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("An event handler's name must not be empty or white space.", nameof(name));
        }

        var handlerName = name ?? DefaultName(typeof(THandler));
        if (handlerName.Length > Storage.CheckpointNames.MaxLength)
        {
            throw new ArgumentException(
                name is not null
                    ? $"An event handler's name has at most {Storage.CheckpointNames.MaxLength} characters (this one has {name.Length}): it names the handler's checkpoint, which no store keeps under a longer name."
                    : $"The default name of event handler {typeof(THandler).Name} (its type's full name) has {handlerName.Length} characters, more than the {Storage.CheckpointNames.MaxLength} " +
                      $"a checkpoint name may have. Pass a shorter name: AddEventHandler<{typeof(THandler).Name}>(\"a-name\").",
                nameof(name));
        }

        if (!Storage.CheckpointNames.IsKeepable(handlerName))
        {
            throw new ArgumentException("An event handler's name cannot hold U+0000 or an unpaired surrogate: it names the handler's checkpoint, which no store keeps under such a name.", nameof(name));
        }

        var existing = builder.Services
            .Select(d => d.IsKeyedService ? null : d.ImplementationInstance as EventHandlerRegistration)
            .FirstOrDefault(r => r is not null && string.Equals(r.Name, handlerName, StringComparison.Ordinal));
        if (existing is not null)
        {
            throw new ArgumentException(
                $"An event handler named '{handlerName}' is registered already ({existing.HandlerType.FullName}); each handler needs its own name, " +
                $"because it is the name of its checkpoint. Pass one: AddEventHandler<{typeof(THandler).Name}>(\"a-name\").",
                nameof(name));
        }

        builder.Services.AddSingleton(new EventHandlerRegistration(handlerName, typeof(THandler)));
        if (!typeof(THandler).IsAbstract)
        {
            // An interface or abstract class cannot be its own implementation (the service provider would refuse to
            // be built): the host registers it, before or after this call, and the dispatcher checks that it did.
            builder.Services.TryAddScoped<THandler>();
        }

        return builder;
    }

    /// <summary>
    /// The default checkpoint name of a handler type: its full name, which <see cref="Type.ToString"/> gives without
    /// the assembly-qualified type arguments of <see cref="Type.FullName"/> for a generic type, whose versions
    /// would change the name (and restart the handler from the oldest event kept) with the next release.
    /// </summary>
    private static string DefaultName(Type handler) =>
        handler.IsGenericType ? handler.ToString() : handler.FullName ?? handler.Name;

    /// <summary>
    /// Registers the event dispatcher, a hosted service that delivers every event to each handler registered
    /// with <see cref="AddEventHandler"/> (at least once, each stream's in commit order, a durable checkpoint
    /// per handler) and purges the events every handler has handled once they are older than
    /// <see cref="CommerceEventDispatcherOptions.EventRetention"/>. The store must keep events (register an
    /// <see cref="Storage.IEventStore"/>, as the in-memory and PostgreSQL stores do).
    /// </summary>
    /// <remarks>
    /// The dispatcher is an <see cref="IHostedService"/>: it runs where a host starts the hosted services (the
    /// generic host, ASP.NET Core); in a service provider built without a host nothing starts it, and no handler is
    /// called. Calling it again registers nothing more and applies further configuration to the same options. Run
    /// the dispatcher in one host instance of a deployment: two instances would each deliver every event.
    /// </remarks>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    /// <param name="configure">Sets options; validated at once.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The configured options are invalid; the message lists every problem.</exception>
    public static ICommerceBuilder AddEventDispatcher(this ICommerceBuilder builder, Action<CommerceEventDispatcherOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        // Configure a copy and validate it first, so that invalid options leave the collection unchanged.
        var registered = services.FirstOrDefault(d => d.ServiceType == typeof(CommerceEventDispatcherOptions) && !d.IsKeyedService)?.ImplementationInstance as CommerceEventDispatcherOptions;
        var candidate = registered?.Snapshot() ?? new CommerceEventDispatcherOptions();
        configure?.Invoke(candidate);
        var problems = candidate.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid event dispatcher options: " + string.Join(" ", problems), nameof(configure));
        }

        if (registered is null)
        {
            services.AddSingleton(candidate);
        }
        else
        {
            registered.CopyFrom(candidate);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, CommerceEventDispatcher>());

        // Resolved by the dispatcher from the root provider, which disposes it (and so the dispatcher) before the
        // singletons the handlers brought into being after the dispatcher was created.
        services.TryAddTransient<DispatcherDisposer>();
        return builder;
    }
}
