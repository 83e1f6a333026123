// Which release and which build this page runs: version.json is written by the build (pyapp build) and
// precached with the rest, so it is shown offline too. The build id is the content hash of every cached file.
const URL_ = new URL("../version.json", import.meta.url);

/** Fetch {version, build} and show it in `el` (if given); resolves to the object, or null when unknown. */
export async function showVersion(el) {
  let info = null;
  try {
    const response = await fetch(URL_);
    if (response.ok) info = await response.json();
  } catch (err) {
    console.warn("pyapp: version.json could not be read", err);
  }
  if (el && info) {
    el.textContent = `v${info.version}`;
    el.title = `pyapp ${info.version}, build ${info.build}`;
    el.hidden = false;
  }
  return info;
}
