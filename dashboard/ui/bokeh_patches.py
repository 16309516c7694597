"""A targeted speed-up of Bokeh's PATCH-DOC serialization, installed once by the app (``install()``).

Stock Bokeh 3.x builds every PATCH-DOC message with
``Serializer(references=doc.models.synced_references)``: ``synced_references`` builds a set of every model of
the document that the browser already has, and ``Serializer.__init__`` turns it into a dict ``{id(model):
model.ref}``. That is O(models) per message per session -- about 300 models here, for messages that usually
change one data source -- and it was ~35% of the server's time under load (py-spy,
benchmarks/dashboard_load.py).

This module caches the ``{id(model): model.ref}`` dict per document and gives each message a copy (a C-level
dict copy). The cache is dropped whenever the set of synced models can change:

* ``DocumentModelManager.recompute`` -- models were attached or detached (they become "new" and are sent in
  full by the next message, exactly as before);
* ``DocumentModelManager.flush_synced`` -- only when there were new models (the common case, nothing new, keeps
  the cache: stock Bokeh calls it after every message);
* ``DocumentModelManager.__setitem__`` and ``destroy``.

Behaviour is unchanged: the serializer starts from the same references it would have computed. If Bokeh's
internals differ from what this expects (another major version, renamed attributes), ``install()`` does nothing
and returns False, and Bokeh runs stock.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import bokeh
from bokeh.core.serialization import Serializer
from bokeh.document.models import DocumentModelManager
from bokeh.protocol.messages.patch_doc import PatchJson, patch_doc

log = logging.getLogger(__name__)

_CACHE = "_dashboard_synced_refs"  # attribute on DocumentModelManager: {id(model): model.ref} or None
_installed = False


def supported() -> bool:
    """Whether this Bokeh has the internals the patch relies on (checked, not assumed from the version)."""
    if not bokeh.__version__.startswith("3."):
        return False
    needed = (hasattr(DocumentModelManager, name) for name in
              ("synced_references", "flush_synced", "recompute", "__setitem__", "destroy"))
    if not all(needed) or not isinstance(DocumentModelManager.__dict__.get("synced_references"), property):
        return False
    probe = Serializer(references=set())
    return (isinstance(getattr(probe, "_references", None), dict) and hasattr(probe, "has_ref")
            and hasattr(probe, "buffers") and isinstance(patch_doc.__dict__.get("create"), classmethod))


def synced_refs(models: DocumentModelManager) -> dict[int, Any]:
    """The cached ``{id(model): model.ref}`` of the models the browser already has (do not mutate)."""
    refs = models.__dict__.get(_CACHE)
    if refs is None:
        new = models._new_models
        refs = {id(m): m.ref for m in models._models.values() if m not in new}
        setattr(models, _CACHE, refs)
    return refs


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
    wrapper.__wrapped_by_dashboard__ = True
    return wrapper


def _flush_synced(original):
    @functools.wraps(original)
    def flush_synced(self, is_still_new=None):
        if not self._new_models:  # nothing was new, nothing can become synced: the cache stays valid
            return original(self, is_still_new)
        _drop(self)
        return original(self, is_still_new)
    flush_synced.__wrapped_by_dashboard__ = True
    return flush_synced


def _create(cls, events, **metadata):
    """``patch_doc.create`` with the cached references; otherwise Bokeh 3.x's code line for line."""
    header = cls.create_header()
    if not events:
        raise ValueError("PATCH-DOC message requires at least one event")
    docs = {event.document for event in events}
    if len(docs) != 1:
        raise ValueError("PATCH-DOC message configured with events for more than one document")
    [doc] = docs
    serializer = Serializer()
    serializer._references = dict(synced_refs(doc.models))  # the serializer adds the new models it defines
    patch_json = PatchJson(events=serializer.encode(events))
    doc.models.flush_synced(lambda model: not serializer.has_ref(model))
    msg = cls(header, metadata, patch_json)
    msg.add_buffers(*serializer.buffers)
    return msg


def _synced_references(self) -> set:
    refs = synced_refs(self)
    return {m for m in self._models.values() if id(m) in refs}


def install() -> bool:
    """Install the cache (idempotent). Returns True when active, False when Bokeh runs stock."""
    global _installed
    if _installed:
        return True
    if not supported():
        log.warning("bokeh %s: PATCH-DOC reference cache not installed (internals differ)", bokeh.__version__)
        return False
    cls = DocumentModelManager
    for name in ("recompute", "__setitem__", "destroy"):
        setattr(cls, name, _invalidating(getattr(cls, name)))
    cls.flush_synced = _flush_synced(cls.flush_synced)
    cls.synced_references = property(_synced_references, doc=cls.synced_references.__doc__)
    patch_doc.create = classmethod(_create)
    _installed = True
    return True


def installed() -> bool:
    return _installed
