using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Commerce.Tests.Support;

/// <summary>
/// Texts for the name rules: mostly letters, with white space, control characters at both ends of both
/// control ranges, characters just outside them, lone and paired surrogates and noncharacters mixed in;
/// short, or just below or past a length limit.
/// </summary>
public static class NameGenerators
{
    /// <summary>One character, or a surrogate pair (two).</summary>
    private static Gen<string> Piece { get; } = Gen.Frequency(
        (12, Gen.Choose('a', 'z').Select(c => ((char)c).ToString())),
        (2, Gen.Elements(" ", "\u00a0", "\u2028", "\u3000")),
        (2, Gen.Elements("\0", "\t", "\n", "\u001f", "\u007f", "\u0085", "\u009f")),
        (2, Gen.Elements("\u0020", "\u007e", "\u00a1", "é", "\ufeff", "\uffff")),
        (2, Gen.Elements("\ud83d", "\ude00", "\ud83d\ude00", "\udbff\udfff", "\ude00\ud83d")));

    /// <summary>A short text of any pieces, or letters up to about <paramref name="limit"/> characters followed by a piece or two.</summary>
    public static Gen<string> Text(int limit) =>
        Gen.Frequency(
            (3, Gen.Choose(0, 4).SelectMany(n => Piece.ArrayOf(n), (_, pieces) => string.Concat(pieces))),
            (2, Gen.Choose(Math.Max(0, limit - 3), limit + 1).SelectMany(
                _ => Gen.Choose(0, 2).SelectMany(n => Piece.ArrayOf(n)),
                (letters, pieces) => new string('a', letters) + string.Concat(pieces))));

    /// <summary>Whether the text holds a surrogate without its other half: exactly when UTF-8 cannot encode it.</summary>
    public static bool HasUnpairedSurrogate(string text)
    {
        try
        {
            _ = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetByteCount(text);
            return false;
        }
        catch (EncoderFallbackException)
        {
            return true;
        }
    }
}
