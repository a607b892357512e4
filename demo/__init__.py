"""Demo and benchmark data: the simulated history of `seed_demo` and the bulk rows of `load_bench_events`."""
