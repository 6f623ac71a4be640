"""Reading the HTML a page sends: which tags and attributes it holds."""

from html.parser import HTMLParser


class TagCollector(HTMLParser):
    """Every start tag fed to it, as (tag, {attribute: value}), for checking that none is live."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
