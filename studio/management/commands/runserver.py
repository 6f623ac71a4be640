"""`manage.py runserver`: daphne's (HTTP, WebSocket, Socket.IO), on 127.0.0.1:3000.

3000 is the port agentscope's examples use for studio_url; listening on loopback only keeps a
studio without logins off the network; given another address, it requires logins and tokens.
Pending migrations are applied first, so a fresh checkout starts with one command.
"""

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.conf import settings
from django.core.management import call_command

from studio.auth_mode import is_loopback


class Command(DaphneRunserver):
    default_port = "3000"
    default_addr = "127.0.0.1"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--no-migrate", action="store_false", dest="migrate", help="Do not apply migrations first.")

    def handle(self, *args, **options):
        if options.get("migrate", True):
            call_command("migrate", interactive=False, verbosity=0)
        super().handle(*args, **options)

    def inner_run(self, *args, **options):
        # Listening beyond loopback is serving a team: logins on (studio/auth_mode.py).
        if not is_loopback(self.addr):
            settings.STUDIO_AUTH = True
        super().inner_run(*args, **options)
