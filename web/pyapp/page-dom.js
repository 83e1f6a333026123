// Small DOM helpers shared by the app page's panels (engine, package form, zoo browser).

/** A new element: `props` are assigned to it (id, className, textContent, onclick, …), `children` appended. */
export function el(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/** One timestamped line in the page's Log panel (if the page has one). */
export function log(text) {
  const pre = document.getElementById("log");
  if (pre) {
    pre.textContent += `${new Date().toTimeString().slice(0, 8)}  ${text}\n`;
    pre.scrollTop = pre.scrollHeight;
  }
}
