"""CooPy benchmarks: the same seeded workloads through CooPy and the tools people use instead."""
