# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain errors raised by the engine; modules turn them into fail_json once.

Every message is meant for a user: it names the application and, where there
is one, the repository file (with line and column) or the Kubernetes object.
Messages never carry credentials or Secret values (see _redact).
"""

from __future__ import annotations

from typing import Any


class GitopsError(Exception):
    """Base class: a failure the user can act on."""

    def __init__(
        self,
        message: str,
        *,
        application: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        object_ref: str | None = None,
    ) -> None:
        self.message = message
        self.application = application
        self.file = file
        self.line = line
        self.column = column
        self.object_ref = object_ref
        super().__init__(str(self))

    def where(self) -> str:
        parts = []
        if self.application:
            parts.append(f"application {self.application!r}")
        if self.file:
            location = self.file
            if self.line is not None:
                location += f":{self.line}"
                if self.column is not None:
                    location += f":{self.column}"
            parts.append(location)
        if self.object_ref:
            parts.append(self.object_ref)
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def with_application(self, name: str) -> "GitopsError":
        """Attach the application name if the raiser did not know it."""
        if not self.application:
            self.application = name
            self.args = (str(self),)
        return self

    def to_result(self) -> dict[str, Any]:
        """The fields a module returns beside `msg` when it fails."""
        return {
            key: value
            for key, value in (
                ("error_type", type(self).__name__),
                ("application", self.application),
                ("file", self.file),
                ("line", self.line),
                ("column", self.column),
                ("object", self.object_ref),
            )
            if value is not None
        }


class SpecError(GitopsError):
    """The application spec is invalid; raised before any Git or cluster work."""


class SourceError(GitopsError):
    """The Git source could not be fetched, resolved or checked out."""


class RenderError(GitopsError):
    """Manifests could not be rendered (YAML error, kustomize/helm failure)."""


class ClusterConnectionError(GitopsError):
    """The cluster could not be reached or refused our credentials."""


class KubeApiError(GitopsError):
    """The API server rejected a request for a specific object.

    `reason` and `details` are the Status body's (details.causes: one entry per
    rejected field, with its own reason, field and message), so callers decide
    from the API's structure, never from words in the message.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 details: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.status = status
        self.reason = reason
        self.details = details or {}
        super().__init__(message, **kwargs)

    @property
    def causes(self) -> list[dict[str, Any]]:
        """details.causes of the Status (reason, field, message per rejected field)."""
        return [cause for cause in self.details.get("causes") or [] if isinstance(cause, dict)]


class CompareError(GitopsError):
    """Desired and live state could not be compared."""


class SyncError(GitopsError):
    """The sync could not converge the cluster."""


class PolicyError(GitopsError):
    """The application breaks the policy it runs under; nothing was applied."""
