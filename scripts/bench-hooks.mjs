// @ts-check
// Runner plugin benchmark: the runner's container hooks as the runner
// drives them (one `node HOOKS` process per command, its JSON on stdin, the
// response file; test/helpers/runner-hooks.ts replays them), on a job whose
// workspace holds 20,000 files. Measured, each hook process's wall time:
//   prepare_job                    (split: the VM's start, which holds the VM
//                                   boot, and the hook's own work)
//   run_script_step, unchanged     a step that changes nothing in the workspace
//   run_script_step, 10 files      a step that rewrites 10 of the 20,000
//   cleanup_job
// against the anchor of the same step script run with bash on the host, as
// a runner without a job container runs it. Medians over every step of
// every job, the hook and the anchor alternating.
//
// The hooks run from this checkout's sources (src/hooks/main.ts and
// vms-binding.ts bundled as dist/hooks.js is, plus a timing wrapper around
// the VM calls). Where this host's KVM cannot boot Linux the VM is guest
// init's test mode (scripts/lib/bench-vms.mjs), where guest paths are this
// host's: the wrapper then puts the job's guest paths (/__w, /github, ...)
// under a scratch directory, and, since test mode mounts no disks, copies
// the runner's directories in over the session instead of on the volume disk
// a VM gets (the runner's externals, its Node.js, are not copied at all). The
// output says what was measured and what was not.
//
//   node scripts/bench-hooks.mjs [--jobs N] [--steps N] [--files N] [--json FILE]
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from './lib/cache.mjs';
import { benchVm, bundleModules, runBench, bundleScript, median, option, timedSpawn } from './lib/bench-vms.mjs';

const argv = process.argv.slice(2);
const jobs = Number(option(argv, '--jobs', '3'));
const steps = Number(option(argv, '--steps', '3'));
const FILES = Number(option(argv, '--files', '20000'));
const jsonOut = option(argv, '--json', undefined);
const log = (/** @type {string} */ m) => process.stderr.write(`bench-hooks: ${m}\n`);
const CHANGED = 10;

/**
 * The hook process: src/hooks.ts's dispatch over the real bindVms, with every
 * VM call timed into $BENCH_TIMINGS; in test mode ($BENCH_GUEST_ROOT) guest
 * paths are moved under that directory and start's volumes are put in over
 * the session.
 */
const HOOK_ENTRY = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hookMain } from ${JSON.stringify(join(repoRoot, 'src/hooks/main.ts'))};
import { bindVms } from ${JSON.stringify(join(repoRoot, 'src/hooks/vms-binding.ts'))};
import { pushHostTree } from ${JSON.stringify(join(repoRoot, 'src/hooks/transfer.ts'))};

const root = process.env.BENCH_GUEST_ROOT || '';
const note = (what, t0) => appendFileSync(process.env.BENCH_TIMINGS, JSON.stringify({ what, ms: performance.now() - t0 }) + '\\n');
const GUEST_DIRS = ['/__w', '/__e', '/github'];
const inGuestDirs = (s) => GUEST_DIRS.some((d) => s === d || s.startsWith(d + '/'));
/** A guest path in test mode: beneath the scratch root (any absolute path, so that /etc/alpine-release is not the host's). */
const g = (p) => (root && p.startsWith('/') && !p.startsWith(root + '/') ? join(root, p) : p);
/** A path inside a command line or an environment value: only the runner's directories move. */
const inText = (s) => (root && inGuestDirs(s) ? join(root, s) : s);

function timed(inner) {
  let manifests = 0;
  return {
    ...inner,
    async start(spec, signal, progress) {
      let t0 = performance.now();
      if (!root) {
        const id = await inner.start(spec, signal, progress);
        note('start', t0);
        return id;
      }
      const id = await inner.start({ ...spec, workdir: spec.workdir && g(spec.workdir), volumes: [] }, signal, progress);
      note('start', t0);
      t0 = performance.now();
      for (const v of spec.volumes) {
        if (v.guestPath === '/__e') continue;
        await pushHostTree(inner, id, v.hostPath, g(v.guestPath), join(process.env.BENCH_WORK, 'manifest-' + process.pid + '-' + manifests++ + '.json'));
      }
      note('volumes', t0);
      return id;
    },
    async exec(id, s) {
      const t0 = performance.now();
      const r = await inner.exec(id, { ...s, argv: s.argv.map(inText), env: s.env.map((e) => { const i = e.indexOf('='); return e.slice(0, i + 1) + e.slice(i + 1).split(':').map(inText).join(':'); }), prependPath: s.prependPath.map(inText), workdir: g(s.workdir) });
      note('exec', t0);
      return r;
    },
    async put(id, guestPath, entries) {
      const t0 = performance.now();
      await inner.put(id, g(guestPath), entries);
      note('put', t0);
    },
    async list(id, guestPath) {
      const t0 = performance.now();
      const r = await inner.list(id, g(guestPath));
      note('list', t0);
      return r;
    },
    get(id, guestPath) {
      const it = inner.get(id, g(guestPath));
      return {
        async *[Symbol.asyncIterator]() {
          const t0 = performance.now();
          try {
            yield* it;
          } finally {
            note('get', t0);
          }
        },
      };
    },
    async stop(id) {
      const t0 = performance.now();
      await inner.stop(id);
      note('stop', t0);
    },
  };
}

void hookMain({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }, () => timed(bindVms(process.env))).then((code) => {
  process.exitCode = code;
});
`;

/** The workspace after a checkout: FILES files of 1 to 4 KiB in 200 directories. @param {string} dir */
function writeWorkspace(dir) {
  const block = Buffer.alloc(4096, 0x61);
  for (let d = 0; d < 200; d++) mkdirSync(join(dir, `d${d}`), { recursive: true });
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, `d${i % 200}`, `f${i}.txt`), block.subarray(0, 1024 + ((i * 7919) % 3073)));
}

/** The step that changes files: rewrites CHANGED of them with a token of its own. @param {string} token */
const changingScript = (token) => `for i in $(seq 0 ${CHANGED - 1}); do echo "${token}" > d$i/f$i.txt; done\n`;

/** @param {string} work */
async function main(work) {
  const lib = await bundleModules('bench-hooks', {
    'src/engine/vm-port.ts': ['probeKvm'],
    'test/helpers/busybox-image.ts': ['writeBusyboxLayout'],
    'test/helpers/debian-job-image.ts': ['writeDebianJobImage'],
    'test/helpers/guest-init.ts': ['guestInitBinary'],
    'test/helpers/artifacts.ts': ['builtArtifacts'],
    'test/helpers/runner-hooks.ts': ['makeRunnerLayout', 'jobContainerArgs', 'scriptStep', 'stepFileCommands', 'runHook'],
  });
  const vm = await benchVm(work, lib);
  log(`measuring on ${vm.mode}`);
  const entryDir = join(repoRoot, '.vmstep', 'bench-hooks-entry');
  mkdirSync(entryDir, { recursive: true });
  writeFileSync(join(entryDir, 'hooks.ts'), HOOK_ENTRY);
  const hooks = await bundleScript('bench-hooks-entry', join(entryDir, 'hooks.ts'));

  // The job image: in a VM it must run bash; in test mode the host's bash runs the steps.
  const imageDir = join(work, 'image');
  if (vm.real) lib.writeDebianJobImage(imageDir);
  else lib.writeBusyboxLayout(imageDir, { Cmd: ['/bin/sh'] });
  const l = lib.makeRunnerLayout(join(work, 'runner'));
  writeWorkspace(l.workspace);
  const anchorWs = join(work, 'anchor-ws');
  await timedSpawn('cp', ['-a', l.workspace, anchorWs]);
  const guestRoot = join(work, 'guest');
  if (!vm.real) mkdirSync(guestRoot);
  const hookEnv = { ...vm.env, BENCH_WORK: work, ...(vm.real ? {} : { BENCH_GUEST_ROOT: guestRoot }) };
  // The image's root filesystem is built once, before any timing, as a runner that ran the image before has it cached.
  await timedSpawn(process.execPath, ['--', vm.cli, 'run', '--vcpus', '1', '--memory', '512M', `oci:${imageDir}`, 'true'], { env: vm.env, cwd: work });
  const container = lib.jobContainerArgs(l, `oci:${imageDir}`, { createOptions: '--cpus 1 --memory 512m' });

  let n = 0;
  /** Runs one hook command; its wall time and the VM calls' times inside it. @param {string} command @param {unknown} args @param {unknown} state */
  const hook = async (command, args, state) => {
    const timings = join(work, `timings-${n++}.jsonl`);
    writeFileSync(timings, '');
    const t0 = performance.now();
    const r = await lib.runHook(l, { command, args, state }, { entry: hooks, env: { ...hookEnv, BENCH_TIMINGS: timings } });
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`${command} exited with ${r.code ?? r.signal}: ${r.stderr}${r.stdout.slice(-2000)}`);
    /** @type {Record<string, number>} */
    const calls = {};
    for (const line of readFileSync(timings, 'utf8').split('\n').filter(Boolean)) {
      const { what, ms: t } = JSON.parse(line);
      calls[what] = (calls[what] ?? 0) + t;
    }
    // What is left is the hook process's own time: Node.js start, loading the plugin, its manifests and diffs.
    calls.own = ms - Object.values(calls).reduce((a, b) => a + b, 0);
    return { ms, calls, response: r.response };
  };
  const anchor = (/** @type {string} */ script) => timedSpawn('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', script], { cwd: anchorWs });

  /** @type {{ prepare: { ms: number, calls: Record<string, number> }[], unchanged: { ms: number, calls: Record<string, number> }[], changed: { ms: number, calls: Record<string, number> }[], cleanup: { ms: number, calls: Record<string, number> }[], anchorUnchanged: number[], anchorChanged: number[] }} */
  const t = { prepare: [], unchanged: [], changed: [], cleanup: [], anchorUnchanged: [], anchorChanged: [] };
  for (let j = 0; j < jobs; j++) {
    const p = await hook('prepare_job', { container, services: [] }, null);
    t.prepare.push(p);
    const state = /** @type {{ state: unknown }} */ (p.response).state;
    log(`job ${j + 1}/${jobs}: prepare_job ${p.ms.toFixed(0)} ms ${JSON.stringify(p.calls, (_k, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
    for (let s = 0; s < steps; s++) {
      const idle = lib.scriptStep(l, 'true\n', lib.stepFileCommands(l).env);
      const u = await hook('run_script_step', idle, state);
      t.unchanged.push(u);
      t.anchorUnchanged.push(await anchor(join(l.temp, idle.entryPointArgs.at(-1).split('/').at(-1))));
      const token = `job ${j} step ${s}`;
      const busy = lib.scriptStep(l, changingScript(token), lib.stepFileCommands(l).env);
      const c = await hook('run_script_step', busy, state);
      t.changed.push(c);
      // The step's changes are on the host afterwards, as hashFiles() and later host steps need them.
      const back = readFileSync(join(l.workspace, 'd3', 'f3.txt'), 'utf8');
      if (back !== `${token}\n`) throw new Error(`after the step the host's workspace holds ${JSON.stringify(back)} in d3/f3.txt, not the step's ${JSON.stringify(token)}`);
      t.anchorChanged.push(await anchor(join(l.temp, busy.entryPointArgs.at(-1).split('/').at(-1))));
      log(`job ${j + 1} step ${s + 1}/${steps}: unchanged ${u.ms.toFixed(0)} ms (host ${t.anchorUnchanged.at(-1)?.toFixed(1)}), ${CHANGED} changed ${c.ms.toFixed(0)} ms (host ${t.anchorChanged.at(-1)?.toFixed(1)})`);
    }
    const cl = await hook('cleanup_job', {}, state);
    t.cleanup.push(cl);
    log(`job ${j + 1}/${jobs}: cleanup_job ${cl.ms.toFixed(0)} ms`);
    // The next job starts from an empty guest, as a new VM does.
    if (!vm.real) {
      rmSync(guestRoot, { recursive: true, force: true });
      mkdirSync(guestRoot);
    }
  }
  // The floor under every hook command: Node.js itself, and Node.js loading the plugin (input it refuses: exit status 125).
  const node = [];
  const load = [];
  for (let i = 0; i < 5; i++) {
    node.push(await timedSpawn(process.execPath, ['-e', '']));
    load.push(await timedSpawn(process.execPath, [hooks], { env: hookEnv, input: '{}', status: 125 }));
  }

  const med = (/** @type {{ ms: number, calls: Record<string, number> }[]} */ xs) => ({
    ms: median(xs.map((x) => x.ms)),
    calls: Object.fromEntries([...new Set(xs.flatMap((x) => Object.keys(x.calls)))].map((k) => [k, median(xs.map((x) => x.calls[k] ?? 0))])),
  });
  const result = {
    mode: vm.mode,
    vm: vm.real,
    workspaceFiles: FILES,
    changedFiles: CHANGED,
    jobs,
    stepsPerJob: steps,
    prepareJob: med(t.prepare),
    scriptStepUnchanged: med(t.unchanged),
    scriptStepChanged: med(t.changed),
    cleanupJob: med(t.cleanup),
    hostBash: { unchangedMs: median(t.anchorUnchanged), changedMs: median(t.anchorChanged) },
    nodeStartMs: median(node),
    hookLoadMs: median(load),
  };
  const ms = (/** @type {number} */ x) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;
  /** The VM calls inside a hook (each a median), then the hook process's own time. @param {{ calls: Record<string, number> }} x */
  const split = (x) => [...Object.entries(x.calls).filter(([k]) => k !== 'own' && k !== 'start' && k !== 'volumes').map(([k, v]) => `${k} ${ms(v)}`), `the hook process's own ${ms(x.calls.own ?? NaN)}`].join(', ');
  const pj = result.prepareJob;
  const lines = [
    `runner plugin benchmark on ${vm.real ? 'a real VM' : "guest init's test mode (NOT a VM; see above)"}; a workspace of ${FILES} files; medians of ${jobs} jobs, ${jobs * steps} steps of each kind; each hook is its own Node.js process, as the runner runs it; the parts of a hook are medians each, so they need not add up to its median`,
    '| hook command | vmstep hooks | anchor | ratio |',
    '| --- | --- | --- | --- |',
    `| prepare_job | ${ms(pj.ms)}: the VM's start ${ms(pj.calls.start ?? NaN)}${vm.real ? ' (holds the VM boot: VMM, guest kernel, guest init, and the volume disk of the runner\'s directories)' : ' (test mode: keeper and test double, no boot, no disk)'}${pj.calls.volumes !== undefined ? `, the runner's directories put in over the session ${ms(pj.calls.volumes)} (test mode only: a VM gets them on a volume disk, built in its start)` : ''}, then ${split(pj)} | (none: a runner without container prepares nothing) | |`,
    `| run_script_step, workspace unchanged | ${ms(result.scriptStepUnchanged.ms)} (${split(result.scriptStepUnchanged)}) | ${ms(result.hostBash.unchangedMs)} (the same script with bash on the host) | ${(result.scriptStepUnchanged.ms / result.hostBash.unchangedMs).toFixed(1)}x |`,
    `| run_script_step, ${CHANGED} of ${FILES} files rewritten | ${ms(result.scriptStepChanged.ms)} (${split(result.scriptStepChanged)}) | ${ms(result.hostBash.changedMs)} (the same script with bash on the host) | ${(result.scriptStepChanged.ms / result.hostBash.changedMs).toFixed(1)}x |`,
    `| cleanup_job | ${ms(result.cleanupJob.ms)} (${split(result.cleanupJob)}) | (none) | |`,
    `Under every hook command: Node.js start (\`node -e ''\`) ${ms(result.nodeStartMs)}; Node.js loading the plugin and refusing its input ${ms(result.hookLoadMs)}. Per step, exec is the step's command in the VM; put is the runner's _temp going in; list and get are the file commands and the workspace coming back.`,
    vm.real
      ? 'The VM boot is inside prepare_job\'s start only; steps and cleanup_job boot nothing.'
      : 'Not measured here: the VM boot (prepare_job\'s start boots nothing in test mode), the volume disk and the externals\' disk of a real prepare_job, virtio-vsock, and the guest kernel\'s file system under list/get/put; the steps\' commands ran on this host.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
}

runBench('hooks', main);
