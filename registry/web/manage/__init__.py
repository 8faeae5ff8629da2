"""The managers' area (``/manage``): site managers' field work and their counties' records.

- ``blueprint``: blueprint ``manage``, the roles that read and write, and what its pages share;
- ``pages``: my facilities, the maintenance map, work orders, moderation, archive, ledgers;
- ``field``: the inspection form and an inspection's page (routes on the ``manage`` blueprint);
- ``visits``: the day's visit route (on the ``manage`` blueprint);
- ``offline``: blueprint ``offline``, the service worker, manifest, queue page and sync endpoint;
- ``calendar``: blueprint ``calendar``, facility days, prepared orders and the iCalendar feeds.

Importing the area registers every route on the ``manage`` blueprint (``pages.bp`` is the app's handle on it).
"""

from registry.web.manage import field, pages, visits  # noqa: F401 - their routes join the blueprint
