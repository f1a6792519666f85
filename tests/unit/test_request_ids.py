"""Request ids made by the API when a client sends none: random, 128 bits, never repeated,
and not continued from the parent's random bytes in a forked worker."""

from __future__ import annotations

import os
import re

from services.api import middleware
from services.api.middleware import _RandomIds


def test_ids_are_128_random_bits_in_hex_and_distinct_across_refills():
    ids = _RandomIds()
    made = [ids() for _ in range(1000)]  # about four refills of 256
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made)
    assert len(set(made)) == len(made)


def test_the_system_source_is_read_once_per_256_ids_and_again_after_a_fork(monkeypatch):
    calls = []
    real = os.urandom

    def counted(n):
        calls.append(n)
        return real(n)

    monkeypatch.setattr(middleware.os, "urandom", counted)
    ids = _RandomIds()
    first = [ids() for _ in range(256)]
    assert calls == [4096]
    ids()
    assert calls == [4096, 4096]
    parent = os.getpid()
    monkeypatch.setattr(middleware.os, "getpid", lambda: parent + 1)  # as in a forked child
    child_first = ids()
    assert calls == [4096, 4096, 4096]  # the child does not use the parent's bytes
    assert child_first not in first


def test_a_request_without_an_id_gets_a_fresh_one_and_a_safe_one_is_kept():
    scope: dict = {"headers": []}
    made = middleware.request_id_of(scope)
    assert re.fullmatch(r"[0-9a-f]{32}", made) and scope["state"]["request_id"] == made
    assert middleware.request_id_of({"headers": []}) != made
    kept = {"headers": [(b"x-request-id", b"client-id-123")]}
    assert middleware.request_id_of(kept) == "client-id-123"
