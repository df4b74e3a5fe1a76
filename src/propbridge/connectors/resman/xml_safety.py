"""Hardened XML parsing for anything ResMan sends back.

Entity expansion, DTD loading and network access are off, and a DOCTYPE is refused outright.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class UnsafeXmlError(ValueError):
    """The document is malformed or tries to use a DTD or entities."""


def parse_xml(data: bytes | str) -> Any:
    """The root element of a document from an untrusted peer."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as error:
        raise UnsafeXmlError(f"malformed XML: {error}") from error
    if root is None:
        raise UnsafeXmlError("empty XML document")
    if _doctype(root):
        raise UnsafeXmlError("XML with a DOCTYPE is refused")
    return root


def local_name(element: Any) -> str:
    """Tag without namespace: ResMan's MITS namespaces vary between captures."""
    return str(etree.QName(element).localname)


def find_child(element: Any, name: str) -> Any | None:
    """First direct child with this local name."""
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == name:
            return child
    return None


def child_text(element: Any, name: str) -> str | None:
    """Text of the first direct child with this local name."""
    child = find_child(element, name)
    return None if child is None else (child.text or "")


def _doctype(root: Any) -> str:
    docinfo: Any = root.getroottree().docinfo
    return str(docinfo.doctype or "")
