"use strict";
// Loads a bundled command with the V8 code cache that `npm run build` writes beside it
// (<bundle>.v8cache): compiling the probe's 250 KiB was a tenth of its start-up, and V8
// takes the cache instead. V8 checks the cache against the source and its own version and
// flags, and compiles as usual when it does not fit (another Node version); without a cache
// file the bundle is required as any module.
const { readFileSync } = require("node:fs");
const Module = require("node:module");
const { dirname } = require("node:path");
const vm = require("node:vm");

const CACHE_SUFFIX = ".v8cache";

/** The bundle as the script V8 compiles: the CommonJS wrapper around its source, as require() makes it. */
function compile(file, source, cachedData) {
  // No import() runs inside: plugins come through the command line's io.importModule (a vm script's
  // own import() needs Node's experimental loader for it, which warns).
  return new vm.Script(Module.wrap(source), { filename: file, cachedData });
}

/** The exports of the bundle at `file`. */
function loadBundle(file) {
  let source;
  let cachedData;
  try {
    source = readFileSync(file, "utf8");
    cachedData = readFileSync(file + CACHE_SUFFIX);
  } catch {
    return require(file);
  }
  return run(compile(file, source, cachedData), file).exports;
}

/** Runs the compiled bundle as require() runs a module; returns its module object. */
function run(script, file) {
  const module = { exports: {}, filename: file, id: file, loaded: false };
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file));
  module.loaded = true;
  return module;
}

/**
 * The code cache of the bundle at `file`, for the build: taken after the bundle's top level
 * has run, and after the command has run once with `warmArgs` when given (output
 * discarded), so that the functions its start-up runs are compiled and in the cache too.
 */
async function buildCache(file, warmArgs) {
  const script = compile(file, readFileSync(file, "utf8"));
  const module = run(script, file);
  if (warmArgs) {
    const { Writable, Readable } = require("node:stream");
    const discard = () => new Writable({ write: (_chunk, _enc, done) => done() });
    await module.exports.main(warmArgs, { stdout: discard(), stderr: discard(), stdin: Readable.from([]), env: { PATH: process.env.PATH } });
  }
  return script.createCachedData();
}

module.exports = { loadBundle, buildCache, CACHE_SUFFIX };
