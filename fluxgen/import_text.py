"""The text of an imported fluxgen.yaml: a commented layout (jinja2) whose sections are dumped
YAML (never typed by the template)."""

import re

from fluxgen.output import dump_compact

TEMPLATE = """\
# fluxgen.yaml, imported by `kubectl fluxgen import{{ args }}`
# from {{ origin }}: {{ summary }}.
# Render it with `kubectl fluxgen render{{ " --cluster NAME" if clusters }}`{{ \
", or write every cluster with `kubectl fluxgen render --output-dir DIR`" if clusters }}.
{% if notes %}# import reported {{ notes }} thing(s) it could not write as they were (on its standard error).
{% endif %}
{%- if sources %}
# The sources, each declared once (existing: made elsewhere, e.g. by flux bootstrap).
{{ sources }}
{%- endif %}
# What the apps share; an app's own settings win.
{{ defaults }}
# One app per HelmRelease and Kustomization{{ "; layer: the Kustomization that applies it" if layers }}.
{{ apps }}
{%- if clusters %}
# What differs on each cluster (false: not there), merged over the apps above.
{{ clusters }}
{%- endif %}
"""


def spec_text(doc: dict, args: str, origin: str, summary: str, notes: int) -> str:
    """The commented fluxgen.yaml of the spec `doc`."""
    import jinja2  # only import needs it

    sections = {name: _spaced(dump_compact({name: doc[name]})) if name in doc else "" for name in
                ("sources", "defaults", "apps", "clusters")}
    template = jinja2.Environment(keep_trailing_newline=True, autoescape=False).from_string(TEMPLATE)
    return template.render(args=args, origin=origin, summary=summary, notes=notes,
                           layers=any("layer" in app for app in doc["apps"]), **sections)


def _spaced(text: str) -> str:
    """A blank line between the items of a top-level list, and between clusters, for reading."""
    text = re.sub(r"(?<!:)\n(- )", r"\n\n\1", text)
    return re.sub(r"\n(  [^ \n#-][^\n]*:\n)", r"\n\n\1", text) if text.startswith("clusters:") else text
