// loadPyodide options for every worker of the site: the standard library and the packages precompiled to
// CPython 3.12 bytecode at build time (pyodide/pyc/, see pyapp/sitebuild/pyc.py), so imports skip compiling.
//   loadPyodide({ ...pyodideOptions(new URL("../pyodide/", import.meta.url).href), packages: [...] })
export function pyodideOptions(indexURL) {
  return {
    indexURL,
    lockFileURL: `${indexURL}pyc/pyodide-lock.json`,  // the lock's compiled packages live in pyc/
    stdLibURL: `${indexURL}pyc/python_stdlib.zip`,
  };
}
