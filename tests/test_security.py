"""Corpus path confinement (symlinks and '..' resolved first), passwords, shown database URLs."""
import pytest

from dcpoc import data
from dcpoc.security import (BUILTIN_CORPORA, CorpusPathError, allowed_data_dirs, confine_corpus,
                            hide_url_password, password_matches)


@pytest.fixture
def tree(tmp_path):
    allowed = tmp_path / "data"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "sub" / "a.txt").write_text("hello\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    (allowed / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (allowed / "escape_dir").symlink_to(tmp_path)
    (allowed / "inner.txt").symlink_to(allowed / "sub" / "a.txt")
    return tmp_path, allowed


def test_builtins_need_no_folder_and_match_data_py():
    assert BUILTIN_CORPORA == data.BUILTIN_CORPORA
    assert confine_corpus(" pydoc ", []) == "pydoc"


def test_paths_inside_the_allowed_folder(tree):
    root, allowed = tree
    target = (allowed / "sub" / "a.txt").resolve()
    assert confine_corpus(str(allowed / "sub" / "a.txt"), [allowed]) == f"text:{target}"
    assert confine_corpus("sub/a.txt", [allowed]) == f"text:{target}"              # relative
    assert confine_corpus(f"text:{allowed}/sub/../sub/a.txt", [allowed]) == f"text:{target}"
    assert confine_corpus(str(allowed / "inner.txt"), [allowed]) == f"text:{target}"  # link inside
    assert confine_corpus(str(allowed / "sub"), [allowed]) == f"text:{(allowed / 'sub').resolve()}"


@pytest.mark.parametrize("typed", ["{root}/secret.txt", "{allowed}/../secret.txt", "../secret.txt",
                                   "{allowed}/escape.txt", "{allowed}/escape_dir/secret.txt",
                                   "/etc/passwd", "text:/etc/passwd", "~/.bashrc"])
def test_paths_that_leave_the_allowed_folder(tree, typed):
    root, allowed = tree
    with pytest.raises(CorpusPathError) as e:
        confine_corpus(typed.format(root=root, allowed=allowed), [allowed])
    assert e.value.reason == "outside"


def test_no_folders_means_built_ins_only(tree):
    root, allowed = tree
    with pytest.raises(CorpusPathError) as e:
        confine_corpus(str(allowed / "sub" / "a.txt"), [])
    assert e.value.reason == "no_dirs" and "DCPOC_DATA_DIRS" in str(e.value)


def test_missing_and_empty(tree):
    root, allowed = tree
    with pytest.raises(CorpusPathError) as e:
        confine_corpus("sub/none.txt", [allowed])
    assert e.value.reason == "missing"
    with pytest.raises(CorpusPathError) as e:
        confine_corpus("text:  ", [allowed])
    assert e.value.reason == "empty"


def test_allowed_data_dirs_parses_the_environment(tree, monkeypatch):
    root, allowed = tree
    monkeypatch.setenv("DCPOC_DATA_DIRS", f"{allowed}::{root}/data/../data/sub")
    assert allowed_data_dirs() == [allowed.resolve(), (allowed / "sub").resolve()]
    monkeypatch.delenv("DCPOC_DATA_DIRS")
    assert allowed_data_dirs() == []


def test_password_matches():
    assert password_matches("パスワード", "パスワード")
    assert not password_matches("pass", "password") and not password_matches("", "x")


@pytest.mark.parametrize("url, shown", [
    ("postgresql://ann:s3cr%40t@db:5432/x", "postgresql://ann:***@db:5432/x"),
    ("postgresql://ann:pa/ss@db/x", "postgresql://ann:***@db/x"),
    ("postgresql+psycopg://ann:pw@db/x", "postgresql+psycopg://ann:***@db/x"),
    ("postgresql://ann@db/x", "postgresql://ann@db/x"),
    ("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db"),
])
def test_hide_url_password(url, shown):
    assert hide_url_password(url) == shown
