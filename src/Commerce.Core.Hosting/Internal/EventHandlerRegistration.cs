namespace Commerce.Events;

/// <summary>One handler registered with <c>AddEventHandler</c>: its checkpoint's name and the type resolved for it.</summary>
/// <param name="Name">The consumer name its checkpoint is saved under; unique among the registrations.</param>
/// <param name="HandlerType">The handler's type, resolved from a scope per delivery.</param>
internal sealed record EventHandlerRegistration(string Name, Type HandlerType);
