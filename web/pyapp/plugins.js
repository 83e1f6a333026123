// The plugin host of this page: importing this module installs window.pyapp.plugins (see plugin-host.js for the
// API) and re-exports the rpc codec (rpc-codec.js) for pages and tests.
//   await plugins.load(urlOrSource, {filename, tag, permissions}) -> {name, version, description, interface, ...}
//   plugins.list(), await plugins.call(name, fn, args), plugins.kill(name), plugins.events, plugins.windows
// Each plugin runs in a sandboxed Pyodide worker (sandbox.js): another origin than the app, no network unless
// the user approved a "network:https://host" permission. The service "pyapp.models" (predict, models, describe,
// classify) is the page's model worker. Every api event is also dispatched on window as a "pyapp-plugin-event"
// CustomEvent. A failed remote call rejects with an Error whose message is the traceback's last line
// ("ValueError: ...") and whose .remoteTraceback is the whole text.
import { createPluginHost } from "./plugin-host.js";

export { CodecError, NDArray, RemoteError, decode, encode, pack, unpack } from "./rpc-codec.js";
export { createPluginHost } from "./plugin-host.js";

const host = createPluginHost();
if (typeof window !== "undefined") {
  window.pyapp = window.pyapp || {};
  window.pyapp.plugins = host;
}
export default host;
