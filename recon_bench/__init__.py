"""Benchmarks and the plan guard (issue 8 "scale and performance"), outside the product.

``sge-recon bench`` (bench.py), ``check-bench``, ``console-bench``, ``profile-bench``,
``replica-bench`` (cli/), the hot-query plan guard (plans.py, used by tests/test_plans.py), the
admin API/worker benchmark (platform_bench.py, scripts/bench_platform.py) and the local
primary+standby pair (local_pair.py). Their own SQL is in ``store/``. The product never imports
this package; it may use the product and the reference platform.
"""
