"""No secret in a log line (studio/redact.py): the filter on the one handler blots them out."""

import logging

import pytest

from projects.models import TOKEN_PREFIX
from studio import redact
from studio.redact import BLOT, RedactSecrets

TOKEN = "sst_" + "k" * 43


def test_its_token_prefix_is_the_models():
    assert redact.TOKEN_PREFIX == TOKEN_PREFIX


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (f"Not Found: /runs/{TOKEN}/", "Not Found: /runs/"),
        ("{'Cookie': 'sessionid=abc123; csrftoken=def456'}", "{'Cookie': '"),
        ("Authorization: Basic c3N0X2FiY2RlZg==", "Authorization: "),
        ("'HTTP_COOKIE': 'sessionid=abc123'", "'HTTP_COOKIE': '"),
        ("POST /login/?password=hunter2&next=/", "&next=/"),
        (f"studio_url=http://{TOKEN}@127.0.0.1:3000", "@127.0.0.1:3000"),
        ("http://user:hunter2@example.com/x", "@example.com/x"),
    ],
)
def test_each_kind_of_secret_is_blotted_out_and_the_rest_of_the_line_kept(line, kept):
    cleaned = redact.redact(line)
    assert BLOT in cleaned and kept in cleaned
    for secret in (TOKEN, "abc123", "def456", "c3N0X2FiY2RlZg", "hunter2"):
        assert secret not in cleaned


def test_a_record_its_arguments_and_its_traceback_are_all_redacted():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s in %r", (TOKEN, {"cookie": "x"}), None)
    try:
        raise ValueError(f"bad header Authorization: Bearer {TOKEN}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactSecrets().filter(record)
    text = logging.Formatter().format(record)
    assert TOKEN not in text and "Traceback" in text and "ValueError: bad header Authorization: " + BLOT in text
