"""The ``examengine`` command (``api.cli.main``) and its subcommands: banks, exams and
papers, plans, accounts, the database, the demo data, and ``serve``.

A new command goes in a module here and is added to the group in ``api.cli.main``.
"""
