# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A chart from a chart repository or an OCI registry, rendered by the helm renderer.

The verified archive (see _source/chart.py) is unpacked into a private
temporary directory and rendered exactly like a chart in Git; value files
are the chart's own files. Objects and errors name their template as
"<repoURL> <chart>@<version>/templates/x.yaml".
"""

from __future__ import annotations

import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.gitops.kubernetes.plugins.module_utils._errors import RenderError, SourceError
from ansible_collections.gitops.kubernetes.plugins.module_utils._kubeconfig import ResolvedConnection
from ansible_collections.gitops.kubernetes.plugins.module_utils._objects import DesiredObject
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.context import RenderContext
from ansible_collections.gitops.kubernetes.plugins.module_utils._render.helm import render_helm
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.chart import ChartArchive, fetch_chart
from ansible_collections.gitops.kubernetes.plugins.module_utils._source.credentials import RepositoryCredential
from ansible_collections.gitops.kubernetes.plugins.module_utils._spec import Application, SourceSpec

MAX_UNPACKED_BYTES = 512 * 1024 * 1024


@dataclass
class ChartSource:
    """The chart of one application source: resolve and fetch it, then render it (callable per source)."""

    app: Application
    cache_dir: str
    credentials: list[RepositoryCredential]
    source: SourceSpec | None = None  # the application's chart source (default: its first)
    lookup_connection: ResolvedConnection | None = None  # for helm lookup, when the application asks for it

    @property
    def spec(self) -> SourceSpec:
        return self.source or self.app.source

    def fetch(self) -> ChartArchive:
        source = self.spec
        try:
            return fetch_chart(source.repo_url, source.chart, source.revision, self.credentials, self.cache_dir,
                               pass_credentials=bool(source.helm and source.helm.pass_credentials))
        except SourceError as err:
            # name the source: several applications may share one repository
            err.message = f"source {source.repo_url} chart {source.chart} {source.revision!r}: {err.message}"
            err.args = (str(err),)
            raise

    def render(self, archive: ChartArchive, secrets: list[str]) -> list[DesiredObject]:
        with tempfile.TemporaryDirectory(prefix="gitops-chart-") as temp:
            root = Path(temp).resolve()
            chart_dir = unpack_chart(archive, root)
            context = RenderContext(root=chart_dir, app_dir=chart_dir, rel_path=".", app=self.app, secrets=secrets,
                                    source=self.spec, cache_dir=self.cache_dir, repositories=self.credentials,
                                    lookup_connection=self.lookup_connection)
            try:
                objects = render_helm(context)
            except RenderError as err:
                err.file = f"{archive.label}/{err.file}" if err.file and err.file != "." else archive.label
                err.args = (str(err),)
                raise
        for obj in objects:
            obj.source_file = f"{archive.label}/{obj.source_file}" if obj.source_file not in ("", ".") else archive.label
        return objects


def unpack_chart(archive: ChartArchive, destination: Path) -> Path:
    """The chart directory of the archive, unpacked under destination; RenderError for anything but one chart."""
    try:
        with tarfile.open(archive.path, "r:gz") as bundle:
            members = bundle.getmembers()
            if sum(member.size for member in members) > MAX_UNPACKED_BYTES:
                raise RenderError(f"{archive.label} unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB; refused")
            tops = {member.name.split("/", 1)[0] for member in members}
            if len(tops) != 1:
                raise RenderError(f"{archive.label} is not one chart (top-level entries: {', '.join(sorted(tops))})")
            # the 'data' filter refuses absolute paths, '..', links out of the destination and device files
            bundle.extractall(destination, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RenderError(f"{archive.label} is not a readable chart archive: {err}") from None
    chart_dir = destination / tops.pop()
    if not (chart_dir / "Chart.yaml").is_file():
        raise RenderError(f"{archive.label} has no Chart.yaml")
    return chart_dir.resolve()
