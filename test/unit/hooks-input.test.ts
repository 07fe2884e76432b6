// The hook's input as the runner writes it (field shapes from actions/runner's
// HookInput.cs, serialised camelCase with nulls), and the refusals of input
// the runner would never send.
import { describe, expect, it } from 'vitest';
import { VmstepError } from '../../src/engine/errors.js';
import { splitCommandLine, stepArgv } from '../../src/hooks/command-line.js';
import { ignoredOptionsWarning, parseCreateOptions } from '../../src/hooks/create-options.js';
import { parseHookInput } from '../../src/hooks/input.js';
import { hostPathOf, planMounts } from '../../src/hooks/mounts.js';
import { jobContainerArgs, runnerLayout } from '../helpers/runner-hooks.js';

function refusal(text: string): string {
  try {
    parseHookInput(text);
  } catch (err) {
    expect(err).toBeInstanceOf(VmstepError);
    const line = (err as VmstepError).oneLine();
    expect(line).not.toContain('\n');
    return line;
  }
  throw new Error('the input was accepted');
}

describe('parseHookInput', () => {
  const layout = runnerLayout('/home/runner');

  it('reads prepare_job as the runner sends it: state null, registry fields null, the docker socket among the mounts', () => {
    const input = parseHookInput(
      JSON.stringify({
        command: 'prepare_job',
        responseFile: `${layout.temp}/_runner_hook_responses/0b3c.json`,
        args: { container: { ...jobContainerArgs(layout, 'debian:12'), registry: { username: null, password: null, serverUrl: null } }, services: [] },
        state: null,
      }),
    );
    expect(input.command).toBe('prepare_job');
    if (input.command !== 'prepare_job') return;
    expect(input.state).toBeNull();
    expect(input.args.container?.image).toBe('debian:12');
    expect(input.args.container?.registry).toEqual({ username: null, password: null, serverUrl: null });
    expect(input.args.container?.systemMountVolumes.map((m) => m.targetVolumePath)).toContain('/var/run/docker.sock');
    expect(input.args.services).toEqual([]);
  });

  it('accepts prependPath as an array and as one ":"-joined string', () => {
    const base = { command: 'run_script_step', responseFile: '/t/r.json', state: { vmstep: { job: 'a'.repeat(16), vm: 'b'.repeat(12) } } };
    const args = { entryPoint: 'bash', entryPointArgs: ['-e', '/__w/_temp/x.sh'], workingDirectory: '/__w/r/r', environmentVariables: { A: '1' } };
    const asArray = parseHookInput(JSON.stringify({ ...base, args: { ...args, prependPath: ['/opt/b', '/opt/a'] } }));
    const asString = parseHookInput(JSON.stringify({ ...base, args: { ...args, prependPath: '/opt/b:/opt/a' } }));
    if (asArray.command !== 'run_script_step' || asString.command !== 'run_script_step') throw new Error('wrong command');
    expect(asArray.args.prependPath).toEqual(['/opt/b', '/opt/a']);
    expect(asString.args.prependPath).toEqual(['/opt/b', '/opt/a']);
    expect(asArray.state).toEqual({ vmstep: { job: 'a'.repeat(16), vm: 'b'.repeat(12) } });
  });

  it('refuses malformed JSON, an unknown command and missing fields with one line naming the cause', () => {
    expect(refusal('{"command": ')).toMatch(/^stdin is not valid JSON/);
    expect(refusal('')).toMatch(/^nothing on stdin/);
    expect(refusal('[1]')).toMatch(/not a JSON object/);
    expect(refusal(JSON.stringify({ command: 'start_job', responseFile: '/r' }))).toMatch(/input.command is the string "start_job", not a command this hook knows; the commands are prepare_job, run_script_step, run_container_step, cleanup_job/);
    expect(refusal(JSON.stringify({ command: 'prepare_job', args: { container: null } }))).toMatch(/^input.responseFile is missing, not a non-empty string/);
    expect(refusal(JSON.stringify({ command: 'run_script_step', responseFile: '/r', args: { entryPointArgs: [] } }))).toMatch(/^input.args.entryPoint is missing/);
    expect(refusal(JSON.stringify({ command: 'run_script_step', responseFile: '/r', args: { entryPoint: 'sh', workingDirectory: 'rel/dir' } }))).toMatch(/workingDirectory "rel\/dir" is not an absolute container path/);
    expect(refusal(JSON.stringify({ command: 'cleanup_job', responseFile: '/r', args: {}, state: { vmstep: { job: '../../etc', vm: 'x' } } }))).toMatch(/not the state this hook wrote/);
  });
});

describe('step arguments', () => {
  it('rejoins the runner\'s space-split arguments and splits them as .NET would, keeping a quoted path with a space whole', () => {
    // NodeScriptActionHandler quotes the script; the runner then splits at every space.
    const runnerArgs = '"/__w/_actions/my org/act/v1/dist/index.js"'.split(' ');
    expect(stepArgv('/__e/node20/bin/node', runnerArgs)).toEqual(['/__e/node20/bin/node', '/__w/_actions/my org/act/v1/dist/index.js']);
    expect(stepArgv('bash', '--noprofile --norc -e -o pipefail /__w/_temp/1.sh'.split(' '))).toEqual(['bash', '--noprofile', '--norc', '-e', '-o', 'pipefail', '/__w/_temp/1.sh']);
    expect(splitCommandLine('a\\"b "c \\\\" d""e')).toEqual(['a"b', 'c \\', 'de']);
  });
});

describe('parseCreateOptions', () => {
  it('honours --cpus (rounded up), --memory, -e/--env and --user and names every other flag', () => {
    const o = parseCreateOptions('--cpus 1.5 --memory=2g -e A=1 --env "B=two words" -eC=3 --user 1000:1000 --init --network host -v /x:/y --privileged', { D: 'host' });
    expect(o).toMatchObject({ vcpus: 2, memoryBytes: 2 * 2 ** 30, env: ['A=1', 'B=two words', 'C=3'], user: '1000:1000', entrypoint: null, ignored: ['--init', '--network', '-v', '--privileged'] });
    expect(ignoredOptionsWarning(o)).toBe('vmstep hooks: ignoring container options --init, --network, -v, --privileged: a microVM honours only --cpus, --memory, -e/--env, --user, --entrypoint and the --health-* options');
    expect(parseCreateOptions('-m 512m -e D', { D: 'from-host' })).toMatchObject({ memoryBytes: 512 * 2 ** 20, env: ['D=from-host'] });
    expect(ignoredOptionsWarning(parseCreateOptions(null))).toBeNull();
  });

  it('refuses a value it cannot use with one line', () => {
    expect(() => parseCreateOptions('--cpus lots')).toThrow(/--cpus "lots" is not a number of CPUs/);
    expect(() => parseCreateOptions('--memory')).toThrow(/--memory needs a value/);
    expect(() => parseCreateOptions('--memory 3 apples')).toThrow(/"apples" is not a flag/);
  });
});

describe('planMounts', () => {
  const layout = runnerLayout('/home/runner');
  const args = parseHookInput(JSON.stringify({ command: 'prepare_job', responseFile: '/r', args: { container: jobContainerArgs(layout, 'debian:12', { userMountVolumes: [{ sourceVolumePath: '/data', targetVolumePath: '/data', readOnly: false }, { sourceVolumePath: 'cachevol', targetVolumePath: '/cache', readOnly: false }] }) } }));

  it('copies _temp, _actions, _tool, the workspace, /github/home, /github/workflow and host volumes; externals go to a disk; the docker socket and named volumes do not come in', () => {
    if (args.command !== 'prepare_job') throw new Error('wrong command');
    const plan = planMounts(args.args.container!, 'job');
    expect(plan.externals).toEqual({ hostPath: layout.externals, guestPath: '/__e' });
    expect(plan.workspace).toEqual({ hostPath: layout.workspace, guestPath: '/__w/repo/repo' });
    expect(plan.fileCommands).toEqual({ hostPath: `${layout.temp}/_runner_file_commands`, guestPath: '/__w/_temp/_runner_file_commands' });
    expect(plan.copies.map((c) => c.guestPath).sort()).toEqual(['/__w/_actions', '/__w/_temp', '/__w/_tool', '/__w/repo/repo', '/data', '/github/home', '/github/workflow']);
    expect(plan.warnings).toEqual(['vmstep hooks: the volume "cachevol" at /cache is a docker volume name: /cache starts empty in the VM and is not kept after the job']);
  });

  it('translates a guest path through the deepest mount above it', () => {
    const mounts = [
      { hostPath: '/w', guestPath: '/__w' },
      { hostPath: '/t', guestPath: '/__w/_temp' },
    ];
    expect(hostPathOf(mounts, '/__w/_temp/x')).toBe('/t/x');
    expect(hostPathOf(mounts, '/__w/_tempo')).toBe('/w/_tempo');
    expect(hostPathOf(mounts, '/elsewhere')).toBeNull();
  });
});
