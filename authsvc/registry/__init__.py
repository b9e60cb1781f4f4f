"""The card registry (社保卡持卡人库): the upstream that says who holds a physical social
security card, in which state, with which reserved phone and face reference.

`Registry` is the seam a real provincial card system plugs into (over HTTP, later);
`FileRegistry` is the simulated one, a JSON file of demo people."""

from authsvc.registry.base import CardState, Person, Registry
from authsvc.registry.file import FileRegistry
from authsvc.registry.rules import check_application, check_usable, person_key

__all__ = [
    "CardState",
    "FileRegistry",
    "Person",
    "Registry",
    "check_application",
    "check_usable",
    "person_key",
]
