namespace Commerce;

/// <summary>
/// A use case as telemetry names it: the operation (as the services and the logs name it), its
/// lower-case name for the <c>commerce.operation</c> tag, and its span's name. One instance per use case,
/// so that a tag never allocates.
/// </summary>
internal sealed class UseCase
{
    private UseCase(string operation, string name)
    {
        Operation = operation;
        Name = name;
        SpanName = "commerce." + name;
        Tag = new(CommerceTelemetry.OperationTag, name);
    }

    public string Operation { get; }

    public string Name { get; }

    public string SpanName { get; }

    /// <summary>The <c>commerce.operation</c> tag, boxed once.</summary>
    public KeyValuePair<string, object?> Tag { get; }

    public static readonly UseCase Charge = new("Charge", "charge");
    public static readonly UseCase GetBalance = new("GetBalance", "get_balance");
    public static readonly UseCase GetLedger = new("GetLedger", "get_ledger");
    public static readonly UseCase AddProduct = new("AddProduct", "add_product");
    public static readonly UseCase Restock = new("Restock", "restock");
    public static readonly UseCase GetProduct = new("GetProduct", "get_product");
    public static readonly UseCase ListProducts = new("ListProducts", "list_products");
    public static readonly UseCase PlaceOrder = new("PlaceOrder", "place_order");
    public static readonly UseCase GetOrder = new("GetOrder", "get_order");
    public static readonly UseCase CancelOrder = new("CancelOrder", "cancel_order");
    public static readonly UseCase ListOrders = new("ListOrders", "list_orders");
    public static readonly UseCase GetPopularProducts = new("GetPopularProducts", "get_popular_products");
    public static readonly UseCase AddCartItem = new("AddCartItem", "add_cart_item");
    public static readonly UseCase RemoveCartItem = new("RemoveCartItem", "remove_cart_item");
    public static readonly UseCase GetCart = new("GetCart", "get_cart");
    public static readonly UseCase Checkout = new("Checkout", "checkout");

    /// <summary>Every use case, in the order of the services.</summary>
    public static IReadOnlyList<UseCase> All { get; } =
    [
        Charge, GetBalance, GetLedger, AddProduct, Restock, GetProduct, ListProducts, PlaceOrder, GetOrder,
        CancelOrder, ListOrders, GetPopularProducts, AddCartItem, RemoveCartItem, GetCart, Checkout,
    ];

    /// <summary>The use case of an operation name that the services pass to the runtime.</summary>
    public static UseCase Of(string operation) => operation switch
    {
        "Charge" => Charge,
        "GetBalance" => GetBalance,
        "GetLedger" => GetLedger,
        "AddProduct" => AddProduct,
        "Restock" => Restock,
        "GetProduct" => GetProduct,
        "ListProducts" => ListProducts,
        "PlaceOrder" => PlaceOrder,
        "GetOrder" => GetOrder,
        "CancelOrder" => CancelOrder,
        "ListOrders" => ListOrders,
        "GetPopularProducts" => GetPopularProducts,
        "AddCartItem" => AddCartItem,
        "RemoveCartItem" => RemoveCartItem,
        "GetCart" => GetCart,
        "Checkout" => Checkout,
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "Not a use case."),
    };
}
