"""Load tests of exam peaks: locust scenarios that speak HTTP only, a one-command runner
with a report (``python -m loadtests.run``) and the ledger check (loadtests/README.md)."""
