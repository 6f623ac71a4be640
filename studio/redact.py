"""Secrets never reach a log line: a logging filter that blots them out of every record.

What it blots: project tokens (`sst_…`), the values of session and CSRF cookies, and the values
of Authorization, Cookie and Set-Cookie headers and of password fields, wherever they appear in
a record's message, its arguments or its traceback (a URL with a token in it, a header printed
by an exception, a request's repr). Django's own error reports hide POST data of the views that
say so (`sensitive_post_parameters`: the login and token views); this covers everything else.
"""

import logging
import re

# projects.models.TOKEN_PREFIX (tests/test_redact.py checks): logging is set up before the
# models can be imported.
TOKEN_PREFIX = "sst_"
BLOT = "[redacted]"

_PATTERNS = [
    re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]{8,}"),
    # header: value, up to the end of the line or a quote (a repr of a dict of headers)
    re.compile(
        r"(?i)(\b(?:authorization|proxy-authorization|cookie|set-cookie|x-csrftoken)\b['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+"
    ),
    re.compile(r"(?i)(\b(?:HTTP_AUTHORIZATION|HTTP_COOKIE|HTTP_X_CSRFTOKEN)\b['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+"),
    # cookie=value and password=value pairs (a query string, a form body, a cookie header)
    re.compile(
        r"(?i)(\b(?:sessionid|csrftoken|csrfmiddlewaretoken|password\d?|secret)\b['\"]?\s*[:=]\s*['\"]?)[^&;,'\"\s]+"
    ),
    # the user name and password of a URL: http://user:password@host, http://sst_…@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://)[^/@\s'\"]+@"),
]


def redact(text):
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + BLOT + ("@" if m.group(0).endswith("@") else ""), text)
        else:
            text = pattern.sub(BLOT, text)
    return text


class RedactSecrets(logging.Filter):
    """On a handler: rewrites each record it is given into its redacted text (message, traceback
    and stack), so no formatter after it can print a secret."""

    _formatter = logging.Formatter()

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself, later
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
