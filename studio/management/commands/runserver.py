"""`manage.py runserver`: daphne's (HTTP, WebSocket, Socket.IO), on 127.0.0.1:3000.

3000 is the port agentscope's examples use for studio_url; listening on loopback only keeps a
studio without authentication off the network unless an address is given on purpose.
Pending migrations are applied first, so a fresh checkout starts with one command.
"""

from daphne.management.commands.runserver import Command as DaphneRunserver
from django.core.management import call_command


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
