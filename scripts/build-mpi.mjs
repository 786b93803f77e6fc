#!/usr/bin/env node
/**
 * Builds mnist-dp's MPI binding (src/mpi/binding.c) into dist/mpi/mpi.node with the MPI's own compiler
 * wrapper (mpicc, or $MPICC), against Node-API's header from Node's own include folder: no node-gyp, no
 * downloads. `npm run build:mpi` builds it and fails where it cannot; with --optional (as `npm run build`
 * calls it) a machine without MPI skips it with one line, and mnist-dp trains on one machine as before.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'mpi', 'binding.c');
const out = join(root, 'dist', 'mpi', 'mpi.node');
const mpicc = process.env.MPICC || 'mpicc';
const INSTALL = 'install an MPI with its compiler wrapper (Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin; or load your cluster\'s MPI module), then run npm run build:mpi';

function stop(message) {
  if (optional) {
    console.log(`build:mpi: skipped, ${message} (mnist-dp trains on one machine; for MPI ${INSTALL})`);
    process.exit(0);
  }
  console.error(`build:mpi: ${message}; ${INSTALL}`);
  process.exit(1);
}

if (spawnSync(mpicc, ['--version'], { stdio: 'ignore' }).error) stop(`no MPI compiler wrapper (${mpicc}) on the PATH`);
const includes = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
const include = includes.find((dir) => existsSync(join(dir, 'node_api.h')));
if (!include) stop(`Node's headers (node_api.h) are not in ${includes.join(' or ')}`);
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp`;
try {
  execFileSync(mpicc, ['-O2', '-shared', '-fPIC', '-Wall', '-Wno-unused-parameter', `-I${include}`, '-o', tmp, source], { stdio: 'inherit' });
} catch {
  stop(`${mpicc} failed to compile ${source}`);
}
renameSync(tmp, out); // never a half-written binding
console.log(`build:mpi: built ${out}`);
