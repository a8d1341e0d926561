"""MkDocs hooks that build the parts of the documentation site that come from the code and the model.

``mkdocs.yml`` loads this file (``hooks:``). At every build it

- adds every notebook in ``notebooks/`` to the site (mkdocs-jupyter renders them as
  stored, without executing), and appends those the nav does not list to its
  "Notebooks" section;
- fills the reference model page's variable tables (between ``<!-- tables:start -->``
  and ``<!-- tables:end -->`` in ``docs/model.md``) and the strategies page's lever
  table from the model files, so the site never shows a hand-copied table;
- writes one API reference page per public module from its ``__all__`` list
  (mkdocstrings renders the docstrings), so a name added to the public API
  appears in the reference without editing a page.

Nothing here runs a simulation; the model is only loaded and read.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from functools import cache
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_SECTION = "Notebooks"
API_SECTION = "API reference"

#: the public modules, in the order the API reference shows them: (module, page title, one-line summary)
API_MODULES = [
    ("trafficsys", "trafficsys", "The front door: `import trafficsys as ts`."),
    ("trafficsys.model", "trafficsys.model", "Variables, the equation language, `Model` and its validation."),
    ("trafficsys.cld", "trafficsys.cld", "Causal-loop diagrams, loops, polarity and archetypes."),
    ("trafficsys.engine", "trafficsys.engine", "Compiling and simulating models, ensembles and stepping."),
    (
        "trafficsys.analysis",
        "trafficsys.analysis",
        "Loop dominance, sensitivity, calibration and systemic blocks.",
    ),
    ("trafficsys.scenarios", "trafficsys.scenarios", "Strategies compared under uncertainty."),
    ("trafficsys.io", "trafficsys.io", "Reading and writing model files, graph exports."),
    ("trafficsys.plot", "trafficsys.plot", "Figures."),
    ("trafficsys.limits", "trafficsys.limits", "Resource limits and how to raise them."),
    ("trafficsys.errors", "trafficsys.errors", "The errors a user can cause."),
]

TABLES = ("<!-- tables:start -->", "<!-- tables:end -->")
STRATEGIES = ("<!-- strategies:start -->", "<!-- strategies:end -->")
METRICS = ("<!-- metrics:start -->", "<!-- metrics:end -->")


def _src_first() -> None:
    """Import the package from this checkout's ``src`` when it is not installed."""
    src = str(ROOT / "src")
    try:
        importlib.import_module("trafficsys")
    except ImportError:
        sys.path.insert(0, src)


@cache
def _model_tables():
    """``tools/model_tables.py``, the one place the variable tables are written."""
    spec = importlib.util.spec_from_file_location(
        "_trafficsys_model_tables", ROOT / "tools" / "model_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _reference_model():
    _src_first()
    import trafficsys as ts

    return ts.load_default()


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


# ---------------------------------------------------------------- navigation


def _section(nav: list, title: str) -> list | None:
    for item in nav:
        if isinstance(item, dict) and title in item and isinstance(item[title], list):
            return item[title]
    return None


def _listed(entries: list) -> set[str]:
    out = set()
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, str):
            out.add(value)
    return out


def _title(path: Path) -> str:
    """Return a notebook's nav title: its first markdown heading, else its file name."""
    import json

    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem.replace("_", " ").capitalize()


def on_config(config):
    """Append unlisted notebooks to the Notebooks section and list the API pages in the nav."""
    nav = config["nav"]
    if nav is None:
        return config
    section = _section(nav, NOTEBOOK_SECTION)
    if section is not None:
        listed = _listed(section)
        for path in _notebooks():
            uri = f"notebooks/{path.name}"
            if uri not in listed:
                section.append({_title(path): uri})
    for i, item in enumerate(nav):
        if isinstance(item, dict) and API_SECTION in item:
            nav[i] = {API_SECTION: [{title: _api_uri(module)} for module, title, _ in _api_pages()]}
    return config


# ---------------------------------------------------------------- files


@event_priority(100)  # before mkdocs-jupyter wraps the notebooks
def on_files(files, config):
    """Add the notebooks and the generated API pages to the site's files."""
    for path in _notebooks():
        # a real file whose source folder is the repository (not docs/), so mkdocs-jupyter reads it as usual
        files.append(
            File(
                f"notebooks/{path.name}",
                src_dir=str(ROOT),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    for module, title, summary in _api_pages():
        files.append(File.generated(config, _api_uri(module), content=_api_page(module, title, summary)))
    return files


# ---------------------------------------------------------------- generated markdown


def _replace_between(markdown: str, markers: tuple[str, str], body: str, page: str) -> str:
    start, end = markers
    if start not in markdown or end not in markdown:
        raise ValueError(
            f"docs/{page} must keep the markers {start} and {end}: the generated table goes there"
        )
    i, j = markdown.index(start) + len(start), markdown.index(end)
    return markdown[:i] + "\n\n" + body + "\n\n" + markdown[j:]


def strategies_table(m) -> str:
    """Tabulate the model's strategies: what each is, then every lever it sets (one row per lever)."""
    rows = ["| strategy | what it is |", "|---|---|"]
    for s in m.scenarios.values():
        doc = " ".join(s.doc.split()).replace("|", "\\|")
        rows.append(f"| `{s.name}` | {doc} |")
    levers = list(dict.fromkeys(k for s in m.scenarios.values() for k, _ in s.set))
    rows += [
        "",
        "| lever | units | " + " | ".join(f"`{s}`" for s in m.scenarios) + " |",
        "|---|---|" + "---|" * len(m.scenarios),
    ]
    for lever in levers:
        cells = []
        for s in m.scenarios.values():
            value = s.overrides.get(lever)
            cells.append(
                "-" if value is None else f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
            )
        units = m[lever].units if lever in m else ""
        rows.append(f"| `{lever}` | {units or ''} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def metrics_table(model) -> str:
    """Tabulate the reference model's comparison indicators (its ``[metadata.indicators]``)."""
    _src_first()
    from trafficsys.scenarios import indicators

    rows = ["| metric | what it measures | units | better |", "|---|---|---|---|"]
    for name, mt in indicators(model).items():
        label = mt.label.replace("|", "\\|")
        rows.append(f"| `{name}` | {label} | {mt.units} | {mt.better} |")
    return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):
    """Fill the generated tables of the reference model and strategies pages."""
    uri = page.file.src_uri
    if uri == "model.md":
        page.meta.setdefault("hide", ["toc"])  # the variable tables need the width
        return _replace_between(markdown, TABLES, _model_tables().tables(_reference_model()), uri)
    if uri == "strategies.md":
        markdown = _replace_between(markdown, STRATEGIES, strategies_table(_reference_model()), uri)
        return _replace_between(markdown, METRICS, metrics_table(_reference_model()), uri)
    return markdown


# ---------------------------------------------------------------- API reference

#: a Sphinx cross-reference role as the docstrings write it (``:class:`~trafficsys.model.Constant```),
#: once rendered to HTML by mkdocstrings
SPHINX_ROLE = re.compile(r":(?:class|func|data|mod|meth|attr|exc|obj):<code>(~?)([\w.]+)</code>")


def _role_to_link(match: re.Match) -> str:
    short, path = match.group(1), match.group(2)
    shown = path.rsplit(".", 1)[-1] if short else path
    # mkdocs-autorefs turns this into a link when the object is documented, plain text otherwise
    return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'


def on_page_content(html, page, config, files):
    """Turn the docstrings' Sphinx roles into links (or plain names) on the API pages."""
    if page.file.src_uri.startswith("api/"):
        return SPHINX_ROLE.sub(_role_to_link, html)
    return html


def _api_uri(module: str) -> str:
    return "api/index.md" if module == "trafficsys" else f"api/{module.split('.', 1)[1]}.md"


@cache
def _api_pages() -> tuple[tuple[str, str, str], ...]:
    _src_first()
    return tuple((mod, title, summary) for mod, title, summary in API_MODULES if _public(mod))


def _public_names(module) -> list[str]:
    return [n for n in getattr(module, "__all__", []) if not n.startswith("__")]


@cache
def _public(module_name: str) -> tuple[tuple[str, str], ...]:
    """Return ``(name, documented path)`` for each public name of a module.

    A package that exports no names itself (as ``trafficsys.plot``) gives its public submodules' names.
    """
    module = importlib.import_module(module_name)
    names = _public_names(module)
    if not names and hasattr(module, "__path__"):
        out = []
        for info in pkgutil.iter_modules(module.__path__):
            if not info.name.startswith("_"):
                out.extend(_public(f"{module_name}.{info.name}"))
        return tuple(out)
    out = []
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue  # a sub-module (ts.limits) has its own page
        home = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
        qualname = getattr(obj, "__qualname__", name)
        path = f"{home}.{qualname}" if home and home.startswith("trafficsys") else f"{module_name}.{name}"
        out.append((name, path))
    return tuple(out)


@cache
def _homes() -> dict[str, str]:
    """Map each documented path to its page: the first page that exports it.

    The errors are the exception: they are documented together on their own page, and the
    front page links to them.
    """
    homes: dict[str, str] = {}
    for module, _, _ in _api_pages():
        for _, path in _public(module):
            home = "trafficsys.errors" if path.startswith("trafficsys.errors.") else module
            homes.setdefault(path, home)
    return homes


def _api_page(module: str, title: str, summary: str) -> str:
    """Write the markdown of one API page: each object is documented once, on its home page."""
    seen = {path: page for path, page in _homes().items() if page != module}
    lines = [
        f"# {title}",
        "",
        summary,
        "",
        "Generated from the module's `__all__` and the docstrings at each build.",
        "",
    ]
    again = [(name, path) for name, path in _public(module) if path in seen]
    for _, path in _public(module):
        if path in seen:
            continue
        seen[path] = module
        lines += [f"::: {path}", "    options:", "      show_root_full_path: false", ""]
    if again:
        lines += ["## Also exported here", ""]
        lines += [f"- [`{name}`][{path}] (documented under `{seen[path]}`)" for name, path in again]
        lines.append("")
    return "\n".join(lines)
