"""api: the Litestar shell around examengine: settings, persistence, HTTP, the CLI."""
