namespace Commerce;

/// <summary>Where an order stands.</summary>
public enum OrderStatus
{
    /// <summary>Placed and paid; its units count in the ranking.</summary>
    Placed = 0,

    /// <summary>Cancelled: refunded and restocked; its units no longer count in the ranking.</summary>
    Cancelled = 1,
}
