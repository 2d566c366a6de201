// The floor of any CLI that starts Node per call and then runs a container: Node starts, spawns
// crun (the fastest runtime here) on the bundle, waits, exits with its status. No hako code runs.
// bench/oci.sh measures it beside `hako run` and `runc run` (the cold target is 1.5x runc).
// Usage: node bench/node-crun.cjs ROOT BUNDLE ID-PREFIX
'use strict';
const [root, bundle, prefix] = process.argv.slice(2);
const r = require('node:child_process').spawnSync('crun', ['--root', root, 'run', '--bundle', bundle, `${prefix}-${process.pid}`], { stdio: 'inherit' });
process.exit(r.status ?? 1);
