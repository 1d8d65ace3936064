"""Scripts a maintainer runs: the benchmarks and mutation testing."""
