// Runs one javascript cell, its code read from stdin, the way a notebook does: the value of
// its last expression is its main result, written as one JSON line (a mime bundle) to the
// file descriptor named by the first argument. Started by the agent's `languages` module.
'use strict';
const fs = require('fs');
const path = require('path');
const util = require('util');
const vm = require('vm');
const { createRequire } = require('module');

const resultFd = Number(process.argv[2]);
const code = fs.readFileSync(0, 'utf8');
const cellFile = path.join(process.cwd(), 'cell.js');

// What a script run with `node file.js` in the working directory would have.
globalThis.require = createRequire(cellFile);
globalThis.__filename = cellFile;
globalThis.__dirname = process.cwd();

// The stack of an error thrown by the cell, without this runner's frames below it.
function describe(err) {
  if (!(err instanceof Error) || typeof err.stack !== 'string') {
    return `Uncaught ${util.inspect(err)}`;
  }
  const lines = err.stack.split('\n');
  const runner = lines.findIndex((line) => line.includes('node:vm') || line.includes(__filename));
  return (runner > 0 ? lines.slice(0, runner) : lines).join('\n');
}

let value;
try {
  value = vm.runInThisContext(code, { filename: 'cell.js' });
} catch (err) {
  process.stderr.write(`${describe(err)}\n`);
  process.exitCode = 1;
  return;
}
if (value !== undefined) {
  const bundle = { 'text/plain': util.inspect(value), isMainResult: true };
  fs.writeSync(resultFd, `${JSON.stringify(bundle)}\n`);
}
fs.closeSync(resultFd);
