"""pyapp.plugins: the PEP 723 and ImJoy plugin formats, their validation messages, and write_plugin.

Bad-manifest cases are small mutators of a valid fixture; each docstring holds the expected message fragment.
Pure Python: runs in CPython and inside Pyodide (fixtures are read relative to this file).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from pyapp.plugins import Manifest, Plugin, PluginError, PluginWarning, imjoy_shim, load_plugin, write_plugin

DATA = Path(__file__).parent / "data" / "plugins"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
FIXTURES = ["calculator.py", "caller.py", "calculator.imjoy.html", "caller.imjoy.html"]


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# ---- valid plugins ----------------------------------------------------------------------------------------------


def test_calculator_pep723() -> None:
    plugin = load_plugin(read("calculator.py"), filename="calculator.py")
    m = plugin.manifest
    assert (m.name, m.version, m.type, m.tags, m.icon, plugin.tag) == (
        "Calculator", "0.2.0", "web-python", ("stable", "dev"), "calculate", "stable")
    assert m.ui[2] == {"op": "{id: 'op', type: 'choose', options: ['add', 'sub', 'mul'], placeholder: 'add'}"}
    assert m.inputs == {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}
    assert m.flags == ("functional",) and m.dependencies == () and plugin.runs_here
    assert plugin.docs.startswith("A calculator") and plugin.code == read("calculator.py")
    assert load_plugin(read("calculator.py").encode(), filename="calculator.py", tag="dev").manifest.icon == "🧮"


def test_caller_pep723() -> None:
    m = load_plugin(read("caller.py"), filename="caller.py").manifest
    assert (m.name, m.dependencies, m.plugin_dependencies, m.requires_python) == (
        "Calculator caller", ("numpy",), ("Calculator",), ">=3.12")


def test_calculator_imjoy_tags_select_config_and_script() -> None:
    stable = load_plugin(read("calculator.imjoy.html"), filename="calculator.imjoy.html")
    dev = load_plugin(read("calculator.imjoy.html"), filename="calculator.imjoy.html", tag="dev")
    assert (stable.tag, stable.manifest.icon, stable.manifest.dependencies) == ("stable", "calculate", ())
    assert (dev.tag, dev.manifest.icon, dev.manifest.dependencies) == ("dev", "🧮", ("numpy",))
    assert "(stable) ready" in stable.code and "np.add" in dev.code and "np.add" not in stable.code
    assert stable.docs.startswith("# Calculator") and stable.format == "imjoy"
    assert stable.manifest.api_version == "0.1.8" and stable.manifest.inputs is None


def test_caller_imjoy_yaml() -> None:
    plugin = load_plugin(read("caller.imjoy.html"), filename="caller.imjoy.html")
    m = plugin.manifest
    assert (m.name, m.dependencies, m.plugin_dependencies, m.tags, plugin.tag) == (
        "Calculator caller", ("numpy",), ("Calculator",), (), "")
    assert plugin.code.startswith("from imjoy import api\n")  # dedented


ROUNDTRIPS = [(name, None) for name in FIXTURES] + [(name, "dev") for name in FIXTURES if "calculator" in name]


@pytest.mark.parametrize(("name", "tag"), ROUNDTRIPS)
def test_write_plugin_roundtrip(name: str, tag: str | None) -> None:
    plugin = load_plugin(read(name), filename=name, tag=tag)
    text = write_plugin(plugin)
    again = load_plugin(text, filename="converted.py")
    assert again.tag == plugin.tag and again.docs == plugin.docs
    assert again.manifest == dataclasses.replace(plugin.manifest, tags=again.manifest.tags)
    assert sorted(again.manifest.tags) == sorted(plugin.manifest.tags)
    assert write_plugin(again) == text  # idempotent
    body = plugin.code if plugin.format == "imjoy" else plugin.code.split("# ///\n", 1)[1]
    assert body.strip() in again.code


def test_other_types_load_with_a_warning() -> None:
    src = read("calculator.py").replace('name = "Calculator"', 'name = "Calculator"\n# type = "native-python"')
    with pytest.warns(PluginWarning, match="'native-python' plugins do not run in pyapp"):
        plugin = load_plugin(src, filename="calculator.py")
    assert not plugin.runs_here


def test_imjoy_ignored_fields_warn() -> None:
    src = read("calculator.imjoy.html").replace('"permissions": []', '"permissions": ["camera"], "cmd": "python3"')
    with pytest.warns(PluginWarning, match=r"\['cmd', 'permissions'\] have no meaning"):
        load_plugin(src, filename="calculator.imjoy.html")


def test_every_manifest_field_is_documented() -> None:
    for spec in dataclasses.fields(Manifest):
        assert len(spec.metadata.get("doc", "")) > 10, spec.name
    for spec in dataclasses.fields(Plugin):
        assert spec.metadata.get("doc"), spec.name


def test_imjoy_shim_forwards_to_connected_api() -> None:
    class Api:
        def log(self, text: str) -> str:
            return f"logged {text}"

    api = type(imjoy_shim.api)()
    with pytest.raises(RuntimeError, match="has not connected"):
        api.log("x")
    api._connect(Api())
    assert api.log("x") == "logged x"


@pytest.mark.skipif(not DOCS.is_file(), reason="docs/ is not shipped (e.g. inside Pyodide)")
def test_docs_example_plugin_loads() -> None:
    blocks = re.findall(r"```python\n(# /// script\n.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/plugins.md must hold a complete example plugin"
    for block in blocks:
        assert load_plugin(block, filename="example.py").runs_here
    html = re.findall(r"```html\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert html and load_plugin(html[0], filename="example.imjoy.html").manifest.dependencies == ("numpy",)


# ---- bad plugins: one mutator per rule, the docstring is the expected message fragment -------------------------


def _pep(old: str, new: str) -> Callable[[str], str]:
    return lambda src: src.replace(old, new, 1) if old in src else pytest.fail(f"fixture lacks {old!r}")


def tags_item_not_a_string(src: str) -> str:
    """calculator.py: tool.pyapp.tags[1]: expected a string, got 3"""
    return _pep('tags = ["stable", "dev"]', 'tags = ["stable", 3]')(src)


def unknown_field(src: str) -> str:
    """calculator.py: tool.pyapp.colour: unknown field; allowed: name, version, description, type, tags"""
    return _pep('license = "MIT"', 'colour = "red"')(src)


def name_missing(src: str) -> str:
    """calculator.py: tool.pyapp.name: field required"""
    return _pep('# name = "Calculator"\n', "")(src)


def type_misspelt(src: str) -> str:
    """tool.pyapp.type: expected one of web-python, web-worker, window, native-python, got 'web-pyhton'"""
    return _pep('# name = "Calculator"', '# name = "Calculator"\n# type = "web-pyhton"')(src)


def bad_requirement(src: str) -> str:
    """calculator.py: dependencies[0]: not a PEP 508 requirement: 'numpy=='"""
    return _pep("# dependencies = []", '# dependencies = ["numpy=="]')(src)


def requirements_and_dependencies(src: str) -> str:
    """tool.pyapp.requirements: given together with top-level `dependencies`; keep one"""
    return _pep('# license = "MIT"', '# license = "MIT"\n# requirements = ["numpy"]')(src)


def dependencies_inside_tool_table(src: str) -> str:
    """tool.pyapp.dependencies: packages go in the top-level `dependencies` list (PEP 723)"""
    return _pep('# license = "MIT"', '# license = "MIT"\n# dependencies = ["numpy"]')(src)


def unknown_top_level_key(src: str) -> str:
    """calculator.py: python: unknown top-level field; PEP 723 allows dependencies, requires-python, tool"""
    return _pep("# dependencies = []", '# dependencies = []\n# python = "3.12"')(src)


def no_metadata_block(src: str) -> str:
    """calculator.py: no PEP 723 metadata block; start the file with:"""
    return src.replace("# /// script", "# script")


def invalid_toml(src: str) -> str:
    """calculator.py: script metadata: invalid TOML (block starts at line 1)"""
    return _pep('# license = "MIT"', "# license = MIT")(src)


def python_syntax_error(src: str) -> str:
    """calculator.py: line 26: Python syntax error"""
    return _pep("OPS = {", "OPS = {{{")(src)


def tag_map_with_unknown_key(src: str) -> str:
    """tool.pyapp.icon: per-tag map keys ['gpu'] are not among tags ['stable', 'dev']"""
    return _pep('dev = "🧮"', 'gpu = "🧮"')(src)


def ui_wrong_type(src: str) -> str:
    """tool.pyapp.ui: expected a string or a list of strings and objects, got 3"""
    return re.sub(r"(?ms)^# ui = \[$.*?^# \]$", "# ui = 3", src)


def runnable_not_bool(src: str) -> str:
    """calculator.py: tool.pyapp.runnable: expected true or false, got 'no'"""
    return _pep('# license = "MIT"', '# license = "MIT"\n# runnable = "no"')(src)


def inputs_not_schema(src: str) -> str:
    """tool.pyapp.outputs: expected a JSON-schema object such as {"type": "object"} or a list of them, got 'x'"""
    return _pep('# outputs = { type = "number" }', '# outputs = "x"')(src)


def lang_javascript(src: str) -> str:
    """tool.pyapp.lang: expected 'python' (the only script language pyapp runs), got 'javascript'"""
    return _pep('# license = "MIT"', '# license = "MIT"\n# lang = "javascript"')(src)


def imjoy_conda_requirement(src: str) -> str:
    """calculator.imjoy.html: config.requirements[0]: 'conda:numpy' cannot be installed in the browser"""
    return _pep('"stable": [], "dev"', '"stable": ["conda:numpy"], "dev"')(src)


def imjoy_window_type(src: str) -> str:
    """calculator.imjoy.html: config.type: 'window' plugins are JavaScript"""
    return _pep('"type": "web-python"', '"type": "window"')(src)


def imjoy_invalid_json(src: str) -> str:
    """calculator.imjoy.html: <config>: invalid JSON (block at line 7)"""
    return _pep('"version": "0.2.0",', '"version": "0.2.0",,')(src)


def imjoy_no_script_for_tag(src: str) -> str:
    """<script>: no <script> block for tag 'stable' and none without a tag"""
    return _pep('tag="stable"', 'tag="old"')(src)


def imjoy_script_not_python(src: str) -> str:
    """calculator.imjoy.html: <script>: lang must be 'python', got 'javascript'"""
    return _pep('<script lang="python" tag="stable">', '<script lang="javascript" tag="stable">')(src)


def imjoy_unknown_field(src: str) -> str:
    """calculator.imjoy.html: config.colour: unknown field; allowed: name, version"""
    return _pep('"env": "",', '"env": "", "colour": "red",')(src)


def imjoy_two_configs(src: str) -> str:
    """calculator.imjoy.html: <config>: expected one <config> block, found 2"""
    return src + '\n<config lang="json">{}</config>\n'


def imjoy_name_missing(src: str) -> str:
    """calculator.imjoy.html: config.name: field required"""
    return _pep('"name": "Calculator",', "")(src)


def imjoy_python_syntax_error(src: str) -> str:
    """calculator.imjoy.html: <script> line 35: Python syntax error"""
    return _pep("class Calculator:\n    async def setup(self):\n        await api.log(\"Calculator (stable)",
                "class Calculator:\n    async def setup(self)\n        await api.log(\"Calculator (stable)")(src)


PEP723_MUTATORS = [
    tags_item_not_a_string, unknown_field, name_missing, type_misspelt, bad_requirement,
    requirements_and_dependencies, dependencies_inside_tool_table, unknown_top_level_key, no_metadata_block,
    invalid_toml, python_syntax_error, tag_map_with_unknown_key, ui_wrong_type, runnable_not_bool,
    inputs_not_schema, lang_javascript,
]
IMJOY_MUTATORS = [
    imjoy_conda_requirement, imjoy_window_type, imjoy_invalid_json, imjoy_no_script_for_tag,
    imjoy_script_not_python, imjoy_unknown_field, imjoy_two_configs, imjoy_name_missing, imjoy_python_syntax_error,
]


@pytest.mark.parametrize(
    ("mutator", "filename"),
    [(m, "calculator.py") for m in PEP723_MUTATORS] + [(m, "calculator.imjoy.html") for m in IMJOY_MUTATORS],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_bad_plugin_messages(mutator: Callable[[str], str], filename: str) -> None:
    with pytest.raises(PluginError) as info:
        load_plugin(mutator(read(filename)), filename=filename)
    message = str(info.value)
    assert "\n" not in message.split(";")[0], "the first error must fit on one line"
    assert mutator.__doc__ in message, message
    assert info.value.issues and all(isinstance(p, str) and m for p, m in info.value.issues)


def test_first_error_is_one_line_with_count() -> None:
    src = tags_item_not_a_string(read("calculator.py")).replace('license = "MIT"', 'colour = "red"')
    with pytest.raises(PluginError) as info:
        load_plugin(src, filename="calc.py")
    assert str(info.value) == "calc.py: tool.pyapp.tags[1]: expected a string, got 3 (and 1 more)"
    assert info.value.issues[1][0] == "tool.pyapp.colour"


def test_requested_tag_must_exist() -> None:
    with pytest.raises(PluginError, match=r"tool.pyapp.tags: the requested tag 'gpu' is not one of"):
        load_plugin(read("calculator.py"), filename="calculator.py", tag="gpu")


def test_network_permissions_are_one_origin_each() -> None:
    src = read("calculator.py").replace('# name = "Calculator"', '# name = "Calculator"\n'
                                        '# permissions = ["network:HTTPS://Example.org/", "network:http://127.0.0.1:8765"]')
    assert load_plugin(src, filename="calc.py").manifest.permissions == (
        "network:https://example.org", "network:http://127.0.0.1:8765")
    assert load_plugin(read("calculator.py"), filename="calc.py").manifest.permissions == ()
    for bad in ("network:*", "network:https://a.org/path", "camera", "network:https://*.a.org", "network:ftp://a"):
        with pytest.raises(PluginError, match=r"tool.pyapp.permissions\[0\]: not a permission"):
            load_plugin(src.replace('"network:HTTPS://Example.org/"', f'"{bad}"'), filename="calc.py")
