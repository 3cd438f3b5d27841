using System.Globalization;
using Microsoft.Extensions.Primitives;

namespace Gateway.Http;

/// <summary>Parsing of the query parameters the endpoints share, with error texts that say what is accepted.</summary>
internal static class QueryParameters
{
    /// <summary>A seq: an integer of 0 or more. Absent gives null.</summary>
    public static bool TryParseSeq(StringValues values, string name, out long? seq, out string? error)
    {
        seq = null;
        error = null;
        if (StringValues.IsNullOrEmpty(values))
        {
            return true;
        }

        if (values.Count == 1 && long.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out long parsed))
        {
            seq = parsed;
            return true;
        }

        error = $"query parameter '{name}' must be a seq: an integer of 0 or more";
        return false;
    }

    /// <summary>An integer between <paramref name="min"/> and <paramref name="max"/>; absent gives <paramref name="fallback"/>.</summary>
    public static bool TryParseInt(StringValues values, string name, int min, int max, int fallback, out int value, out string? error)
    {
        value = fallback;
        error = null;
        if (StringValues.IsNullOrEmpty(values))
        {
            return true;
        }

        if (values.Count == 1 && int.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
        {
            return true;
        }

        error = $"query parameter '{name}' must be an integer from {min} to {max}";
        return false;
    }
}
