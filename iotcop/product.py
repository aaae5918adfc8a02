"""The product file: one product's firmware image, live device, vendor documents and declaration, assessed as one.

    schema: iotcop-product/1
    product: {name: Example Camera, version: 1.0.3}   # optional: the declaration names it too
    firmware: ../../build/examples/smart-camera.sqfs   # an image file or an unpacked root directory
    device:                                            # optional: the live device, within its scope
      targets: [192.168.1.20]
      ports: "22,80,443,8000-8100"                     # or all_ports: true
      credentials: creds.txt                           # 'user:password' lines (default: the shipped lists)
      bruteforce_attempts: 20
      destructive: false
    documents:
      site: https://cameras.example                    # security.txt is looked for there
      policy: [docs/disclosure.html]                   # URLs or files
      support: [docs/support.html]
      statement: [docs/statement.yaml]
      privacy: [docs/privacy.html]
      guidance: [docs/guide.html]
    declaration: declaration.yaml

Paths are relative to the product file. Every problem is reported with its line, before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from iotcop.errors import InputError, Problem

MAX_BYTES = 256 * 1024


class ProductError(InputError):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source, self.problems = source, problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: invalid product file ({len(problems)} problem(s)):\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductInfo(_Strict):
    name: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, max_length=100)


class DeviceSpec(_Strict):
    targets: list[str] = Field(default_factory=list, max_length=64)
    scope: str | None = None
    ports: str | None = None
    all_ports: bool = False
    credentials: str | None = None
    bruteforce_attempts: int = Field(default=20, ge=0, le=200)
    destructive: bool = False
    input_probes: bool = True


class DocumentsSpec(_Strict):
    site: list[str] | str = Field(default_factory=list)
    policy: list[str] = Field(default_factory=list, max_length=20)
    security_txt: str | None = None
    support: list[str] = Field(default_factory=list, max_length=20)
    statement: list[str] = Field(default_factory=list, max_length=20)
    privacy: list[str] = Field(default_factory=list, max_length=20)
    guidance: list[str] = Field(default_factory=list, max_length=20)
    ca_bundle: str | None = None


class ProductSpec(_Strict):
    schema_: Literal["iotcop-product/1"] = Field(alias="schema")
    product: ProductInfo | None = None
    firmware: str | None = None
    device: DeviceSpec | None = None
    documents: DocumentsSpec | None = None
    declaration: str | None = None


class Product:
    """A validated product file with its paths resolved against the file's folder."""

    def __init__(self, spec: ProductSpec, base: Path, source: str, lines: dict[str, int]) -> None:
        self.spec, self.base, self.source, self.lines = spec, base, source, lines

    def path(self, value: str) -> Path:
        given = Path(value).expanduser()
        return given if given.is_absolute() else (self.base / given)

    @property
    def name(self) -> str:
        return self.spec.product.name if self.spec.product else Path(self.source).stem


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _check_paths(product: Product) -> list[Problem]:
    spec, problems = product.spec, []

    def need(field: str, value: str | None, directory_ok: bool = False) -> None:
        if value is None or _is_url(value):
            return
        path = product.path(value)
        if not (path.is_file() or (directory_ok and path.is_dir())):
            problems.append(Problem(product.lines.get(field), field, f"no such file: {path}"))

    need("firmware", spec.firmware, directory_ok=True)
    need("declaration", spec.declaration)
    if spec.device:
        need("device.scope", spec.device.scope)
        need("device.credentials", spec.device.credentials)
        if not spec.device.targets and not spec.device.scope:
            problems.append(Problem(product.lines.get("device"), "device", "name the device's targets or a scope"))
    if spec.documents:
        docs = spec.documents
        need("documents.security_txt", docs.security_txt)
        need("documents.ca_bundle", docs.ca_bundle)
        for role in ("policy", "support", "statement", "privacy", "guidance"):
            for index, value in enumerate(getattr(docs, role)):
                need(f"documents.{role}.{index}", value)
    if not (spec.firmware or spec.device or spec.documents):
        problems.append(Problem(1, "", "the product names nothing to assess (firmware, device or documents)"))
    return problems


def load_product(path: Path) -> Product:
    from iotcop.declaration import compose_with_lines, located_problem
    from iotcop.errors import DeclarationError

    source = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the product file: {exc.strerror}") from exc
    if len(raw) > MAX_BYTES:
        raise ProductError(source, [Problem(None, "", f"larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProductError(source, [Problem(raw.count(b"\n", 0, exc.start) + 1, "", "not UTF-8 text")]) from None
    try:
        data, lines = compose_with_lines(text, source)
    except DeclarationError as exc:
        raise ProductError(source, exc.problems) from None
    if not isinstance(data, dict):
        raise ProductError(source, [Problem(1, "", "the product file must be a mapping with 'schema: "
                                                   "iotcop-product/1'")])
    try:
        spec = ProductSpec.model_validate(data)
    except ValidationError as exc:
        raise ProductError(source, [located_problem(e, lines) for e in exc.errors()]) from None
    product = Product(spec, path.parent, source, lines)  # paths stay as the user wrote them: portable reports
    if problems := _check_paths(product):
        raise ProductError(source, problems)
    return product
