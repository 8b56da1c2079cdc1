"""examengine: the rules of exams and study, and their hot paths.

No web framework, no ORM; the environment and the clock are never read here: time and
randomness are passed in.
"""
