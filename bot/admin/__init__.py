"""The staff dashboard at ``/admin``: engagement, survey results, the request inbox and broadcasts.

Server-rendered pages (Jinja2 templates in ``templates/``, a stylesheet and a small script in
``static/``, nothing from elsewhere). :func:`bot.admin.routes.add_admin_routes` adds them to the
web chat's aiohttp application; :class:`bot.admin.site.AdminSite` is what every page works with;
signing in, sessions and CSRF are in :mod:`bot.admin.auth`, the numbers come from
:mod:`storage.dashboard` and the existing repositories, and staff actions reuse
:mod:`handlers.request_desk` and :class:`storage.broadcasts.BroadcastRepository`.
"""
