"""The streams file: defaults, and each mistake named with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragworks.streams.config import ConfigError, load_streams_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "streams.toml"
    path.write_text(text)
    return path


def test_a_minimal_file_gets_defaults(tmp_path: Path) -> None:
    config = load_streams_config(
        _write(tmp_path, '[[sources]]\nurl = "redis://h"\nstream = "docs"\ncollection = "news"\n')
    )
    (source,) = config.sources
    assert (source.name, source.group, source.kind, source.fields.text) == (
        "docs",
        "ragworks",
        "documents",
        "text",
    )
    assert config.consumer.max_queue_depth == 10_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[sources]]\nurl = "redis://h"\nstream = "d"\n', "needs `collection`"),
        ('[[sources]]\nurl = "redis://h"\nstream = "d"\nkind = "services"\n', "needs `results`"),
        ('[[sources]]\nurl = "redis://h"\nstream = "d"\ncollection = "Bad Name"\n', "sources.0.collection"),
        ('[[sources]]\nurl = "redis://h"\nstream = "d"\ncollection = "c"\ncolour = 1\n', "sources.0.colour"),
        (
            '[consumer]\nbatch = 0\n[[sources]]\nurl = "r://h"\nstream = "d"\ncollection = "c"\n',
            "consumer.batch",
        ),
        ("sources = [", "not valid TOML"),
        ("", "sources: Field required"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("`", ".")):
        load_streams_config(_write(tmp_path, text))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_streams_config(tmp_path / "nope.toml")


def test_source_names_must_be_unique(tmp_path: Path) -> None:
    one = '[[sources]]\nurl = "redis://h"\nstream = "d"\ncollection = "c"\n'
    with pytest.raises(ConfigError, match="unique: d"):
        load_streams_config(_write(tmp_path, one + one))
