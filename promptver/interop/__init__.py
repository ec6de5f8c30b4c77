"""Interop with the prompt formats teams already use (docs/interop.md).

``import-prompt`` reads Microsoft Prompty (``.prompty``) and Google Dotprompt (``.prompt``)
files into a bundle; ``export --format`` writes a stored version back out as Prompty,
Dotprompt or a promptfoo config. One module per format, plus the two template
translators: ``handlebars`` (Handlebars/Mustache -> Jinja2, for imports) and
``jinja_subset`` (the portable subset of Jinja2 -> Handlebars or Nunjucks, for exports).

This package sits beside ``promptver.app``: it reads versions and bundles, and nothing
below it imports it. YAML (PyYAML) is imported here only, inside functions.
"""
