using System.Collections.Immutable;
using Commerce.Tests.Support;
using FsCheck.Xunit;

namespace Commerce.Tests.Carts;

[Properties(Replay = "20261206,1442695040888963407")]
public sealed class CartTests
{
    private const int MaxLine = 40;
    private static readonly UserId Owner = new(5);

    /// <summary>
    /// Random command sequences against a simple model: an ordered list of (product, quantity). After
    /// every command the cart and the model agree on success, error code and lines.
    /// </summary>
    [Property(Arbitrary = [typeof(Generators)])]
    public bool Cart_transitions_behave_like_an_ordered_dictionary_model(CartCommand[] commands)
    {
        var cart = Cart.Empty(Owner);
        var model = new List<(ProductId Product, int Quantity)>();
        foreach (var command in commands)
        {
            var at = model.FindIndex(l => l.Product == command.Product);
            Result<Cart> actual;
            CommerceErrorCode? expected;
            switch (command.Kind)
            {
                case CartCommandKind.Add:
                    actual = cart.AddItem(command.Product, command.Quantity, MaxLine);
                    var next = (at < 0 ? 0L : model[at].Quantity) + command.Quantity;
                    expected = command.Quantity <= 0 || next > MaxLine ? CommerceErrorCode.InvalidQuantity : null;
                    if (expected is null)
                    {
                        if (at < 0)
                        {
                            model.Add((command.Product, (int)next));
                        }
                        else
                        {
                            model[at] = (command.Product, (int)next);
                        }
                    }

                    break;
                case CartCommandKind.SetQuantity:
                    actual = cart.SetQuantity(command.Product, command.Quantity, MaxLine);
                    expected = command.Quantity <= 0 || command.Quantity > MaxLine ? CommerceErrorCode.InvalidQuantity
                        : at < 0 ? CommerceErrorCode.CartItemNotFound
                        : null;
                    if (expected is null)
                    {
                        model[at] = (command.Product, command.Quantity);
                    }

                    break;
                default:
                    actual = cart.RemoveItem(command.Product);
                    expected = at < 0 ? CommerceErrorCode.CartItemNotFound : null;
                    if (expected is null)
                    {
                        model.RemoveAt(at);
                    }

                    break;
            }

            if (expected is null != actual.IsSuccess || (expected is not null && actual.Error!.Code != expected))
            {
                return false;
            }

            if (actual.IsSuccess)
            {
                cart = actual.Value;
            }

            if (!cart.Lines.Select(l => (l.ProductId, l.Quantity)).SequenceEqual(model)
                || model.Any(l => cart.QuantityOf(l.Product) != l.Quantity))
            {
                return false;
            }
        }

        return cart.Clear() == Cart.Empty(Owner);
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Transitions_never_change_the_cart_they_start_from(ProductId product, int quantity)
    {
        var cart = Cart.Empty(Owner).AddItem(new ProductId(0), 1, MaxLine).Value;
        var copy = new Cart(Owner, cart.Lines);
        _ = cart.AddItem(product, quantity, MaxLine);
        _ = cart.SetQuantity(product, quantity, MaxLine);
        _ = cart.RemoveItem(product);
        return cart == copy;
    }

    [Fact]
    public void A_cart_rejects_rehydrated_lines_that_break_its_rules()
    {
        Assert.Throws<ArgumentException>(() => new Cart(Owner, [new CartLine(new ProductId(1), 0)]));
        Assert.Throws<ArgumentException>(() => new Cart(Owner, [new CartLine(new ProductId(1), 1), new CartLine(new ProductId(1), 2)]));
        Assert.Empty(new Cart(Owner, default(ImmutableArray<CartLine>)).Lines);
    }

    [Fact]
    public void Carts_with_the_same_lines_built_apart_are_equal_and_hash_alike_and_a_different_line_makes_them_differ()
    {
        var first = Cart.Empty(Owner).AddItem(new ProductId(1), 2, MaxLine).Value.AddItem(new ProductId(2), 1, MaxLine).Value;
        var second = Cart.Empty(Owner).AddItem(new ProductId(1), 1, MaxLine).Value.AddItem(new ProductId(2), 1, MaxLine).Value.AddItem(new ProductId(1), 1, MaxLine).Value;

        Assert.Equal(first, second);
        Assert.Equal(first.GetHashCode(), second.GetHashCode());
        Assert.Single(new HashSet<Cart> { first, second });
        Assert.NotEqual(first, second.AddItem(new ProductId(2), 1, MaxLine).Value);
        Assert.NotEqual(first, Cart.Empty(new UserId(6)).AddItem(new ProductId(1), 2, MaxLine).Value.AddItem(new ProductId(2), 1, MaxLine).Value);
        Assert.False(first.Equals(null));
    }

    [Fact]
    public void A_cart_prints_its_lines_not_the_type_of_their_array()
    {
        var cart = new Cart(Owner, [new CartLine(new ProductId(42), 3), new CartLine(new ProductId(7), 1)]);
        Assert.Equal("Cart { UserId = 5, Lines = [CartLine { ProductId = 42, Quantity = 3 }, CartLine { ProductId = 7, Quantity = 1 }] }", cart.ToString());
        Assert.Equal("Cart { UserId = 5, Lines = [] }", Cart.Empty(Owner).ToString());
    }
}
