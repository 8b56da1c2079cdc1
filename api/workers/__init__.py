"""What runs on a timer or a subscription rather than for a request: the sweeper that
closes attempts whose time is up, the study ticker that drives the challenge schedulers,
and the study relay that carries requests to the worker holding a study session.
"""
