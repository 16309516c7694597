"""The PATCH-DOC reference cache (dashboard.ui.bokeh_patches) sends exactly what stock Bokeh sends:
compared with Bokeh's own functions (kept as handles), and falling back to them when the internals
it reads are not there."""

from __future__ import annotations

import json

import bokeh
import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import Column, ColumnDataSource, Div
from bokeh.protocol.messages.patch_doc import patch_doc

from dashboard.ui import bokeh_patches, fence


@pytest.fixture(scope="module", autouse=True)
def installed():
    assert bokeh_patches.install(), "the cache should install on the pinned Bokeh"
    assert bokeh_patches.install()  # idempotent


def _stock_message(doc: Document, events):
    """What Bokeh as shipped sends for these events (its own functions, the patch out of the way).
    The document's set of new models is left as it was, for the patched message that follows."""
    new = set(doc.models._new_models)
    with bokeh_patches.stock():
        assert patch_doc.__dict__["create"] is bokeh_patches.STOCK["create"]
        msg = patch_doc.create(events)
    assert bokeh_patches.installed()
    doc.models._new_models = new
    return msg


def _stock_events(doc: Document, events) -> list:
    return _stock_message(doc, events).content["events"]


def _wire(msg) -> tuple[str, list[bytes]]:
    """A message as the browser gets it, buffer ids numbered in order (fresh in every message)."""
    text = msg.content_json
    for i, buffer in enumerate(msg._buffers):
        text = text.replace(json.dumps(buffer.id), json.dumps(f"buffer-{i}"))
    return text, [b.to_bytes() for b in msg._buffers]


def _collect(doc: Document, change) -> list:
    events: list = []
    doc.callbacks.hold("collect")
    change()
    events = list(doc.callbacks._held_events)
    doc.callbacks._held_events = []
    doc.callbacks.unhold()
    return events


def _is_full(rep, model) -> bool:
    """True when ``model`` is defined in full somewhere in ``rep`` (type/id/attributes), not just
    referenced."""
    if isinstance(rep, dict):
        if rep.get("id") == model.id and "attributes" in rep:
            return True
        return any(_is_full(v, model) for v in rep.values())
    if isinstance(rep, list):
        return any(_is_full(v, model) for v in rep)
    return False


def _mentions(rep, model) -> bool:
    if isinstance(rep, dict):
        return rep.get("id") == model.id or any(_mentions(v, model) for v in rep.values())
    if isinstance(rep, list):
        return any(_mentions(v, model) for v in rep)
    return False


def _doc() -> tuple[Document, Column, Div]:
    doc = Document()
    div = Div(text="a")
    root = Column(children=[div, Column(children=[Div(text="other")])])
    doc.add_root(root)
    doc.models.flush_synced()  # as after PULL-DOC-REPLY: the browser has everything
    return doc, root, div


def test_same_message_as_stock_and_cache_reused():
    doc, _, div = _doc()
    events = _collect(doc, lambda: setattr(div, "text", "b"))
    expected = _stock_events(doc, events)
    msg = patch_doc.create(events)
    assert msg.content["events"] == expected
    assert msg.content["events"][0]["model"] == {"id": div.id}  # by reference
    refs = bokeh_patches.synced_refs(doc.models)
    events = _collect(doc, lambda: setattr(div, "text", "c"))
    patch_doc.create(events)
    assert bokeh_patches.synced_refs(doc.models) is refs  # nothing new: the cache was not rebuilt
    assert set(refs) == {id(m) for m in doc.models}


def test_model_added_after_cache_is_sent_in_full_then_by_reference():
    doc, root, div = _doc()
    patch_doc.create(_collect(doc, lambda: setattr(div, "text", "warm")))  # cache built
    assert bokeh_patches.synced_refs(doc.models)
    new = Div(text="new")
    events = _collect(doc, lambda: root.children.append(new))
    assert new in doc.models._new_models
    assert id(new) not in bokeh_patches.synced_refs(doc.models)
    expected = _stock_events(doc, events)
    first = patch_doc.create(events).content["events"]
    assert first == expected
    assert _is_full(first, new), "a model the browser does not have yet must be sent in full"
    assert not _is_full(first, div) and _mentions(first, div), "an existing model goes by reference"
    assert not doc.models._new_models  # flushed: the browser now has it
    assert id(new) in bokeh_patches.synced_refs(doc.models)
    assert bokeh_patches.synced_refs(doc.models) == {id(m): m.ref for m in doc.models}
    # the next message that mentions it as a value (not just as the event's target): a reference
    second_events = _collect(doc, lambda: setattr(root, "children", [new, *root.children[:-1]]))
    second = patch_doc.create(second_events).content["events"]
    assert _mentions(second, new) and not _is_full(second, new)


def test_removed_model_is_dropped_from_the_cache_and_sent_in_full_when_it_comes_back():
    doc, root, div = _doc()
    patch_doc.create(_collect(doc, lambda: setattr(div, "text", "warm")))
    patch_doc.create(_collect(doc, lambda: setattr(root, "children", [])))
    assert id(div) not in bokeh_patches.synced_refs(doc.models)
    events = _collect(doc, lambda: setattr(root, "children", [div]))
    back = patch_doc.create(events).content["events"]
    assert _is_full(back, div)


def test_synced_references_property_matches_stock_expression():
    doc, root, div = _doc()
    new = Div(text="n")
    root.children.append(new)
    stock = {m for m in doc.models._models.values() if m not in doc.models._new_models}
    assert doc.models.synced_references == stock
    assert doc.models.synced_references == bokeh_patches.STOCK["synced_references"].fget(doc.models)
    assert new not in doc.models.synced_references and div in doc.models.synced_references


def test_unsupported_bokeh_is_left_stock(monkeypatch):
    monkeypatch.setattr(bokeh, "__version__", "4.0.0")
    assert not bokeh_patches.supported()


def test_binary_buffers_same_as_stock():
    """A numpy column (binary buffers on the wire) goes out as stock Bokeh sends it."""
    doc, root, _ = _doc()
    source = ColumnDataSource({"x": np.arange(3.0)})
    root.children.append(Div(text="holder"))
    doc.add_root(source)
    doc.models.flush_synced()
    events = _collect(doc, lambda: setattr(source, "data", {"x": np.arange(1000.0)}))
    expected = _stock_message(doc, events)
    ours = patch_doc.create(events)
    assert ours._buffers and _wire(ours) == _wire(expected)


def test_fingerprints_are_of_the_installed_bokeh():
    """The functions replaced or wrapped are the code checked; a changed one leaves Bokeh stock."""
    assert fence.changed(bokeh_patches.CHECKED) == []
    assert bokeh_patches.supported()


def test_changed_bokeh_function_is_left_stock(monkeypatch):
    """A Bokeh whose patch_doc.create differs from the checked copy: not supported."""
    func, _ = bokeh_patches.CHECKED["patch_doc.create"]
    monkeypatch.setitem(bokeh_patches.CHECKED, "patch_doc.create", (func, "0" * 16))
    assert not bokeh_patches.supported()


def test_document_without_the_attributes_read_takes_the_stock_path(monkeypatch):
    """As after an upgrade that renamed ``_new_models``: the probe says unsupported, and an
    installed patch sends each message Bokeh's own way, the same message, without raising."""
    monkeypatch.setattr(bokeh_patches, "NEW", "_new_models_renamed")
    assert not bokeh_patches.supported()
    doc, root, div = _doc()
    new = Div(text="new")
    events = _collect(doc, lambda: root.children.append(new))
    expected = _wire(_stock_message(doc, events))
    assert _wire(patch_doc.create(events)) == expected
    assert not doc.models._new_models, "flushed as stock flushes"
    assert doc.models.synced_references == bokeh_patches.STOCK["synced_references"].fget(doc.models)
    later = _collect(doc, lambda: setattr(div, "text", "z"))
    assert _wire(patch_doc.create(later)) == _wire(_stock_message(doc, later))


def test_uninstall_restores_bokeh_and_install_again():
    """``stock()`` puts back Bokeh's own functions; the cache is rebuilt after a reinstall."""
    doc, _, div = _doc()
    patch_doc.create(_collect(doc, lambda: setattr(div, "text", "warm")))
    before = bokeh_patches.synced_refs(doc.models)
    with bokeh_patches.stock():
        assert patch_doc.__dict__["create"] is bokeh_patches.STOCK["create"]
        assert not bokeh_patches.installed()
    assert bokeh_patches.installed()
    assert bokeh_patches.synced_refs(doc.models) is not before
