using System.Globalization;

namespace Gateway.Tests.Protocol;

/// <summary>
/// Counts by row (an input kind) and column (an outcome), written out as a fixed-width text table
/// with a total row, so that a campaign's test output shows what it exercised.
/// </summary>
internal sealed class OutcomeTable
{
    private readonly string _rowHeader;
    private readonly string[] _columns;
    private readonly List<string> _rows = [];
    private readonly Dictionary<(string Row, string Column), long> _counts = [];

    public OutcomeTable(string rowHeader, params string[] columns)
    {
        _rowHeader = rowHeader;
        _columns = columns;
    }

    public void Add(string row, string column)
    {
        if (Array.IndexOf(_columns, column) < 0)
        {
            throw new ArgumentException($"no column {column}", nameof(column));
        }

        if (!_rows.Contains(row))
        {
            _rows.Add(row);
        }

        _counts[(row, column)] = Get(row, column) + 1;
    }

    public long Get(string row, string column) => _counts.GetValueOrDefault((row, column));

    public long Total(string column) => _rows.Sum(row => Get(row, column));

    public void WriteTo(TextWriter writer)
    {
        int first = Math.Max(_rowHeader.Length, _rows.Append("total").Max(r => r.Length));
        int[] widths = _columns.Select(c => Math.Max(c.Length, Total(c).ToString("N0", CultureInfo.InvariantCulture).Length)).ToArray();

        void Line(string head, Func<int, string> cell) =>
            writer.WriteLine(head.PadRight(first) + string.Concat(widths.Select((w, i) => "  " + cell(i).PadLeft(w))));

        string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

        Line(_rowHeader, i => _columns[i]);
        foreach (string row in _rows)
        {
            Line(row, i => Number(Get(row, _columns[i])));
        }

        Line("total", i => Number(Total(_columns[i])));
    }
}
