using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

public sealed class CellTests
{
    [Fact]
    public void A_new_cell_holds_its_initial_state()
    {
        var state = new Counter(1);
        var cell = new Cell(state);
        Assert.Same(state, MultiWordCas.Read(cell));
    }

    [Fact]
    public void Cells_get_strictly_increasing_distinct_orders()
    {
        var cells = Enumerable.Range(0, 100).Select(_ => new Cell(Absent.Value)).ToArray();
        for (var i = 1; i < cells.Length; i++)
        {
            Assert.True(cells[i].Order > cells[i - 1].Order);
        }
    }

    [Fact]
    public void Cells_created_concurrently_never_share_an_order()
    {
        const int PerThread = 2000;
        var orders = new long[4][];
        using var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            orders[t] = Enumerable.Range(0, PerThread).Select(_ => new Cell(Absent.Value).Order).ToArray();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(4 * PerThread, orders.SelectMany(o => o).Distinct().Count());
    }

    [Fact]
    public void Absent_is_one_shared_marker()
    {
        Assert.Same(Absent.Value, Absent.Value);
        Assert.Equal("(absent)", Absent.Value.ToString());
    }
}
