"""Backstage `catalog-info.yaml` files: loading them from paths or URLs, and parsing
them into the Components Sidestage can link to workloads. Parsing is pure.

What counts: `kind: Component` entities with `spec.type: service` and a
`backstage.io/kubernetes-id` annotation (optionally `backstage.io/kubernetes-namespace`).
Other kinds (API, Group, System, Location...) and other component types are skipped,
with a note. A file is invalid, as a whole, when it is not YAML, when a document is
not an entity (`apiVersion`, `kind`, `metadata.name`), or when a service Component
lacks what Backstage itself requires (`spec.lifecycle`, `spec.owner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

KUBERNETES_ID_ANNOTATION = "backstage.io/kubernetes-id"
KUBERNETES_NAMESPACE_ANNOTATION = "backstage.io/kubernetes-namespace"
MAX_FILE_BYTES = 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10.0
CATALOG_FILE_NAMES = ("catalog-info.yaml", "catalog-info.yml")


class BackstageFileError(Exception):
    """One file that cannot be imported, and why (for a person to fix)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass(frozen=True)
class BackstageComponent:
    ref: str  # component:<namespace>/<name>
    name: str
    description: str
    kubernetes_id: str
    kubernetes_namespace: str  # empty: any namespace discovery reads
    owner_group: str  # empty when the owner is a user
    source: str


@dataclass(frozen=True)
class ParsedFile:
    source: str
    components: tuple[BackstageComponent, ...]
    notes: tuple[str, ...]


def owner_group(owner: str) -> str:
    """`group:default/team-a`, `group:team-a` and `team-a` name group team-a; a
    `user:` owner names no group."""
    kind, _, rest = owner.rpartition(":") if ":" in owner else ("group", "", owner)
    if kind.lower() != "group":
        return ""
    return rest.rpartition("/")[2]


def parse_catalog_file(text: str, source: str) -> ParsedFile:
    """Every service Component of one (possibly multi-document) file, or a
    BackstageFileError naming the first problem and the document it is in."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise BackstageFileError(source, f"not valid YAML{where}: {problem}") from exc
    components: list[BackstageComponent] = []
    notes: list[str] = []
    for index, doc in enumerate(documents, start=1):
        if doc is None:  # an empty document between two `---`
            continue
        where = f"document {index}"
        if not isinstance(doc, dict):
            raise BackstageFileError(source, f"{where} is not a mapping (an entity).")
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        metadata = doc.get("metadata")
        if not isinstance(api_version, str) or not api_version.startswith("backstage.io/"):
            raise BackstageFileError(
                source, f"{where}: apiVersion must be backstage.io/..., not {api_version!r}."
            )
        if not isinstance(kind, str) or not kind:
            raise BackstageFileError(source, f"{where}: kind is missing.")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise BackstageFileError(source, f"{where}: metadata.name is missing.")
        name = metadata["name"]
        annotations = metadata.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise BackstageFileError(
                source, f"{where} ({name}): metadata.annotations is not a map."
            )
        if kind != "Component":
            notes.append(f"{where} ({kind} {name}): skipped, not a Component.")
            continue
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            raise BackstageFileError(source, f"{where} (Component {name}): spec is missing.")
        if spec.get("type") != "service":
            notes.append(f"{where} (Component {name}): skipped, type {spec.get('type')!r}.")
            continue
        for required in ("lifecycle", "owner"):
            if not isinstance(spec.get(required), str) or not spec[required]:
                raise BackstageFileError(
                    source, f"{where} (Component {name}): spec.{required} is required."
                )
        kubernetes_id = annotations.get(KUBERNETES_ID_ANNOTATION)
        if not kubernetes_id:
            notes.append(
                f"{where} (Component {name}): skipped, no {KUBERNETES_ID_ANNOTATION} annotation."
            )
            continue
        entity_ns = metadata.get("namespace") or "default"
        components.append(
            BackstageComponent(
                ref=f"component:{entity_ns}/{name}",
                name=name,
                description=str(metadata.get("description") or ""),
                kubernetes_id=str(kubernetes_id),
                kubernetes_namespace=str(annotations.get(KUBERNETES_NAMESPACE_ANNOTATION) or ""),
                owner_group=owner_group(spec["owner"]),
                source=source,
            )
        )
    return ParsedFile(source=source, components=tuple(components), notes=tuple(notes))


def _read_path(path: Path) -> list[tuple[str, str]]:
    if path.is_dir():
        files = sorted(p for n in CATALOG_FILE_NAMES for p in path.rglob(n))
        if not files:
            raise BackstageFileError(str(path), "no catalog-info.yaml under this folder.")
        return [item for f in files for item in _read_path(f)]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackstageFileError(str(path), f"cannot be read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise BackstageFileError(str(path), f"larger than {MAX_FILE_BYTES} bytes.")
    try:
        return [(str(path), data.decode("utf-8"))]
    except UnicodeDecodeError as exc:
        raise BackstageFileError(str(path), "not UTF-8 text.") from exc


def _fetch_url(url: str) -> tuple[str, str]:
    try:
        with httpx.stream("GET", url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True) as r:
            if r.status_code != 200:
                raise BackstageFileError(url, f"HTTP {r.status_code}.")
            body = b""
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > MAX_FILE_BYTES:
                    raise BackstageFileError(url, f"larger than {MAX_FILE_BYTES} bytes.")
    except httpx.HTTPError as exc:
        raise BackstageFileError(url, f"cannot be fetched: {exc}") from exc
    try:
        return url, body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BackstageFileError(url, "not UTF-8 text.") from exc


def load_sources(sources: list[str]) -> tuple[list[tuple[str, str]], list[BackstageFileError]]:
    """The text of every file named by `sources` (paths, folders, http(s) URLs), and
    the errors of those that could not be read. Reads everything before judging, so
    one run reports every bad file at once."""
    texts: list[tuple[str, str]] = []
    errors: list[BackstageFileError] = []
    for source in sources:
        try:
            if source.startswith(("http://", "https://")):
                texts.append(_fetch_url(source))
            else:
                texts.extend(_read_path(Path(source)))
        except BackstageFileError as exc:
            errors.append(exc)
    return texts, errors


def parse_sources(sources: list[str]) -> tuple[list[ParsedFile], list[BackstageFileError]]:
    """Load and parse every source; every file that fails is in the error list."""
    texts, errors = load_sources(sources)
    parsed: list[ParsedFile] = []
    for source, text in texts:
        try:
            parsed.append(parse_catalog_file(text, source))
        except BackstageFileError as exc:
            errors.append(exc)
    return parsed, errors
