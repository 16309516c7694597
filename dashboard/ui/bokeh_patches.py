"""A targeted speed-up of Bokeh's PATCH-DOC serialization, installed once by the app
(``install()``).

Stock Bokeh 3.10 builds every PATCH-DOC message with
``Serializer(references=doc.models.synced_references)``: ``synced_references`` builds a set of every
model of the document that the browser already has, and ``Serializer.__init__`` turns it into a
dict ``{id(model): model.ref}``. That is O(models) per message per session -- about 300 models here,
for messages that usually change one data source (README, "Internals the app relies on").

This module caches the ``{id(model): model.ref}`` dict per document and gives each message a copy (a
C-level dict copy). The cache is dropped whenever the set of synced models can change:

* ``DocumentModelManager.recompute`` -- models were attached or detached (they become "new" and are
  sent in full by the next message, exactly as before);
* ``DocumentModelManager.flush_synced`` -- only when there were new models (the common case, nothing
  new, keeps the cache: stock Bokeh calls it after every message);
* ``DocumentModelManager.__setitem__`` and ``destroy``.

Behaviour is unchanged: the serializer starts from the same references it would have computed. The
fence: ``supported()`` checks the Bokeh minor version, the fingerprints of the functions replaced or
wrapped (``CHECKED``), and probes the instance attributes it reads on a throwaway ``Document``;
otherwise ``install()`` does nothing and Bokeh runs stock. A document that lacks them at run time
takes Bokeh's own path (``STOCK``), message by message. Imports Bokeh and ``ui.fence`` only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import Any

import bokeh
from bokeh.core.serialization import Serializer
from bokeh.document import Document
from bokeh.document.models import DocumentModelManager
from bokeh.models import Column, Div
from bokeh.protocol.messages.patch_doc import PatchJson, patch_doc

from .fence import changed

log = logging.getLogger(__name__)

VERSION = "3.10"  # the Bokeh minor version checked (pyproject pins bokeh>=3.10,<3.11)
MODELS, NEW = "_models", "_new_models"  # instance attributes of DocumentModelManager read here
_CACHE = "_dashboard_synced_refs"  # on DocumentModelManager: (generation, {id(model): model.ref})
_WRAPPED = ("recompute", "__setitem__", "destroy")

# Bokeh's own functions, kept before anything is replaced: the stock path and the tests' reference.
STOCK: dict[str, Any] = {"create": patch_doc.__dict__["create"],
                         "synced_references": DocumentModelManager.__dict__["synced_references"],
                         "flush_synced": DocumentModelManager.flush_synced,
                         **{name: getattr(DocumentModelManager, name) for name in _WRAPPED}}
# name -> (stock function, fingerprint of the code checked: bokeh 3.10.2)
CHECKED = {"patch_doc.create": (STOCK["create"].__func__, "4c62f0cb3504f1df"),
           "synced_references": (STOCK["synced_references"].fget, "527ebaf776b9e0e1"),
           "flush_synced": (STOCK["flush_synced"], "825c42c23d7d61e7"),
           "recompute": (STOCK["recompute"], "675615ddfb5afc82")}
_installed = False
_generation = 0  # bumped at every install: caches built before an uninstall are never reused


def supported() -> bool:
    """Whether this Bokeh is the one the patch was checked against, probed on real instances."""
    if bokeh.__version__.split(".")[:2] != VERSION.split("."):
        return False
    if not isinstance(STOCK["create"], classmethod) or not isinstance(
            STOCK["synced_references"], property):
        return False
    stale = changed(CHECKED)
    if stale:
        log.warning("bokeh %s: %s changed since checked", bokeh.__version__, ", ".join(stale))
        return False
    return _probe()


def _probe() -> bool:
    """A throwaway document: the attributes read exist, and the references computed from them are
    the ones stock Bokeh computes."""
    doc = Document()
    doc.add_root(Column(children=[Div(text="a")]))
    doc.models.flush_synced()
    doc.add_root(Div(text="new"))  # one synced model set, one new model
    try:
        refs = _compute(doc.models)
        serializer = Serializer(references=set())
        ok = isinstance(serializer._references, dict) and callable(serializer.has_ref)
    except (AttributeError, TypeError):
        return False
    stock = STOCK["synced_references"].fget(doc.models)
    return ok and refs == {id(m): m.ref for m in stock} and 0 < len(refs) < len(doc.models)


def _compute(models: DocumentModelManager) -> dict[int, Any]:
    new = getattr(models, NEW)
    return {id(m): m.ref for m in getattr(models, MODELS).values() if m not in new}


def synced_refs(models: DocumentModelManager) -> dict[int, Any]:
    """The cached ``{id(model): model.ref}`` of the models the browser already has (do not mutate).
    Raises AttributeError on a manager without the attributes read (the caller goes stock)."""
    cached = models.__dict__.get(_CACHE)
    if cached is None or cached[0] != _generation:
        cached = (_generation, _compute(models))
        models.__dict__[_CACHE] = cached
    return cached[1]


def _drop(models: DocumentModelManager) -> None:
    models.__dict__[_CACHE] = None


def _invalidating(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        _drop(self)
        try:
            return method(self, *args, **kwargs)
        finally:
            _drop(self)
    return wrapper


def _flush_synced(original):
    @functools.wraps(original)
    def flush_synced(self, is_still_new=None):
        # Nothing new, nothing can become synced: the cache stays valid (the common case). New
        # models, or a manager without the attribute read: drop it.
        if getattr(self, NEW, True):
            _drop(self)
        return original(self, is_still_new)
    return flush_synced


def _create(cls, events, **metadata):
    """``patch_doc.create`` with the cached references; otherwise Bokeh 3.10's code line for line
    (its fingerprint is in ``CHECKED``)."""
    header = cls.create_header()
    if not events:
        raise ValueError("PATCH-DOC message requires at least one event")
    docs = {event.document for event in events}
    if len(docs) != 1:
        raise ValueError("PATCH-DOC message configured with events for more than one document")
    [doc] = docs
    try:
        refs = synced_refs(doc.models)
    except AttributeError:  # not the internals checked: Bokeh's own way, for this message
        return STOCK["create"].__func__(cls, events, **metadata)
    serializer = Serializer()
    serializer._references = dict(refs)  # the serializer adds the new models it defines
    patch_json = PatchJson(events=serializer.encode(events))
    doc.models.flush_synced(lambda model: not serializer.has_ref(model))
    msg = cls(header, metadata, patch_json)
    msg.add_buffers(*serializer.buffers)
    return msg


def _synced_references(self) -> set:
    try:
        refs = synced_refs(self)
    except AttributeError:
        return STOCK["synced_references"].fget(self)
    return {m for m in getattr(self, MODELS).values() if id(m) in refs}


def install() -> bool:
    """Install the cache (idempotent). Returns True when active, False when Bokeh runs stock."""
    if _installed:
        return True
    if not supported():
        log.warning("bokeh %s: PATCH-DOC reference cache not installed (internals differ)",
                    bokeh.__version__)
        return False
    _apply()
    return True


def _apply() -> None:
    global _installed, _generation
    cls = DocumentModelManager
    for name in _WRAPPED:
        setattr(cls, name, _invalidating(STOCK[name]))
    cls.flush_synced = _flush_synced(STOCK["flush_synced"])
    cls.synced_references = property(_synced_references, doc=STOCK["synced_references"].__doc__)
    patch_doc.create = classmethod(_create)
    _generation += 1
    _installed = True


def uninstall() -> None:
    """Put Bokeh's own functions back (tests, benchmarks); ``install()`` may be called again."""
    global _installed
    cls = DocumentModelManager
    for name in (*_WRAPPED, "flush_synced"):
        setattr(cls, name, STOCK[name])
    cls.synced_references = STOCK["synced_references"]
    patch_doc.create = STOCK["create"]
    _installed = False


@contextlib.contextmanager
def stock() -> Iterator[None]:
    """Bokeh exactly as shipped inside the block (the tests' reference), the patch again after
    (as it was: no second check)."""
    was = _installed
    uninstall()
    try:
        yield
    finally:
        if was:
            _apply()


def installed() -> bool:
    return _installed
