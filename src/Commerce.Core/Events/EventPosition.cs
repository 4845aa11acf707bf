namespace Commerce.Events;

/// <summary>
/// Where an event was committed: the stripe of its stream and its number there (from 1, without gaps, in
/// commit order). Every event of a store has its own position.
/// </summary>
/// <param name="Stripe">The stripe, from 0.</param>
/// <param name="Sequence">The event's number in the stripe, from 1.</param>
public readonly record struct EventPosition(int Stripe, long Sequence)
{
    /// <inheritdoc />
    public override string ToString() => $"{Stripe}:{Sequence}";
}
