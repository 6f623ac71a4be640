"""What an htmx request for a page gets: the whole page, or the one partial its template names.

A page's template says which of its partials answers an htmx request that targets an element of
the page: `{% htmx_partial run-list %}` (studio_tags) before `{% partialdef run-list inline %}`,
whose element has the id `run-list`. The view renders its page with `render_page` as it would
for any request, so it never names a `#partial`, and a request for a target the template does
not name gets the whole page, never a partial without the context it needs.
"""

from django.shortcuts import render
from django.template.loader import get_template

# Where the names declared by {% htmx_partial %} are kept on the parsed template, beside
# django-template-partials' own "partials".
_DECLARED = "htmx-partials"


def declare(parser, partial_name):
    """At parse time: an htmx request that targets #partial_name gets only that partial."""
    parser.extra_data.setdefault(_DECLARED, set()).add(partial_name)


def render_page(request, template_name, context):
    target = request.htmx.target if request.htmx else None
    if target and target in get_template(template_name).template.extra_data.get(_DECLARED, ()):
        template_name = f"{template_name}#{target}"
    return render(request, template_name, context)
