"""The push webhook of new_revisions: GitHub's HMAC-SHA256 signature and the repository URL of a push."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[6] / "extensions" / "eda" / "plugins" / "event_source" / "new_revisions.py"
spec = importlib.util.spec_from_file_location("new_revisions", SOURCE)
new_revisions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(new_revisions)


def test_only_the_body_signed_with_the_secret_passes():
    body = b'{"ref": "refs/heads/main"}'
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert new_revisions.signature_valid("s3cret", body, good)
    assert not new_revisions.signature_valid("s3cret", body + b" ", good)
    assert not new_revisions.signature_valid("other", body, good)
    assert not new_revisions.signature_valid("s3cret", body, None)
    assert not new_revisions.signature_valid("s3cret", body, good.replace("sha256=", "sha1="))


def test_push_payloads_of_github_and_gitlab_name_their_repository():
    github = {"repository": {"clone_url": "https://github.com/o/r.git", "ssh_url": "git@github.com:o/r.git"}}
    gitlab = {"project": {"git_http_url": "https://gitlab.com/o/r.git"}}
    assert new_revisions.pushed_urls(github) == ["https://github.com/o/r.git", "git@github.com:o/r.git"]
    assert new_revisions.pushed_urls(gitlab) == ["https://gitlab.com/o/r.git"]
    assert new_revisions.pushed_urls({"repository": "not a mapping"}) == [] == new_revisions.pushed_urls([])
