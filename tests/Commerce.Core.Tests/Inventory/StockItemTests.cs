using Commerce.Tests.Support;
using FsCheck.Xunit;

namespace Commerce.Tests.Inventory;

[Properties(Replay = "20261206,1442695040888963407")]
public sealed class StockItemTests
{
    private static readonly ProductId Item = new(8);

    private static StockItem Stock(int any) => new(Item, any & int.MaxValue);

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Deduct_removes_a_positive_quantity_up_to_what_is_on_hand_and_never_goes_negative(int onHand, int quantity)
    {
        var stock = Stock(onHand);
        var result = stock.Deduct(quantity);

        if (quantity <= 0)
        {
            return result.Error?.Code == CommerceErrorCode.InvalidQuantity;
        }

        return quantity > stock.OnHand
            ? result.Error?.Code == CommerceErrorCode.InsufficientStock && result.Error.ProductIds.SequenceEqual([Item])
            : result.IsSuccess && result.Value.OnHand == stock.OnHand - quantity && result.Value.OnHand >= 0;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Restock_adds_a_positive_quantity_and_refuses_to_pass_int_MaxValue(int onHand, int quantity)
    {
        var stock = Stock(onHand);
        var result = stock.Restock(quantity);

        if (quantity <= 0)
        {
            return result.Error?.Code == CommerceErrorCode.InvalidQuantity;
        }

        var exact = (long)stock.OnHand + quantity;
        return exact > int.MaxValue
            ? result.Error?.Code == CommerceErrorCode.InvalidQuantity
            : result.IsSuccess && result.Value.OnHand == exact;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool A_restock_refusal_read_from_the_numbers_is_the_refusal_of_Restock(int onHand, int quantity)
    {
        // An order's cancel checks its restocks on the quantities it read, with no stock item: by the same rule.
        var stock = Stock(onHand);
        var result = stock.Restock(quantity);
        var refusal = StockItem.RestockRefusal(Item, stock.OnHand, quantity);
        return result.IsSuccess ? refusal is null : refusal == result.Error;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Restock_then_deduct_of_the_same_quantity_restores_the_stock(int onHand, int quantity)
    {
        var stock = Stock(onHand);
        var restocked = stock.Restock(quantity);
        return !restocked.IsSuccess || restocked.Value.Deduct(quantity).Value == stock;
    }

    [Fact]
    public void Negative_stock_cannot_be_rehydrated() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new StockItem(Item, -1));
}
