using System.Xml.Linq;

namespace Commerce.Tests.Support;

/// <summary>
/// The XML documentation of Commerce.Core, as its package ships it next to the assembly: what a host developer reads
/// in the editor, which tests hold against what the code does.
/// </summary>
internal static class XmlDocumentation
{
    private static readonly Lazy<XDocument> Document = new(() =>
        XDocument.Load(Path.ChangeExtension(typeof(CommerceOptions).Assembly.Location, ".xml")));

    /// <summary>The documentation of one member, by its documentation id (<c>P:Commerce.CommerceError.ProductIds</c>).</summary>
    /// <param name="id">The member's documentation id.</param>
    /// <returns>The member's element.</returns>
    public static XElement Member(string id) =>
        Document.Value.Descendants("member").Single(m => (string?)m.Attribute("name") == id);

    /// <summary>The types of the exceptions a member documents, by documentation id (<c>T:System.ArgumentException</c>).</summary>
    /// <param name="id">The member's documentation id.</param>
    /// <returns>The exception types' ids.</returns>
    public static IEnumerable<string> Exceptions(string id) =>
        Member(id).Elements("exception").Select(e => (string)e.Attribute("cref")!);
}
