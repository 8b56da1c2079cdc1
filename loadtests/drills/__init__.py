"""Fault drills: an exam peak, a fault in the middle of it, the ledger check at the end
(loadtests/drills/README.md)."""
