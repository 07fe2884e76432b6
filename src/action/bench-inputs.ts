// The benchmark inputs of action.yml. Benchmark mode is on only when an input
// asks for more than one run or for a comparison (repeat over 1, warmup, a
// baseline, a metrics file); `test`, `threshold` and `metrics-format` have
// defaults the runner always passes, so they alone never turn it on. Without
// it the step runs the command once, exactly as it always has.
import type { BenchInput } from '../engine/bench-options.js';
import type { GetInput } from './inputs.js';
import { lines, parseBoolean } from './inputs.js';

export function readBenchInputs(getInput: GetInput): BenchInput | null {
  const get = (name: string) => getInput(name).trim();
  const repeat = get('repeat');
  const input: BenchInput = {
    repeat,
    warmup: get('warmup'),
    baselineImage: get('baseline-image'),
    baselineFile: get('baseline-file'),
    baselineVolumes: lines(getInput('baseline-volumes')),
    metricsFile: get('metrics-file'),
    metricsFormat: get('metrics-format'),
    test: get('test'),
    threshold: get('threshold'),
    failOnRegression: parseBoolean(get('fail-on-regression'), 'fail-on-regression'),
  };
  const on = (repeat !== '' && repeat !== '1') || input.warmup !== '' || input.baselineImage !== '' || input.baselineFile !== '' || input.baselineVolumes!.length > 0 || input.metricsFile !== '';
  return on ? input : null;
}
