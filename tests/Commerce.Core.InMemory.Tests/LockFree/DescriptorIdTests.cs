using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// The ids that name descriptors in word cells (see <see cref="DescriptorIds"/>): a word cell holds a marker
/// only while some thread holds its descriptor (late installs clean up after themselves), so that the
/// registry holds a released descriptor only weakly, and an id is given out again only once no thread
/// that could have read its marker is inside a critical section.
/// </summary>
[Collection(EpochCollection.Name)]
public sealed class DescriptorIdTests
{
    [Fact]
    public void A_late_install_after_the_decision_is_taken_out_by_its_installer()
    {
        // A commit that fails at its first word cell, never reaching the second...
        var (first, second) = (new WordCell(1), new WordCell(4));
        var failed = CommitDescriptor.Create([], [new WordUpdate(first, 0, 1), new WordUpdate(second, 4, 6)]);
        Assert.False(MultiWordCas.Commit(failed));

        // ...whose install CAS a helper that saw it undecided (and the cell holding 4) makes after the decision.
        Assert.True(MultiWordCas.PlaceMarkerForTests(failed, 1, 4));

        // The helper's second look found the commit decided and put back the cell's logical value.
        Assert.Equal(4, Volatile.Read(ref second.Word));
    }

    [Fact]
    public void A_late_install_of_a_succeeded_commit_puts_back_what_it_wrote()
    {
        // A succeeded commit that only read its second cell (the one case a late install can succeed in).
        var (first, second) = (new WordCell(1), new WordCell(4));
        var succeeded = CommitDescriptor.Create([], [new WordUpdate(first, 1, 2), new WordUpdate(second, 4, 4)]);
        Assert.True(MultiWordCas.Commit(succeeded));

        Assert.True(MultiWordCas.PlaceMarkerForTests(succeeded, 1, 4));

        Assert.Equal(4, Volatile.Read(ref second.Word));
        Assert.Equal(2, Volatile.Read(ref first.Word));
    }
}
