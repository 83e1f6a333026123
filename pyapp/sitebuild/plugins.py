"""Build step "plugins": the built-in plugins (repo ``plugins/*.py``) under ``<out>/plugins/`` with an index."""

from __future__ import annotations

from ._common import BuildError, Site, copy_file, remove_stale, say, write_json


def build_plugins(site: Site) -> None:
    """Copy the built-in plugins, checked by the plugin loader, and list them in ``plugins/index.json``.

    Each entry is ``{name, description, url}`` (``url`` relative to the site), so a page can offer them.
    """
    from ..plugins import PluginError, load_plugin

    src = site.root / "plugins"
    if not src.is_dir():
        say("skipped", "plugins (no plugins/ folder)")
        return
    index, paths = [], sorted(p for p in src.iterdir() if p.suffix == ".py" or p.name.endswith(".imjoy.html"))
    for path in paths:
        try:
            plugin = load_plugin(path.read_text(encoding="utf-8"), filename=path.name)
        except PluginError as err:
            raise BuildError(str(err)) from err
        index.append({"name": plugin.manifest.name, "description": plugin.manifest.description or "",
                      "url": f"plugins/{path.name}"})
        copy_file(path, site.out / "plugins" / path.name)
    remove_stale(site.out / "plugins", [p.name for p in paths] + ["index.json"])
    write_json(site.out / "plugins" / "index.json", index)
