// The load generator and the BenchmarkDotNet suite are not written yet; this project builds so
// that the solution layout is complete. See docs/benchmarks.md.
Console.Error.WriteLine("Gateway.Bench has no benchmarks yet; see docs/benchmarks.md.");
return 1;
