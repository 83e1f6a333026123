// Bundle entry of the plugin editor: CodeMirror 6 (basic setup, Python, a light theme), bundled by the build step
// "editor" (pyapp/sitebuild/editor.py, esbuild) into static/pyapp/editor.bundle.js. plugin-editor.js imports it
// lazily (the first "Edit"), so the workbench starts without it.
//   createEditor(parent, {doc, onSave}) -> EditorView; Mod-s calls onSave(view) (and never the browser's "save page")
import { basicSetup, EditorView } from "codemirror";
import { python } from "@codemirror/lang-python";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentUnit } from "@codemirror/language";

/** A light theme: white page, teal cursor and selection, the workbench's colours. */
export const lightTheme = EditorView.theme({
  "&": { backgroundColor: "#fff", color: "#10181f", fontSize: "13px", border: "1px solid #d5dde3", borderRadius: "8px" },
  "&.cm-focused": { outline: "2px solid rgba(18,120,143,.35)" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", lineHeight: "1.45" },
  ".cm-content": { caretColor: "#0e5a6e" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "#0e5a6e" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection":
    { backgroundColor: "#cfe8ee" },
  ".cm-gutters": { backgroundColor: "#f4f6f8", color: "#6b7a86", border: "none", borderRadius: "8px 0 0 8px" },
  ".cm-activeLine": { backgroundColor: "#f2f8fa" },
  ".cm-activeLineGutter": { backgroundColor: "#e4eff3" },
}, { dark: false });

export function createEditor(parent, { doc = "", onSave = null } = {}) {
  const save = keymap.of([{ key: "Mod-s", preventDefault: true, run: (view) => { if (onSave) onSave(view); return true; } }]);
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [save, basicSetup, python(), indentUnit.of("    "), lightTheme, EditorView.lineWrapping],
    }),
  });
}

export { EditorView, EditorState };
