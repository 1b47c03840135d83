// Parses each PowerShell file named on the command line with the
// tree-sitter PowerShell grammar and prints every syntax error as
// FILE:LINE:COL. Exit status 1 when any file has an error.
const { Parser, Language } = require('web-tree-sitter');
const fs = require('fs');

(async () => {
  await Parser.init();
  const lang = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
  const parser = new Parser();
  parser.setLanguage(lang);
  let failed = 0;
  const files = process.argv.slice(2);
  for (const file of files) {
    const tree = parser.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
    const errors = [];
    const walk = (n) => {
      if (n.type === 'ERROR' || n.isMissing) errors.push(n);
      else if (n.hasError) for (const c of n.children) walk(c);
    };
    walk(tree.rootNode);
    for (const e of errors.slice(0, 10)) {
      console.log(`${file}:${e.startPosition.row + 1}:${e.startPosition.column + 1}: syntax error near ${JSON.stringify(e.text.slice(0, 60))}`);
    }
    if (errors.length > 0) failed++;
  }
  console.log(`${files.length - failed} parsed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
})();
