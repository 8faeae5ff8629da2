"""Use cases of the managers' area.

- ``due``: which facilities are due an inspection; ``inspections``: recording one;
- ``tasks``: work orders; ``archive``: a facility's archive and its PDF;
- ``visits``: the facilities of a day's visit route; ``calendar``: days of remembrance and the orders they prepare.
"""
