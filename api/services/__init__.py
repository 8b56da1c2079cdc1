"""Use cases of the API and the CLI: one unit of work each, rules from the core."""
