"""The managers' area (``/manage``): site managers' field work and their counties' records.

- ``pages``: blueprint ``manage``, my facilities, the maintenance map, work orders, moderation, archive, ledgers;
- ``field``: the inspection form and an inspection's page (routes on the ``manage`` blueprint);
- ``visits``: the day's visit route (on the ``manage`` blueprint);
- ``offline``: blueprint ``offline``, the service worker, manifest, queue page and sync endpoint;
- ``calendar``: blueprint ``calendar``, facility days, prepared orders and the iCalendar feeds.
"""
