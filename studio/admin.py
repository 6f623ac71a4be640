"""The Django admin's site: in team mode only superusers get in (`projects.access.may_use_admin`).

Staff who are not superusers keep the admin on a local Studio, as before; in team mode project
admins manage their members and tokens on the project's settings page instead, where each
change is checked against their role in that one project. The admin has no such per-project
check, so there it is all or nothing.
"""

from django.contrib import admin

from projects import access


class StudioAdminSite(admin.AdminSite):
    site_header = site_title = "Studio admin"

    def has_permission(self, request):
        return access.may_use_admin(request.user, access.login_required(request))
