namespace Commerce;

/// <summary>What moved money in or out of a wallet.</summary>
public enum LedgerEntryKind
{
    /// <summary>A charge (money added by <see cref="IWalletService.ChargeAsync(UserId, Money, CancellationToken)"/>).</summary>
    Charge = 0,

    /// <summary>The payment of an order.</summary>
    Payment = 1,

    /// <summary>The refund of a cancelled order.</summary>
    Refund = 2,
}

/// <summary>
/// One entry of a wallet's ledger, written in the same commit as the balance change it records.
/// A wallet's entries are numbered 1, 2, 3, … without gaps, and for every wallet the balance is the sum
/// of its charges and refunds minus its payments; <see cref="BalanceAfter"/> of the last entry is the balance.
/// </summary>
/// <param name="Sequence">The entry's number in the wallet's ledger, from 1.</param>
/// <param name="UserId">The wallet's owner.</param>
/// <param name="Kind">What moved the money.</param>
/// <param name="Amount">
/// How much moved: positive for every kind, except the payment of a free order (a total of zero), which is
/// recorded with a zero amount so that every order a user placed has its payment entry.
/// </param>
/// <param name="BalanceAfter">The balance right after the entry.</param>
/// <param name="OrderId">The order paid or refunded; <see langword="null"/> for a charge.</param>
/// <param name="At">When, from the host's <see cref="TimeProvider"/>.</param>
/// <remarks>
/// A wallet's ledger keeps every entry for as long as the store keeps the wallet, so an entry is held in 80 bytes
/// where its properties as declared would take 96: the numbers as plain words, the order's id with a flag rather than
/// as a nullable (whose flag would take a word of its own), and the time as its UTC ticks and its offset in minutes.
/// The properties, the equality (two times are equal if they are the same instant, as
/// <see cref="DateTimeOffset.Equals(DateTimeOffset)"/> has it) and the text are those of the record as declared.
/// </remarks>
public sealed record LedgerEntry(long Sequence, UserId UserId, LedgerEntryKind Kind, Money Amount, Money BalanceAfter, OrderId? OrderId, DateTimeOffset At)
{
    private readonly long _user = UserId.Value;
    private readonly long _amount = Amount.Amount;
    private readonly long _balanceAfter = BalanceAfter.Amount;
    private readonly long _utcTicks = At.UtcTicks;
    private readonly Guid _order = OrderId.GetValueOrDefault().Value;
    private readonly short _offsetMinutes = OffsetMinutesOf(At);
    private readonly bool _hasOrder = OrderId.HasValue;

    // Every property is declared here, in the order of the record's parameters: the order its text lists them in.

    /// <summary>The entry's number in the wallet's ledger, from 1.</summary>
    public long Sequence { get; init; } = Sequence;

    /// <summary>The wallet's owner.</summary>
    public UserId UserId
    {
        get => new(_user);
        init => _user = value.Value;
    }

    /// <summary>What moved the money.</summary>
    public LedgerEntryKind Kind { get; init; } = Kind;

    /// <summary>How much moved (see the record's parameters).</summary>
    public Money Amount
    {
        get => new(_amount);
        init => _amount = value.Amount;
    }

    /// <summary>The balance right after the entry.</summary>
    public Money BalanceAfter
    {
        get => new(_balanceAfter);
        init => _balanceAfter = value.Amount;
    }

    /// <summary>The order paid or refunded; <see langword="null"/> for a charge.</summary>
    public OrderId? OrderId
    {
        get => _hasOrder ? new OrderId(_order) : null;
        init => (_order, _hasOrder) = (value.GetValueOrDefault().Value, value.HasValue);
    }

    /// <summary>When, from the host's <see cref="TimeProvider"/>, with the offset it was given with.</summary>
    public DateTimeOffset At
    {
        get => new DateTimeOffset(_utcTicks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(_offsetMinutes));
        init => (_utcTicks, _offsetMinutes) = (value.UtcTicks, OffsetMinutesOf(value));
    }

    /// <inheritdoc/>
    public bool Equals(LedgerEntry? other) =>
        ReferenceEquals(this, other)
        || (other is not null
            && Sequence == other.Sequence
            && _user == other._user
            && Kind == other.Kind
            && _amount == other._amount
            && _balanceAfter == other._balanceAfter
            && _hasOrder == other._hasOrder
            && _order == other._order
            && _utcTicks == other._utcTicks);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Sequence, _user, Kind, _amount, _balanceAfter, _order, _utcTicks);

    // An offset is whole minutes within ±14 hours (DateTimeOffset refuses any other).
    private static short OffsetMinutesOf(DateTimeOffset at) => (short)(at.Offset.Ticks / TimeSpan.TicksPerMinute);
}
