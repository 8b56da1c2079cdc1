"""The HTTP API: Litestar controllers (one module per resource), sign-in and the role
guards, the health probes, and the one mapping of errors to problem+json.

A controller decodes the request, calls one use case in ``api.services`` inside one unit
of work (``api.store.db``), and encodes the reply; it holds no rule of its own.
"""
