"""The fence around the two patches of third-party internals (``bokeh_patches``, ``ws_batch``).

A patch that copies or replaces a library function is right only for the code it was checked
against. ``fingerprint`` names that code by its syntax tree (docstrings, comments and formatting
left out), so an upgrade that changes a replaced function switches the patch off (the library runs
stock) instead of leaving a stale copy running. Imports nothing from ``dashboard``.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import logging
import textwrap
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


def fingerprint(func: Callable) -> str:
    """16 hex digits naming ``func``'s code (its body's syntax tree, without the docstring);
    "" when the source cannot be read (then nothing can be checked)."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return ""
    node = ast.parse(source).body[0]
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    tree = ast.dump(ast.Module(body=body, type_ignores=[]))
    return hashlib.sha256(tree.encode()).hexdigest()[:16]


def changed(checked: Mapping[str, tuple[Callable, str]]) -> list[str]:
    """The names in ``checked`` (name -> (function, fingerprint checked)) whose code differs now."""
    return [name for name, (func, expected) in checked.items() if fingerprint(func) != expected]
