"""Build step "models": the bundled models (``pyapp/examples/*`` and the zoo models) under
``<out>/models/``."""

from __future__ import annotations

from pathlib import Path

from ._common import Site, mirror_dir, rel, say, write_json


def build_models(site: Site) -> None:
    """Bundle the models under ``<out>/models/`` with an index: ``pyapp/examples/*`` and the zoo models.

    The zoo models (``pyapp.zoo.RECIPES``) are built into ``<cache>/models/<id>`` (again only when the code
    or pins that make them change) and mirrored; one whose packages are missing is skipped with one line.
    ``models/index.json`` lists ``{id, name, description, url, kind}`` (+ ``sample``, a site-relative URL,
    when the model has one) per model; ``window.pyapp.models()`` reads it.
    """
    from ..spec import ModelDescr, load
    from ..zoo import RECIPES, ZooUnavailable, cached_package

    examples = Path(__file__).resolve().parents[1] / "examples"
    index = []
    for folder in sorted(p for p in examples.iterdir() if (p / "bioimageio.yaml").is_file()):
        model = load(folder, io_checks=True)
        if not isinstance(model, ModelDescr):
            continue
        mirror_dir(folder, site.out / "models" / folder.name)
        index.append({"id": folder.name, "name": model.name, "description": model.description,
                      "url": f"models/{folder.name}/bioimageio.yaml", "kind": "example"})
    for model_id, recipe in RECIPES.items():
        try:
            built = cached_package(model_id, site.cache, log=lambda verb, what: say(verb, rel(Path(what))))
        except ZooUnavailable:
            say("skipped", f"models/{model_id} (pip install 'pyapp[{recipe.extra}]' to build it)")
            continue
        model = load(built, io_checks=True)
        mirror_dir(built, site.out / "models" / model_id)
        entry = {"id": model_id, "name": model.name, "description": model.description,
                 "url": f"models/{model_id}/bioimageio.yaml", "kind": recipe.kind}
        if recipe.sample:
            entry["sample"] = f"models/{model_id}/{recipe.sample}"
        index.append(entry)
    write_json(site.out / "models" / "index.json", index)
