"""Environment settings: one prefix, the old Space names as deprecated aliases."""

from __future__ import annotations

import logging

from cyclegan_biz import environment
from cyclegan_biz.environment import setting


def test_new_prefix_wins_and_old_prefix_still_works_with_one_warning(monkeypatch, caplog):
    monkeypatch.delenv("CYCLEGAN_BIZ_ENGINE", raising=False)
    monkeypatch.setenv("CYCLEBIZ_ENGINE", "onnx")
    environment._warn_deprecated.cache_clear()
    with caplog.at_level(logging.WARNING, logger="cyclegan_biz"):
        assert setting("ENGINE") == "onnx"
        assert setting("ENGINE") == "onnx"
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == ["CYCLEBIZ_ENGINE is deprecated; set CYCLEGAN_BIZ_ENGINE instead"]
    monkeypatch.setenv("CYCLEGAN_BIZ_ENGINE", "torch")
    assert setting("ENGINE") == "torch"


def test_unset_or_empty_gives_the_default(monkeypatch):
    monkeypatch.setenv("CYCLEGAN_BIZ_CONCURRENCY", "")
    monkeypatch.delenv("CYCLEBIZ_CONCURRENCY", raising=False)
    assert setting("CONCURRENCY", "1") == "1"
    assert setting("CONCURRENCY") is None

