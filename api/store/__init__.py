"""Persistence: the engine and sessions (``db``), the table rows (``tables``), the Alembic
migrations, and the Redis adapter of the core's challenge-scheduler contract.
"""
