#!/usr/bin/env node
import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ /* webpack/runtime/compat */
/******/ 
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = new URL('.', import.meta.url).pathname.slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/************************************************************************/
var __webpack_exports__ = {};

;// CONCATENATED MODULE: ./src/engine/errors.ts
// vmstep's own failures, as opposed to the command's: every one says what
// went wrong and how to fix it, and ends the CLI with exit status 125 (as
// `docker run` does), so that scripts can tell "vmstep broke" from "the
// command failed".
/** Exit status when the time limit ended the command (as coreutils' timeout). */
const EXIT_TIMEOUT = 124;
/** Exit status when vmstep itself failed (as docker run). */
const EXIT_VMSTEP_FAILED = 125;
class errors_VmstepError extends Error {
    name = 'VmstepError';
    /** What the user can do about it; may be empty when nothing obvious helps. */
    fix;
    constructor(message, fix, options) {
        super(message, options);
        this.fix = fix;
    }
    /** One line for a person: "<what went wrong>; <fix>". */
    oneLine() {
        return oneLine(this.fix ? `${trimDot(this.message)}; ${this.fix}` : this.message);
    }
}
function trimDot(s) {
    return s.replace(/[.\s]+$/, '');
}
function oneLine(s) {
    return s.replace(/\s*\n\s*/g, ' ').trim();
}
/**
 * Any thrown value as a VmstepError. Errors from the image, rootfs, VM and
 * guest modules already name the cause and fix in their message; anything
 * else (a bug, an unexpected system error) keeps its message and says so.
 */
function toVmstepError(err) {
    if (err instanceof errors_VmstepError)
        return err;
    if (err instanceof Error) {
        const sys = err;
        if (sys.code === 'ENOSPC') {
            return new errors_VmstepError(`no space left on the device (${err.message})`, 'free disk space, or run `vmstep cache prune`', { cause: err });
        }
        // A raw "EACCES: permission denied, mkdtemp ..." names the path but not
        // what to do. vmstep reads what the user names (images, env files,
        // kernels) and writes where the user points it (the temp dir for
        // scratch, the cache, the output directory).
        if ((sys.code === 'EACCES' || sys.code === 'EPERM' || sys.code === 'EROFS') && sys.path) {
            const what = sys.code === 'EROFS' ? 'read-only file system' : 'permission denied';
            const reading = sys.syscall === 'stat' || sys.syscall === 'lstat' || sys.syscall === 'access' || sys.syscall === 'scandir';
            const fix = reading
                ? 'give this user access to it and to the directories above it'
                : 'give this user write access to it, or point vmstep elsewhere: TMPDIR for scratch files, VMSTEP_CACHE for the cache, --output-dir (CLI) for returned files';
            return new errors_VmstepError(`${what}: ${sys.syscall ? `${sys.syscall} ` : ''}${sys.path}`, fix, { cause: err });
        }
        return new errors_VmstepError(err.message || String(err), '', { cause: err });
    }
    return new errors_VmstepError(String(err), '', { cause: err });
}
/** The one line vmstep prints when it fails. */
function describeFailure(err) {
    return toVmstepError(err).oneLine();
}

;// CONCATENATED MODULE: ./package.json
const package_namespaceObject = {"rE":"0.1.0"};
;// CONCATENATED MODULE: ./src/engine/version.ts
// The one version number: package.json's, bundled into dist/ by ncc.

const VMSTEP_VERSION = package_namespaceObject.rE;

;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
;// CONCATENATED MODULE: ./src/bench/metric.ts
// What a metric is, in one place. A metric is identified by a benchmark name
// and a measure, as in the Bencher Metric Format ("fib(30)" / "latency"), so
// results from any input format can be written back out as BMF without
// inventing names. Units travel as the strings the benchmark wrote; only time
// units are understood (for display scaling and for BMF's nanosecond latency).
/** The metric vmstep always records: the command's wall time measured inside the guest. */
const WALL_TIME = Object.freeze({
    name: 'wall time',
    measure: 'latency',
    unit: 'ms',
    direction: 'smaller',
});
function wallTimeValue(milliseconds) {
    return { ...WALL_TIME, value: milliseconds };
}
/** A stable key for maps: name and measure cannot be confused because JSON.stringify quotes both. */
function metricKey(id) {
    return JSON.stringify([id.name, id.measure]);
}
/** How a person reads the metric: "name" alone for plain latency-like metrics, "name (measure)" otherwise. */
function metricLabel(id) {
    return id.measure === 'latency' || id.measure === 'value' ? id.name : `${id.name} (${id.measure})`;
}
/** Seconds per unit for the time units benchmarks write; undefined for anything else. */
const TIME_UNITS = {
    ns: 1e-9,
    nanoseconds: 1e-9,
    'ns/iter': 1e-9,
    us: 1e-6,
    µs: 1e-6,
    μs: 1e-6,
    microseconds: 1e-6,
    ms: 1e-3,
    milliseconds: 1e-3,
    s: 1,
    sec: 1,
    seconds: 1,
};
function secondsPerUnit(unit) {
    const key = unit.trim().toLowerCase();
    return Object.hasOwn(TIME_UNITS, key) ? TIME_UNITS[key] : undefined;
}
/**
 * Direction when the input format does not say: a rate or a throughput is
 * better bigger, everything else (time, size, memory, count of errors) is
 * better smaller. Users override it per metric where this guess is wrong.
 */
function guessDirection(measure, unit) {
    const m = measure.toLowerCase();
    const u = unit.toLowerCase().replace(/\s+/g, '');
    if (/throughput|bandwidth|ops|speedup|per-second/.test(m))
        return 'bigger';
    if (/(\/|per)(s|sec|second|ms|min|minute)$/.test(u) || /^(hz|khz|mhz|ghz|fps|ops|iops)$/.test(u))
        return 'bigger';
    return 'smaller';
}

;// CONCATENATED MODULE: ./src/bench/formats/common.ts
// Shared rules for reading a metrics file. The file is written by code in the
// guest, so it is untrusted: its size and the number and length of its names
// are bounded, every value is checked, and every problem ends in a
// MetricsFileError that names the file, the place in it and the fix. Nothing
// here walks the JSON recursively or stringifies parts of it, so a deeply
// nested document cannot exhaust the stack.
/** Largest metrics file read; a benchmark's results are kilobytes. */
const MAX_METRICS_FILE_BYTES = 4 * 1024 * 1024;
/** Most metrics one file may hold (reports and charts stay readable well below this). */
const MAX_METRICS_PER_FILE = 1000;
/** Bencher's own limits: 1024 characters for a benchmark name, 64 for a measure. */
const MAX_NAME_CHARS = 1024;
const MAX_MEASURE_CHARS = 64;
class MetricsFileError extends Error {
    /** The file the problem is in, as the user named it. */
    source;
    constructor(source, problem) {
        super(`metrics file ${source}: ${problem}`);
        this.name = 'MetricsFileError';
        this.source = source;
    }
}
/** A short description of a JSON value's type for error messages; never its content. */
function describeJson(value) {
    if (value === null)
        return 'null';
    if (Array.isArray(value))
        return 'an array';
    if (typeof value === 'object')
        return 'an object';
    if (typeof value === 'string')
        return 'a string';
    if (typeof value === 'number')
        return 'a number';
    if (typeof value === 'boolean')
        return 'a boolean';
    return typeof value;
}
function isPlainObject(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
/** Names are shown in reports; quote them safely and shorten very long ones in messages. */
function quoteName(name) {
    const shown = name.length > 80 ? `${name.slice(0, 77)}...` : name;
    return JSON.stringify(shown);
}
function decodeText(content, source) {
    const bytes = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
    if (bytes === 0) {
        throw new MetricsFileError(source, 'the file is empty: the benchmark must write its results there before it exits');
    }
    if (bytes > MAX_METRICS_FILE_BYTES) {
        throw new MetricsFileError(source, `the file is ${bytes} bytes, over the ${MAX_METRICS_FILE_BYTES}-byte limit: write a summary per benchmark, not every raw sample`);
    }
    if (typeof content === 'string')
        return content;
    try {
        return new TextDecoder('utf-8', { fatal: true }).decode(content);
    }
    catch {
        throw new MetricsFileError(source, 'the file is not UTF-8 text: metrics files are JSON');
    }
}
function parseJson(text, source) {
    try {
        // A UTF-8 byte order mark is legal in files some tools write, not in JSON.
        return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    }
    catch (error) {
        throw new MetricsFileError(source, `not valid JSON (${error.message})`);
    }
}
/** A finite number, or a string holding one (github-action-benchmark's own files sometimes quote values). */
function readNumber(value, source, where, options = {}) {
    let n;
    if (typeof value === 'number')
        n = value;
    else if (options.allowString && typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value))
        n = Number(value);
    if (n === undefined)
        throw new MetricsFileError(source, `${where} must be a number, found ${describeJson(value)}`);
    if (!Number.isFinite(n))
        throw new MetricsFileError(source, `${where} must be a finite number, found ${n}`);
    return n;
}
function readName(value, source, where, maxChars = MAX_NAME_CHARS) {
    if (typeof value !== 'string')
        throw new MetricsFileError(source, `${where} must be a string, found ${describeJson(value)}`);
    if (value.trim() === '')
        throw new MetricsFileError(source, `${where} is empty: every metric needs a name`);
    if (value.length > maxChars) {
        throw new MetricsFileError(source, `${where} is ${value.length} characters long, over the limit of ${maxChars}`);
    }
    return value;
}
function checkCount(count, source) {
    if (count > MAX_METRICS_PER_FILE) {
        throw new MetricsFileError(source, `${count} metrics, over the limit of ${MAX_METRICS_PER_FILE} per file`);
    }
}

;// CONCATENATED MODULE: ./src/bench/formats/bmf.ts
// Bencher Metric Format (BMF) JSON, as documented by Bencher:
//   { "<benchmark>": { "<measure>": { "value": n, "lower_value"?: n, "upper_value"?: n } } }
// BMF carries no units or directions: Bencher attaches them to the measure.
// The built-in measures' units are filled in; others stay unit-less.


/** Units of Bencher's built-in measures (its docs: latency in ns, throughput in ops/s). */
const BMF_MEASURE_UNITS = Object.freeze({
    latency: 'ns',
    throughput: 'ops/s',
    'build-time': 's',
    'file-size': 'bytes',
});
function looksLikeBmf(json) {
    if (!isPlainObject(json))
        return false;
    const benchmarks = Object.values(json);
    if (benchmarks.length === 0)
        return false;
    const first = benchmarks[0];
    if (!isPlainObject(first))
        return false;
    const measure = Object.values(first)[0];
    return isPlainObject(measure) && 'value' in measure;
}
function parseBmf(json, source) {
    if (!isPlainObject(json)) {
        throw new MetricsFileError(source, `Bencher Metric Format needs a JSON object of benchmarks at the top, found ${describeJson(json)}`);
    }
    const out = [];
    for (const [benchmark, measures] of Object.entries(json)) {
        const name = readName(benchmark, source, 'a benchmark name');
        if (!isPlainObject(measures)) {
            throw new MetricsFileError(source, `benchmark ${quoteName(name)} must map measure names to metrics, found ${describeJson(measures)}`);
        }
        const entries = Object.entries(measures);
        if (entries.length === 0)
            throw new MetricsFileError(source, `benchmark ${quoteName(name)} has no measures`);
        checkCount(out.length + entries.length, source);
        for (const [measureName, metric] of entries) {
            const measure = readName(measureName, source, `a measure name of benchmark ${quoteName(name)}`, MAX_MEASURE_CHARS);
            const where = `${quoteName(name)} / ${quoteName(measure)}`;
            if (!isPlainObject(metric)) {
                throw new MetricsFileError(source, `${where} must be an object with a "value", found ${describeJson(metric)}`);
            }
            if (!('value' in metric))
                throw new MetricsFileError(source, `${where} has no "value"`);
            const value = readNumber(metric.value, source, `${where} "value"`);
            // Bounds are optional but, when present, must be numbers: a typo there is a bug worth reporting.
            if (metric.lower_value !== undefined)
                readNumber(metric.lower_value, source, `${where} "lower_value"`);
            if (metric.upper_value !== undefined)
                readNumber(metric.upper_value, source, `${where} "upper_value"`);
            const unit = Object.hasOwn(BMF_MEASURE_UNITS, measure) ? BMF_MEASURE_UNITS[measure] : '';
            out.push({ name, measure, unit, direction: guessDirection(measure, unit), value });
        }
    }
    if (out.length === 0)
        throw new MetricsFileError(source, 'the Bencher Metric Format object has no benchmarks');
    return out;
}

;// CONCATENATED MODULE: ./src/bench/formats/github-action-benchmark.ts
// github-action-benchmark's custom tools: `customSmallerIsBetter` and
// `customBiggerIsBetter` read the same JSON, an array of
//   { "name": s, "unit": s, "value": n, "range"?: s, "extra"?: s }
// and differ only in direction, which the file itself does not record. With
// `auto` the direction is guessed from the unit (rates are bigger-is-better).


function looksLikeGithubActionBenchmark(json) {
    if (!Array.isArray(json) || json.length === 0)
        return false;
    const first = json[0];
    return isPlainObject(first) && 'name' in first && 'value' in first;
}
/**
 * The measure written for these metrics: github-action-benchmark has none,
 * so it is "value", which keeps the label to the benchmark's own name.
 */
const GAB_MEASURE = 'value';
function parseGithubActionBenchmark(json, source, direction) {
    if (!Array.isArray(json)) {
        throw new MetricsFileError(source, `github-action-benchmark's custom format needs a JSON array of {"name", "unit", "value"} entries, found ${describeJson(json)}`);
    }
    if (json.length === 0)
        throw new MetricsFileError(source, 'the array of benchmark entries is empty');
    checkCount(json.length, source);
    return json.map((entry, index) => {
        const where = `entry ${index}`;
        if (!isPlainObject(entry))
            throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
        const name = readName(entry.name, source, `${where} "name"`);
        const value = readNumber(entry.value, source, `${where} (${quoteName(name)}) "value"`, { allowString: true });
        let unit = '';
        if (entry.unit !== undefined && entry.unit !== null) {
            if (typeof entry.unit !== 'string') {
                throw new MetricsFileError(source, `${where} (${quoteName(name)}) "unit" must be a string, found ${describeJson(entry.unit)}`);
            }
            unit = entry.unit.slice(0, 64);
        }
        return { name, measure: GAB_MEASURE, unit, direction: direction === 'guess' ? guessDirection('', unit) : direction, value };
    });
}

;// CONCATENATED MODULE: ./src/bench/formats/hyperfine.ts

/** Most entries of `times` read when `mean` is absent. */
const MAX_TIMES = 1_000_000;
function looksLikeHyperfine(json) {
    return isPlainObject(json) && Array.isArray(json.results) && (json.results.length === 0 || isPlainObject(json.results[0]) && 'command' in json.results[0]);
}
function parseHyperfine(json, source) {
    if (!isPlainObject(json) || !Array.isArray(json.results)) {
        throw new MetricsFileError(source, `hyperfine's --export-json has a "results" array at the top, found ${describeJson(json)} without one`);
    }
    const results = json.results;
    if (results.length === 0)
        throw new MetricsFileError(source, 'hyperfine exported no results');
    checkCount(results.length, source);
    const warnings = [];
    const commands = results.map((result, index) => {
        const where = `results[${index}]`;
        if (!isPlainObject(result))
            throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(result)}`);
        return readName(result.command, source, `${where} "command"`);
    });
    const metrics = results.map((entry, index) => {
        const result = entry;
        const where = `results[${index}]`;
        let name = commands[index];
        const parameters = readParameters(result.parameters, source, where);
        if (parameters && commands.filter((c) => c === name).length > 1)
            name = `${name} (${parameters})`;
        const value = result.mean !== undefined ? readNumber(result.mean, source, `${where} (${quoteName(name)}) "mean"`) : meanOfTimes(result.times, source, where);
        if (value < 0)
            throw new MetricsFileError(source, `${where} (${quoteName(name)}) has a negative mean time`);
        if (Array.isArray(result.exit_codes) && result.exit_codes.some((code) => code !== 0)) {
            warnings.push(`${source}: hyperfine command ${quoteName(name)} had runs with a non-zero exit code`);
        }
        return { name, measure: 'latency', unit: 's', direction: 'smaller', value };
    });
    return { metrics, warnings };
}
/**
 * With --parameter-scan or --parameter-list and a fixed --command-name,
 * every result has the same command; the parameter values tell them apart.
 * They are added only to such repeated commands, so "seq {n}" stays "seq 1000".
 */
function readParameters(value, source, where) {
    if (value === undefined || value === null)
        return null;
    if (!isPlainObject(value))
        throw new MetricsFileError(source, `${where} "parameters" must be an object, found ${describeJson(value)}`);
    const parts = [];
    for (const [key, v] of Object.entries(value).slice(0, 16)) {
        if (typeof v !== 'string' && typeof v !== 'number') {
            throw new MetricsFileError(source, `${where} parameter ${quoteName(key)} must be a string or number, found ${describeJson(v)}`);
        }
        parts.push(`${key}=${v}`);
    }
    return parts.length > 0 ? parts.join(', ') : null;
}
function meanOfTimes(times, source, where) {
    if (!Array.isArray(times) || times.length === 0) {
        throw new MetricsFileError(source, `${where} has neither "mean" nor a non-empty "times" array`);
    }
    if (times.length > MAX_TIMES)
        throw new MetricsFileError(source, `${where} "times" has ${times.length} entries, over ${MAX_TIMES}`);
    let sum = 0;
    for (let i = 0; i < times.length; i++)
        sum += readNumber(times[i], source, `${where} "times"[${i}]`);
    return sum / times.length;
}

;// CONCATENATED MODULE: ./src/bench/formats/parse.ts
// One entry point for metrics files: picks the format (or detects it), runs
// its parser, and applies the checks every format shares.





const METRICS_FORMATS = ['auto', 'bmf', 'customSmallerIsBetter', 'customBiggerIsBetter', 'hyperfine'];
/** Accepts the spellings a user may type for `metrics-format`; throws naming the valid ones. */
function parseMetricsFormat(text) {
    const normal = text.trim();
    const aliases = {
        auto: 'auto',
        bmf: 'bmf',
        bencher: 'bmf',
        json: 'bmf',
        hyperfine: 'hyperfine',
        customsmallerisbetter: 'customSmallerIsBetter',
        'custom-smaller-is-better': 'customSmallerIsBetter',
        custombiggerisbetter: 'customBiggerIsBetter',
        'custom-bigger-is-better': 'customBiggerIsBetter',
    };
    const found = aliases[normal.toLowerCase()];
    if (!found) {
        throw new Error(`unknown metrics-format ${JSON.stringify(text)}: use one of ${METRICS_FORMATS.join(', ')}`);
    }
    return found;
}
function detectMetricsFormat(json, source) {
    if (looksLikeHyperfine(json))
        return 'hyperfine';
    if (looksLikeGithubActionBenchmark(json))
        return 'customSmallerIsBetter';
    if (looksLikeBmf(json))
        return 'bmf';
    throw new MetricsFileError(source, 'not a metrics format vmstep knows: expected Bencher Metric Format ({"bench": {"latency": {"value": 1}}}), ' +
        'a github-action-benchmark array ([{"name", "unit", "value"}]) or hyperfine --export-json ({"results": [...]}); ' +
        'set metrics-format to say which');
}
/**
 * Parses a metrics file the benchmark wrote. With format `auto` a
 * github-action-benchmark array gets directions guessed from its units;
 * name customSmallerIsBetter or customBiggerIsBetter to state them.
 */
function parseMetricsFile(content, options = {}) {
    const source = options.source ?? 'metrics file';
    const requested = options.format ?? 'auto';
    const json = parseJson(decodeText(content, source), source);
    const format = requested === 'auto' ? detectMetricsFormat(json, source) : requested;
    let metrics;
    let warnings = [];
    switch (format) {
        case 'bmf':
            metrics = parseBmf(json, source);
            break;
        case 'customSmallerIsBetter':
            metrics = parseGithubActionBenchmark(json, source, requested === 'auto' ? 'guess' : 'smaller');
            break;
        case 'customBiggerIsBetter':
            metrics = parseGithubActionBenchmark(json, source, 'bigger');
            break;
        case 'hyperfine':
            ({ metrics, warnings } = parseHyperfine(json, source));
            break;
    }
    const seen = new Set();
    for (const m of metrics) {
        const key = metricKey(m);
        if (seen.has(key))
            throw new MetricsFileError(source, `metric ${JSON.stringify(metricLabel(m).slice(0, 80))} appears twice: give each benchmark a unique name`);
        seen.add(key);
    }
    return { format, metrics, warnings };
}

;// CONCATENATED MODULE: ./src/bench/collect.ts
// Gathers the metric values of many runs into one series per metric. Runs
// come from the guest, so a benchmark that changes a unit between runs, or
// leaves a metric out of some, is reported rather than silently averaged.

/** Most distinct metrics across all runs of one arm. */
const MAX_SERIES = 1000;
/** `runs[i]` holds the metric values of measured run i (warm-up runs already left out). */
function collectSeries(runs, armName = 'head') {
    const byKey = new Map();
    runs.forEach((values, run) => {
        for (const v of values) {
            if (!Number.isFinite(v.value)) {
                throw new Error(`${armName} run ${run + 1}: metric ${JSON.stringify(metricLabel(v))} is ${v.value}, not a finite number`);
            }
            const key = metricKey(v);
            let s = byKey.get(key);
            if (!s) {
                if (byKey.size >= MAX_SERIES) {
                    throw new Error(`${armName} runs produced more than ${MAX_SERIES} distinct metrics: check that benchmark names do not include run-specific text such as timestamps`);
                }
                s = { name: v.name, measure: v.measure, unit: v.unit, direction: v.direction, values: [], runs: [] };
                byKey.set(key, s);
            }
            else if (s.unit !== v.unit) {
                throw new Error(`${armName} run ${run + 1}: metric ${JSON.stringify(metricLabel(v))} is in ${JSON.stringify(v.unit)}, ` +
                    `but earlier runs used ${JSON.stringify(s.unit)}: the benchmark must report each metric in one unit`);
            }
            s.values.push(v.value);
            s.runs.push(run);
        }
    });
    const warnings = [];
    const series = [...byKey.values()].map(({ runs: present, ...s }) => {
        if (present.length < runs.length) {
            const missing = runs.map((_, i) => i).filter((i) => !present.includes(i));
            warnings.push(`${armName}: metric ${JSON.stringify(metricLabel(s))} is missing from run${missing.length > 1 ? 's' : ''} ${missing
                .slice(0, 10)
                .map((i) => i + 1)
                .join(', ')}${missing.length > 10 ? ', ...' : ''} (its statistics use the ${present.length} runs that have it)`);
        }
        return s;
    });
    return { series, warnings };
}

;// CONCATENATED MODULE: ./src/bench/schedule.ts
// Run order for benchmark mode. With a baseline image the two arms alternate
// (A B A B ...) so that slow drift on the host, such as thermal throttling or
// a neighbour's load, lands on both alike instead of on whichever ran second.
// Warm-up runs come first, alternate the same way, and are discarded.
/** Bounds that keep a mistyped input (repeat: 10000) from holding a runner for days. */
const MAX_REPEAT = 1000;
const MAX_WARMUP = 100;
function validateRunCounts(repeat, warmup) {
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) {
        throw new Error(`repeat must be a whole number from 1 to ${MAX_REPEAT}, got ${repeat}`);
    }
    if (!Number.isInteger(warmup) || warmup < 0 || warmup > MAX_WARMUP) {
        throw new Error(`warmup must be a whole number from 0 to ${MAX_WARMUP}, got ${warmup}`);
    }
}
function interleavedSchedule(options) {
    const warmup = options.warmup ?? 0;
    const arms = options.arms ?? ['baseline', 'head'];
    validateRunCounts(options.repeat, warmup);
    if (arms.length === 0 || new Set(arms).size !== arms.length)
        throw new Error('the schedule needs one or more distinct arms');
    const runs = [];
    for (let i = 0; i < warmup; i++)
        for (const arm of arms)
            runs.push({ arm, warmup: true, index: i });
    for (let i = 0; i < options.repeat; i++)
        for (const arm of arms)
            runs.push({ arm, warmup: false, index: i });
    return runs;
}

;// CONCATENATED MODULE: ./src/bench/stats/special.ts
// Special functions behind the p-values and confidence intervals: log-gamma,
// the regularised incomplete beta and gamma functions, and the normal,
// Student t and binomial distributions built on them. Written here rather
// than taken from a package so that the action bundle stays small and every
// number in a verdict can be traced to one file. Accuracy target: about 1e-12
// relative for the arguments benchmark statistics produce (degrees of freedom
// up to ~1e5); the unit tests pin it against closed forms and scipy.
const EPSILON = 1e-15;
// Smallest magnitude the continued fractions may divide by (modified Lentz).
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;
// Lanczos approximation, g = 7, n = 9: the coefficient set published by
// Godfrey and used by many numerical libraries; ~15 significant digits.
const LANCZOS_G = 7;
const LANCZOS = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
/** ln |Γ(x)| for x > 0 (the only domain the distributions need). */
function lnGamma(x) {
    if (!(x > 0))
        throw new RangeError(`lnGamma needs x > 0, got ${x}`);
    if (x < 0.5) {
        // Reflection keeps the series in its accurate range.
        return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
    }
    const z = x - 1;
    let sum = LANCZOS[0];
    for (let i = 1; i < LANCZOS.length; i++)
        sum += LANCZOS[i] / (z + i);
    const t = z + LANCZOS_G + 0.5;
    return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}
/** ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b). */
function lnBeta(a, b) {
    return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}
/**
 * Continued fraction for the incomplete beta function (Numerical Recipes
 * §6.4, evaluated with the modified Lentz method). Converges quickly for
 * x < (a + 1) / (a + b + 2); the caller uses the symmetry otherwise.
 */
function betaContinuedFraction(x, a, b) {
    const qab = a + b;
    const qap = a + 1;
    const qam = a - 1;
    let c = 1;
    let d = 1 - (qab * x) / qap;
    if (Math.abs(d) < TINY)
        d = TINY;
    d = 1 / d;
    let h = d;
    for (let m = 1; m <= MAX_ITERATIONS; m++) {
        const m2 = 2 * m;
        // Even step.
        let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (Math.abs(d) < TINY)
            d = TINY;
        c = 1 + aa / c;
        if (Math.abs(c) < TINY)
            c = TINY;
        d = 1 / d;
        h *= d * c;
        // Odd step.
        aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (Math.abs(d) < TINY)
            d = TINY;
        c = 1 + aa / c;
        if (Math.abs(c) < TINY)
            c = TINY;
        d = 1 / d;
        const delta = d * c;
        h *= delta;
        if (Math.abs(delta - 1) < EPSILON)
            return h;
    }
    throw new Error(`incomplete beta did not converge for x=${x}, a=${a}, b=${b}`);
}
/**
 * Regularised incomplete beta I_x(a, b) for 0 ≤ x ≤ 1, a, b > 0.
 * `complement` may carry 1 − x computed without cancellation (the t
 * distribution passes t²/(ν + t²) directly), which keeps tiny tails exact.
 */
function regularizedIncompleteBeta(x, a, b, complement = 1 - x) {
    if (!(a > 0) || !(b > 0))
        throw new RangeError(`incomplete beta needs a, b > 0, got a=${a}, b=${b}`);
    if (!(x >= 0 && x <= 1))
        throw new RangeError(`incomplete beta needs 0 <= x <= 1, got ${x}`);
    if (x === 0)
        return 0;
    if (complement === 0 || x === 1)
        return 1;
    const lnFront = a * Math.log(x) + b * Math.log(complement) - lnBeta(a, b);
    if (x < (a + 1) / (a + b + 2)) {
        return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
    }
    return 1 - (Math.exp(lnFront) * betaContinuedFraction(complement, b, a)) / b;
}
/** Regularised lower incomplete gamma P(a, x) (series) and upper Q(a, x) (continued fraction). */
function regularizedGammaP(a, x) {
    if (!(a > 0) || !(x >= 0))
        throw new RangeError(`incomplete gamma needs a > 0, x >= 0, got a=${a}, x=${x}`);
    if (x === 0)
        return 0;
    if (x < a + 1)
        return gammaSeries(a, x);
    return 1 - gammaContinuedFraction(a, x);
}
function regularizedGammaQ(a, x) {
    if (!(a > 0) || !(x >= 0))
        throw new RangeError(`incomplete gamma needs a > 0, x >= 0, got a=${a}, x=${x}`);
    if (x === 0)
        return 1;
    if (x < a + 1)
        return 1 - gammaSeries(a, x);
    return gammaContinuedFraction(a, x);
}
function gammaSeries(a, x) {
    let ap = a;
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n <= MAX_ITERATIONS; n++) {
        ap += 1;
        term *= x / ap;
        sum += term;
        if (Math.abs(term) < Math.abs(sum) * EPSILON) {
            return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
        }
    }
    throw new Error(`incomplete gamma series did not converge for a=${a}, x=${x}`);
}
function gammaContinuedFraction(a, x) {
    let b = x + 1 - a;
    let c = 1 / TINY;
    let d = 1 / b;
    let h = d;
    for (let i = 1; i <= MAX_ITERATIONS; i++) {
        const an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (Math.abs(d) < TINY)
            d = TINY;
        c = b + an / c;
        if (Math.abs(c) < TINY)
            c = TINY;
        d = 1 / d;
        const delta = d * c;
        h *= delta;
        if (Math.abs(delta - 1) < EPSILON)
            return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
    }
    throw new Error(`incomplete gamma continued fraction did not converge for a=${a}, x=${x}`);
}
/** Complementary error function, via erfc(x) = Q(1/2, x²) for x ≥ 0. */
function erfc(x) {
    if (Number.isNaN(x))
        return NaN;
    const q = regularizedGammaQ(0.5, x * x);
    return x >= 0 ? q : 2 - q;
}
/** Standard normal CDF Φ(z). */
function normalCdf(z) {
    return 0.5 * erfc(-z / Math.SQRT2);
}
/** Standard normal upper tail 1 − Φ(z), accurate far into the tail. */
function normalSf(z) {
    return 0.5 * erfc(z / Math.SQRT2);
}
/** Student t CDF with ν degrees of freedom (ν > 0, need not be an integer: Welch's ν is not). */
function studentTCdf(t, df) {
    if (!(df > 0))
        throw new RangeError(`t distribution needs df > 0, got ${df}`);
    if (Number.isNaN(t))
        return NaN;
    if (t === Infinity)
        return 1;
    if (t === -Infinity)
        return 0;
    const t2 = t * t;
    // P(|T| > |t|) = I_{ν/(ν+t²)}(ν/2, 1/2).
    const twoSided = regularizedIncompleteBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
    return t > 0 ? 1 - twoSided / 2 : twoSided / 2;
}
/** Two-sided tail probability P(|T| ≥ |t|), without the 1 − (1 − p) cancellation. */
function studentTTwoSidedP(t, df) {
    if (!(df > 0))
        throw new RangeError(`t distribution needs df > 0, got ${df}`);
    if (Number.isNaN(t))
        return NaN;
    if (!Number.isFinite(t))
        return 0;
    const t2 = t * t;
    return regularizedIncompleteBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
}
/**
 * Quantile of the Student t distribution: the t with CDF(t) = p. Found by
 * bracketing and bisection on the CDF, which is monotone, so it cannot
 * diverge; ~60 CDF evaluations, negligible next to a VM run.
 */
function studentTQuantile(p, df) {
    if (!(p > 0 && p < 1))
        throw new RangeError(`t quantile needs 0 < p < 1, got ${p}`);
    if (!(df > 0))
        throw new RangeError(`t distribution needs df > 0, got ${df}`);
    if (p === 0.5)
        return 0;
    // Solve in the upper half and mirror: the tail is where precision matters.
    const upper = p > 0.5 ? p : 1 - p;
    let lo = 0;
    let hi = 1;
    while (studentTCdf(hi, df) < upper) {
        lo = hi;
        hi *= 2;
        if (hi > 1e300)
            break;
    }
    for (let i = 0; i < 2000 && hi - lo > 1e-15 * Math.max(1, hi); i++) {
        const mid = (lo + hi) / 2;
        if (studentTCdf(mid, df) < upper)
            lo = mid;
        else
            hi = mid;
    }
    const t = (lo + hi) / 2;
    return p > 0.5 ? t : -t;
}
/** P(X ≤ k) for X ~ Binomial(n, prob), via P(X ≤ k) = I_{1−prob}(n − k, k + 1). */
function binomialCdf(k, n, prob) {
    if (!Number.isInteger(n) || n < 0)
        throw new RangeError(`binomial needs a whole n >= 0, got ${n}`);
    if (k < 0)
        return 0;
    const kk = Math.floor(k);
    if (kk >= n)
        return 1;
    return regularizedIncompleteBeta(1 - prob, n - kk, kk + 1, prob);
}

;// CONCATENATED MODULE: ./src/bench/stats/describe.ts
// Descriptive statistics for one metric's samples: the numbers the report
// shows and the verdict starts from. Every function takes plain number arrays
// and never mutates them.

function assertSamples(values, what) {
    if (values.length === 0)
        throw new RangeError(`${what} needs at least one sample`);
    for (const v of values) {
        if (!Number.isFinite(v))
            throw new RangeError(`${what} needs finite samples, got ${v}`);
    }
}
function sorted(values) {
    return [...values].sort((a, b) => a - b);
}
/** Arithmetic mean with a Kahan-compensated sum, so long runs of similar values do not drift. */
function mean(values) {
    assertSamples(values, 'mean');
    let sum = 0;
    let compensation = 0;
    for (const v of values) {
        const y = v - compensation;
        const t = sum + y;
        compensation = t - sum - y;
        sum = t;
    }
    return sum / values.length;
}
/** Median: the middle value, or the mean of the two middle values. */
function median(values) {
    assertSamples(values, 'median');
    return medianOfSorted(sorted(values));
}
function medianOfSorted(s) {
    const mid = s.length >> 1;
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
/** Sample variance with Bessel's correction (two-pass, so no catastrophic cancellation). */
function sampleVariance(values) {
    assertSamples(values, 'variance');
    if (values.length < 2)
        return 0;
    const m = mean(values);
    let ss = 0;
    for (const v of values)
        ss += (v - m) * (v - m);
    return ss / (values.length - 1);
}
function sampleStdDev(values) {
    return Math.sqrt(sampleVariance(values));
}
/** Two-sided t interval for the mean: mean ± t(1 − α/2, n − 1) · s / √n. */
function meanInterval(values, confidence = 0.95) {
    assertConfidence(confidence);
    assertSamples(values, 'mean interval');
    const n = values.length;
    if (n < 2)
        return null;
    const m = mean(values);
    const half = (studentTQuantile(1 - (1 - confidence) / 2, n - 1) * sampleStdDev(values)) / Math.sqrt(n);
    return { lower: m - half, upper: m + half, confidence };
}
/**
 * Order-statistic interval for the median [x(k), x(n−k+1)], with the largest
 * k whose coverage 1 − 2·P(Binomial(n, ½) ≤ k − 1) still reaches the level.
 * It assumes nothing about the distribution, which suits skewed timings.
 * For n = 10 at 95 % that is [x(2), x(9)] with 97.85 % coverage.
 */
function medianInterval(values, confidence = 0.95) {
    assertConfidence(confidence);
    assertSamples(values, 'median interval');
    const s = sorted(values);
    const n = s.length;
    const alpha = 1 - confidence;
    let k = 0;
    // P(B ≤ k−1) ≤ α/2 ⇔ [x(k), x(n−k+1)] covers with ≥ confidence.
    while (k + 1 <= Math.floor((n + 1) / 2) && binomialCdf(k, n, 0.5) <= alpha / 2)
        k++;
    if (k === 0)
        return null;
    return { lower: s[k - 1], upper: s[n - k], confidence: 1 - 2 * binomialCdf(k - 1, n, 0.5) };
}
function summarize(values, confidence = 0.95) {
    assertSamples(values, 'summary');
    const s = sorted(values);
    const m = mean(values);
    const sd = sampleStdDev(values);
    return {
        n: values.length,
        mean: m,
        median: medianOfSorted(s),
        stddev: sd,
        cv: m === 0 ? NaN : sd / Math.abs(m),
        min: s[0],
        max: s[s.length - 1],
        meanInterval: meanInterval(values, confidence),
        medianInterval: medianInterval(values, confidence),
    };
}
function assertConfidence(confidence) {
    if (!(confidence > 0 && confidence < 1)) {
        throw new RangeError(`confidence must be between 0 and 1 (for example 0.95), got ${confidence}`);
    }
}

;// CONCATENATED MODULE: ./src/bench/stats/random.ts
// A small seeded PRNG for the bootstrap. Reports must be reproducible: the
// same samples give the same interval on every run and every machine, so
// Math.random is never used. sfc32 (Chris Doty-Humphrey's Small Fast
// Counting generator) passes PractRand and needs only 32-bit integer maths;
// its state is seeded from a string or number with the cyrb128 hash.
function cyrb128(text) {
    let h1 = 1779033703;
    let h2 = 3144134277;
    let h3 = 1013904242;
    let h4 = 2773480762;
    for (let i = 0; i < text.length; i++) {
        const k = text.charCodeAt(i);
        h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
        h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
        h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
        h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    h1 ^= h2 ^ h3 ^ h4;
    h2 ^= h1;
    h3 ^= h1;
    h4 ^= h1;
    return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
/** A deterministic generator of uniform numbers in [0, 1). */
function createRng(seed) {
    let [a, b, c, d] = cyrb128(String(seed));
    const next = () => {
        a |= 0;
        b |= 0;
        c |= 0;
        d |= 0;
        const t = (((a + b) | 0) + d) | 0;
        d = (d + 1) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (c << 21) | (c >>> 11);
        c = (c + t) | 0;
        return (t >>> 0) / 4294967296;
    };
    // Discard the first outputs: they still correlate with the seed hash.
    for (let i = 0; i < 15; i++)
        next();
    return next;
}

;// CONCATENATED MODULE: ./src/bench/stats/bootstrap.ts
// Percentile bootstrap for statistics that have no closed-form interval,
// such as the relative change between two medians. Seeded, so the same
// samples always give the same interval. Resamples live in reused typed
// arrays and medians are found by selection, not sorting: 1000 runs × 2000
// resamples stays in the tens of milliseconds per metric.


const DEFAULT_RESAMPLES = 2000;
const DEFAULT_SEED = 'vmstep-bootstrap';
/** The p-quantile of sorted values, linearly interpolated (Hyndman–Fan type 7, the default of R and numpy). */
function quantileOfSorted(s, p) {
    if (s.length === 0)
        throw new RangeError('quantile of an empty sample');
    const h = (s.length - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, s.length - 1);
    return s[lo] + (h - lo) * (s[hi] - s[lo]);
}
/** Puts the k-th smallest value at index k (Hoare's selection); O(n) on average. */
function selectInPlace(a, k) {
    let lo = 0;
    let hi = a.length - 1;
    while (lo < hi) {
        const pivot = a[(lo + hi) >> 1];
        let i = lo;
        let j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                const t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return a[k];
}
/** Median of the values, reordering the array. */
function medianInPlace(a) {
    const n = a.length;
    if (n === 0)
        return NaN;
    const mid = n >> 1;
    const upper = selectInPlace(a, mid);
    if (n % 2 === 1)
        return upper;
    // After selection everything below index mid is ≤ a[mid]; the lower middle is their maximum.
    let lower = -Infinity;
    for (let i = 0; i < mid; i++)
        if (a[i] > lower)
            lower = a[i];
    return (lower + upper) / 2;
}
function resample(values, rng, out) {
    for (let i = 0; i < out.length; i++)
        out[i] = values[Math.floor(rng() * values.length)];
    return out;
}
/**
 * Bootstrap interval for a statistic of two independent samples (each
 * resampled separately). `statistic` may return NaN for a degenerate
 * resample; those are dropped, and null is returned if most of them are.
 */
function bootstrapTwoSampleInterval(a, b, statistic, options = {}) {
    const confidence = options.confidence ?? 0.95;
    assertConfidence(confidence);
    const resamples = options.resamples ?? DEFAULT_RESAMPLES;
    if (a.length === 0 || b.length === 0)
        return null;
    const rng = createRng(options.seed ?? DEFAULT_SEED);
    const bufA = new Float64Array(a.length);
    const bufB = new Float64Array(b.length);
    const stats = new Float64Array(resamples);
    let kept = 0;
    for (let i = 0; i < resamples; i++) {
        const v = statistic(resample(a, rng, bufA), resample(b, rng, bufB));
        if (Number.isFinite(v))
            stats[kept++] = v;
    }
    if (kept < resamples / 2)
        return null;
    const sorted = stats.subarray(0, kept).sort();
    const alpha = 1 - confidence;
    return { lower: quantileOfSorted(sorted, alpha / 2), upper: quantileOfSorted(sorted, 1 - alpha / 2), confidence };
}
/** Relative change of medians, (median(head) − median(base)) / |median(base)|; NaN when the base median is 0. */
function relativeMedianChange(base, head) {
    return relativeMedianChangeInPlace(Float64Array.from(base), Float64Array.from(head));
}
/** The same, reordering its (scratch) arguments: the bootstrap's statistic. */
const relativeMedianChangeInPlace = (base, head) => {
    const mb = medianInPlace(base);
    const mh = medianInPlace(head);
    return mb === 0 ? NaN : (mh - mb) / Math.abs(mb);
};

;// CONCATENATED MODULE: ./src/bench/stats/mann-whitney.ts
// Mann-Whitney U test (Wilcoxon rank-sum): a rank test that needs no
// normality, so one slow outlier run cannot make or break a verdict. Exact
// p-values for small tie-free samples; otherwise the normal approximation
// with tie and continuity corrections, as scipy.stats.mannwhitneyu computes.

/**
 * Above this many samples in total the exact distribution is not used even
 * without ties: its table grows as n1·n2·(n1·n2) and the normal
 * approximation is already accurate there. scipy's 'auto' switches earlier
 * (when both samples have more than 8); exact is the better answer for the
 * typical 10-30 benchmark repeats, so vmstep keeps it longer.
 */
const EXACT_MAX_TOTAL = 60;
/** Midranks (1-based) of the pooled samples, and the tie correction Σ(t³ − t). */
function rankPooled(a, b) {
    const pooled = [...a.map((v) => ({ v, fromA: true })), ...b.map((v) => ({ v, fromA: false }))];
    pooled.sort((x, y) => x.v - y.v);
    let rankSumA = 0;
    let tieTerm = 0;
    for (let i = 0; i < pooled.length;) {
        let j = i;
        while (j + 1 < pooled.length && pooled[j + 1].v === pooled[i].v)
            j++;
        const t = j - i + 1;
        const midrank = (i + j + 2) / 2;
        for (let k = i; k <= j; k++)
            if (pooled[k].fromA)
                rankSumA += midrank;
        if (t > 1)
            tieTerm += t * t * t - t;
        i = j + 1;
    }
    return { rankSumA, tieTerm };
}
/**
 * Null distribution of U for sample sizes m and n, as probabilities indexed
 * by U = 0 … m·n. Recurrence on the largest pooled value: it belongs to the
 * first sample with probability i/(i+j), and then beats all j others.
 * Only additions of positive terms, so no cancellation at any size.
 */
function exactUDistribution(m, n) {
    // prev[j] holds the distribution for (i − 1, j); cur[j] for (i, j).
    let prev = [];
    for (let j = 0; j <= n; j++)
        prev.push(Float64Array.of(1));
    for (let i = 1; i <= m; i++) {
        const cur = [Float64Array.of(1)];
        for (let j = 1; j <= n; j++) {
            const dist = new Float64Array(i * j + 1);
            const fromA = prev[j]; // (i − 1, j), shifted by j
            const fromB = cur[j - 1]; // (i, j − 1)
            const pa = i / (i + j);
            const pb = j / (i + j);
            for (let u = 0; u < fromA.length; u++)
                dist[u + j] += pa * fromA[u];
            for (let u = 0; u < fromB.length; u++)
                dist[u] += pb * fromB[u];
            cur.push(dist);
        }
        prev = cur;
    }
    return prev[n];
}
function mannWhitneyU(a, b, method = 'auto') {
    const n1 = a.length;
    const n2 = b.length;
    if (n1 === 0 || n2 === 0)
        throw new RangeError(`Mann-Whitney U needs samples on both sides, got ${n1} and ${n2}`);
    for (const v of [...a, ...b])
        if (Number.isNaN(v))
            throw new RangeError('Mann-Whitney U needs numbers, got NaN');
    const { rankSumA, tieTerm } = rankPooled(a, b);
    const u1 = rankSumA - (n1 * (n1 + 1)) / 2;
    const u2 = n1 * n2 - u1;
    const uMax = Math.max(u1, u2);
    const useExact = method === 'exact' || (method === 'auto' && tieTerm === 0 && n1 + n2 <= EXACT_MAX_TOTAL);
    if (useExact) {
        // Without ties U is a whole number; with ties (only when asked for
        // 'exact') scipy rounds the statistic into the tie-free distribution too.
        const dist = exactUDistribution(n1, n2);
        const tail = (from) => {
            let sf = 0;
            for (let u = Math.ceil(from); u < dist.length; u++)
                sf += dist[u];
            return sf;
        };
        const pValue = Math.min(1, 2 * tail(uMax));
        return { u: u1, pValue, method: 'exact', minimumPValue: Math.min(1, 2 * dist[dist.length - 1]) };
    }
    const n = n1 + n2;
    const mu = (n1 * n2) / 2;
    const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
    if (sigma === 0)
        return { u: u1, pValue: 1, method: 'asymptotic', minimumPValue: null };
    const z = (uMax - mu - 0.5) / sigma;
    return { u: u1, pValue: Math.min(1, 2 * normalSf(z)), method: 'asymptotic', minimumPValue: null };
}

;// CONCATENATED MODULE: ./src/bench/stats/welch.ts
// Welch's unequal-variances t-test. Baseline and head runs need not share a
// variance (a regression often adds jitter as well as time), so Student's
// pooled test would be the wrong default.


function welchTTest(a, b, confidence = 0.95) {
    assertConfidence(confidence);
    if (a.length < 2 || b.length < 2) {
        throw new RangeError(`Welch's t-test needs at least 2 samples on each side, got ${a.length} and ${b.length}`);
    }
    const va = sampleVariance(a) / a.length;
    const vb = sampleVariance(b) / b.length;
    const difference = mean(a) - mean(b);
    const se2 = va + vb;
    if (se2 === 0) {
        // Both samples constant: the difference is either exactly zero or certain.
        const df = a.length + b.length - 2;
        const t = difference === 0 ? 0 : difference > 0 ? Infinity : -Infinity;
        return { t, df, pValue: difference === 0 ? 1 : 0, difference, interval: { lower: difference, upper: difference, confidence } };
    }
    const se = Math.sqrt(se2);
    const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
    const t = difference / se;
    const half = studentTQuantile(1 - (1 - confidence) / 2, df) * se;
    return {
        t,
        df,
        pValue: studentTTwoSidedP(t, df),
        difference,
        interval: { lower: difference - half, upper: difference + half, confidence },
    };
}

;// CONCATENATED MODULE: ./src/bench/verdict.ts
// The verdict per metric: did head get worse than baseline by more than the
// threshold, with enough evidence for the chosen test? Three tests, named as
// the user configures them:
//   percentage    the change of medians beyond the threshold, no significance
//                 test (what github-action-benchmark does, but on medians);
//   t-test        Welch's t-test on the means, p < alpha, and the change of
//                 means beyond the threshold;
//   mann-whitney  Mann-Whitney U on the ranks, p < alpha, and the change of
//                 medians beyond the threshold (robust to outlier runs).
// A metric whose run-to-run noise (coefficient of variation) is above half
// the threshold is called out: a threshold inside the noise either misses
// real regressions or fires on nothing.





const TEST_NAMES = ['percentage', 't-test', 'mann-whitney'];
const DEFAULTS = { alpha: 0.05, confidence: 0.95, seed: 'vmstep' };
function parseTestName(text) {
    const t = text.trim().toLowerCase();
    const aliases = {
        percentage: 'percentage',
        percent: 'percentage',
        't-test': 't-test',
        ttest: 't-test',
        welch: 't-test',
        'mann-whitney': 'mann-whitney',
        mannwhitney: 'mann-whitney',
        'mann-whitney-u': 'mann-whitney',
    };
    const found = aliases[t];
    if (!found)
        throw new Error(`unknown test ${JSON.stringify(text)}: use one of ${TEST_NAMES.join(', ')}`);
    return found;
}
/** Parses a threshold such as "5", "5%" or "2.5 %"; throws naming the input otherwise. */
function parseThreshold(text) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
    if (!m)
        throw new Error(`threshold must be a percentage such as 5 or 5%, got ${JSON.stringify(text)}`);
    return Number(m[1]);
}
function validateOptions(options) {
    if (!TEST_NAMES.includes(options.test))
        throw new Error(`unknown test ${JSON.stringify(options.test)}: use one of ${TEST_NAMES.join(', ')}`);
    if (!(options.thresholdPercent >= 0) || !Number.isFinite(options.thresholdPercent)) {
        throw new Error(`threshold must be a percentage of 0 or more, got ${options.thresholdPercent}`);
    }
    const alpha = options.alpha ?? DEFAULTS.alpha;
    if (!(alpha > 0 && alpha < 1))
        throw new Error(`alpha must be between 0 and 1 (for example 0.05), got ${alpha}`);
}
function resolveDirection(metric, overrides) {
    const label = metricLabel(metric);
    if (Object.hasOwn(overrides, label))
        return overrides[label];
    if (Object.hasOwn(overrides, metric.name))
        return overrides[metric.name];
    return metric.direction;
}
/** Smallest equal number of runs per arm at which Mann-Whitney's exact p can go below alpha. */
function minimumRunsForMannWhitney(alpha) {
    // Two-sided minimum p for n and n runs is 2 / C(2n, n).
    let n = 1;
    let binom = 2; // C(2, 1)
    while (2 / binom >= alpha) {
        n++;
        binom = (binom * (2 * n - 1) * (2 * n)) / (n * n);
    }
    return n;
}
const fmtP = (p) => (p < 0.0001 ? p.toExponential(1) : p.toPrecision(2));
function compareSeries(baseline, head, options) {
    validateOptions(options);
    const resolved = {
        test: options.test,
        thresholdPercent: options.thresholdPercent,
        alpha: options.alpha ?? DEFAULTS.alpha,
        confidence: options.confidence ?? DEFAULTS.confidence,
        seed: options.seed ?? DEFAULTS.seed,
        directions: options.directions ?? {},
    };
    const baseByKey = new Map(baseline.map((s) => [metricKey(s), s]));
    const seen = new Set();
    const metrics = [];
    for (const h of head) {
        const key = metricKey(h);
        seen.add(key);
        metrics.push(compareMetric(baseByKey.get(key) ?? null, h, resolved));
    }
    for (const b of baseline)
        if (!seen.has(metricKey(b)))
            metrics.push(compareMetric(b, null, resolved));
    const counts = { regression: 0, improvement: 0, 'no-change': 0, inconclusive: 0, new: 0, missing: 0 };
    for (const m of metrics)
        counts[m.verdict]++;
    return { options: resolved, metrics, counts, regressed: counts.regression > 0 };
}
function compareMetric(base, head, o) {
    const source = (head ?? base);
    const metric = {
        name: source.name,
        measure: source.measure,
        unit: source.unit,
        direction: resolveDirection(source, o.directions),
    };
    // A baseline file may predate a change of unit: time units convert, anything else cannot be compared.
    let baseFactor = 1;
    let unitClash = null;
    if (base && head && base.unit !== head.unit) {
        const from = secondsPerUnit(base.unit);
        const to = secondsPerUnit(head.unit);
        if (from !== undefined && to !== undefined)
            baseFactor = from / to;
        else
            unitClash = `the baseline is in ${JSON.stringify(base.unit)} but head is in ${JSON.stringify(head.unit)}`;
    }
    const baselineValues = base ? base.values.map((v) => v * baseFactor) : [];
    const headValues = head ? [...head.values] : [];
    const bSum = baselineValues.length > 0 ? summarize(baselineValues, o.confidence) : null;
    const hSum = headValues.length > 0 ? summarize(headValues, o.confidence) : null;
    const cvs = [bSum, hSum].filter((s) => s !== null && s.n >= 2 && Number.isFinite(s.cv)).map((s) => s.cv * 100);
    const noisePercent = cvs.length > 0 ? Math.max(...cvs) : null;
    // Only where a verdict is given: a metric without one has nothing the noise could mislead.
    const noisy = bSum !== null && hSum !== null && o.thresholdPercent > 0 && noisePercent !== null && noisePercent > o.thresholdPercent / 2;
    const result = (verdict, reason, extra = {}) => ({
        metric,
        baselineValues,
        headValues,
        baseline: bSum,
        head: hSum,
        changePercent: extra.changePercent ?? null,
        interval: extra.interval ?? null,
        pValue: extra.pValue ?? null,
        verdict,
        noisePercent,
        noisy,
        reason: noisy ? `${reason}; noise (CV ${noisePercent.toFixed(1)}%) is above half the threshold` : reason,
    });
    if (!bSum)
        return result('new', 'no baseline for this metric');
    if (!hSum)
        return result('missing', 'in the baseline but not reported by head');
    if (unitClash)
        return result('inconclusive', `${unitClash}: regenerate the baseline`);
    const useMeans = o.test === 't-test';
    const bCentre = useMeans ? bSum.mean : bSum.median;
    const hCentre = useMeans ? hSum.mean : hSum.median;
    if (bCentre === 0) {
        return hCentre === 0
            ? result('no-change', 'zero in both')
            : result('inconclusive', 'the baseline is zero, so a relative change is undefined');
    }
    const changePercent = ((hCentre - bCentre) / Math.abs(bCentre)) * 100;
    const worse = metric.direction === 'smaller' ? changePercent > 0 : changePercent < 0;
    const beyond = Math.abs(changePercent) > o.thresholdPercent;
    const sign = changePercent >= 0 ? '+' : '';
    const changeText = `${sign}${changePercent.toFixed(2)}% vs threshold ${o.thresholdPercent}%`;
    let interval;
    let pValue = null;
    let evidence;
    let significant;
    if (o.test === 't-test') {
        if (bSum.n < 2 || hSum.n < 2) {
            return result('inconclusive', `Welch's t-test needs at least 2 runs on each side (have ${bSum.n} and ${hSum.n}): raise repeat`, {
                changePercent,
            });
        }
        const w = welchTTest(headValues, baselineValues, o.confidence);
        const scale = 100 / Math.abs(bCentre);
        interval = { lower: w.interval.lower * scale, upper: w.interval.upper * scale, confidence: o.confidence };
        pValue = w.pValue;
        significant = w.pValue < o.alpha;
        evidence = `Welch's t-test p = ${fmtP(w.pValue)}`;
    }
    else {
        interval = medianChangeInterval(baselineValues, headValues, o);
        if (o.test === 'mann-whitney') {
            const mw = mannWhitneyU(headValues, baselineValues);
            if (mw.minimumPValue !== null && mw.minimumPValue >= o.alpha) {
                const need = minimumRunsForMannWhitney(o.alpha);
                return result('inconclusive', `with ${hSum.n} and ${bSum.n} runs Mann-Whitney cannot reach p < ${o.alpha} (smallest possible p ${fmtP(mw.minimumPValue)}): set repeat to at least ${need}`, { changePercent, interval });
            }
            pValue = mw.pValue;
            significant = mw.pValue < o.alpha;
            evidence = `Mann-Whitney p = ${fmtP(mw.pValue)}`;
        }
        else {
            significant = true;
            evidence = 'change of medians';
        }
    }
    const extra = { changePercent, interval, pValue };
    if (!beyond)
        return result('no-change', `${changeText} (${evidence})`, extra);
    if (!significant)
        return result('no-change', `${changeText} but not significant (${evidence} ≥ ${o.alpha})`, extra);
    return result(worse ? 'regression' : 'improvement', `${changeText} (${evidence})`, extra);
}
function medianChangeInterval(base, head, o) {
    // One run has no spread to resample: an interval there would be a false point.
    if (base.length < 2 || head.length < 2)
        return null;
    const ci = bootstrapTwoSampleInterval(base, head, relativeMedianChangeInPlace, { confidence: o.confidence, seed: o.seed });
    return ci && { lower: ci.lower * 100, upper: ci.upper * 100, confidence: ci.confidence };
}
/**
 * The message for a failed step under fail-on-regression, or null when
 * nothing regressed: which metrics, by how much, against which threshold.
 */
function regressionMessage(c) {
    const regressed = c.metrics.filter((m) => m.verdict === 'regression');
    if (regressed.length === 0)
        return null;
    const list = regressed
        .slice(0, 10)
        .map((m) => `${metricLabel(m.metric).slice(0, 80)} (${m.changePercent >= 0 ? '+' : ''}${m.changePercent.toFixed(1)}%)`)
        .join(', ');
    const more = regressed.length > 10 ? ` and ${regressed.length - 10} more` : '';
    return (`${regressed.length} benchmark metric${regressed.length === 1 ? '' : 's'} regressed beyond the ${c.options.thresholdPercent}% threshold ` +
        `(${c.options.test}): ${list}${more}. See the job summary for every run.`);
}

;// CONCATENATED MODULE: ./src/bench/guest-settings.ts
// Guest kernel arguments that benchmark mode adds to the base command line
// (the base lives with the VM launcher; these are only for `bench`). They
// remove sources of run-to-run variance that have nothing to do with the
// code under test, as Bencher recommends for its bare-metal runners:
//   nokaslr                      the kernel lands at the same address every boot,
//                                so its cache and TLB footprint repeats;
//   norandmaps                   no address-space randomisation for the workload
//                                (same as randomize_va_space=0);
//   transparent_hugepage=never   no khugepaged work, no huge-page luck.
const BENCH_KERNEL_ARGS = Object.freeze(['nokaslr', 'norandmaps', 'transparent_hugepage=never']);

;// CONCATENATED MODULE: ./src/bench/report/format.ts
// Number and text formatting shared by the markdown report and the chart.
// Names reach these functions from the guest, so every function that puts
// text into markdown or SVG escapes it here, in one place.

/** Longest metric name shown; longer names are cut with an ellipsis. */
const MAX_DISPLAY_NAME = 100;
const TIME_SCALES = [
    [1, 's'],
    [1e-3, 'ms'],
    [1e-6, 'µs'],
    [1e-9, 'ns'],
];
/** Significant digits that keep a value readable without hiding a 1 % change. */
function trimmed(value, digits = 4) {
    if (value === 0)
        return '0';
    const abs = Math.abs(value);
    if (abs >= 1e15 || abs < 1e-6)
        return value.toExponential(digits - 1);
    // toPrecision can switch to exponent notation for large values; avoid it below 1e15.
    const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
    return value.toFixed(Math.min(decimals, 12));
}
/** Picks one display scale for a set of values in a time unit, so a column or axis shares it. */
function timeScaleFor(values, unit) {
    const perUnit = secondsPerUnit(unit);
    if (perUnit === undefined)
        return null;
    const finite = values.filter((v) => Number.isFinite(v) && v !== 0).map((v) => Math.abs(v) * perUnit);
    const typical = finite.length > 0 ? Math.max(...finite) : perUnit;
    const [scale, name] = TIME_SCALES.find(([s]) => typical >= s) ?? TIME_SCALES[TIME_SCALES.length - 1];
    return { factor: perUnit / scale, unit: name };
}
/** "12.35 ms", "1.523 µs", "48,210 req/s", "0.93". */
function formatValue(value, unit, digits = 4) {
    const time = timeScaleFor([value], unit);
    if (time)
        return `${trimmed(value * time.factor, digits)} ${time.unit}`;
    const text = Math.abs(value) >= 1e4 && Math.abs(value) < 1e15 && Number.isInteger(Math.round(value))
        ? Math.round(value).toLocaleString('en-US')
        : trimmed(value, digits);
    return unit ? `${text} ${unit}` : text;
}
/** "+12.3%", "−4.0%", "0.0%": a real minus sign so columns read cleanly. */
function formatPercent(value, digits = 1) {
    if (!Number.isFinite(value))
        return 'n/a';
    const text = Math.abs(value).toFixed(digits);
    if (Number(text) === 0)
        return `${text}%`;
    return `${value > 0 ? '+' : '−'}${text}%`;
}
/** Drops characters that cannot appear in XML 1.0 and replaces line breaks and tabs. */
function cleanText(text, max = MAX_DISPLAY_NAME) {
    let clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
    clean = clean.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    clean = clean.replace(/[\ufffe\uffff]/g, '\ufffd');
    const chars = [...clean];
    return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : clean;
}
/**
 * Text safe inside a GitHub-flavoured markdown table cell: no pipes or line
 * breaks, no HTML, no emphasis or links, and no @mentions or #references
 * that would notify people from a name the guest chose.
 */
function escapeMarkdown(text, max = MAX_DISPLAY_NAME) {
    return cleanText(text, max)
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
        .replace(/@/g, '@\u2060')
        .replace(/#(?=\d)/g, '#\u2060')
        .replace(/:\/\//g, ':\u2060//');
}
function escapeXml(text, max = MAX_DISPLAY_NAME) {
    return cleanText(text, max)
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&apos;');
}

;// CONCATENATED MODULE: ./src/bench/report/markdown.ts
// The markdown report: the job summary table and the PR comment body. One
// row per metric (metric, baseline, head, change, interval, verdict), a
// headline that says what failed, and the noise call-outs below it. GitHub
// renders it; a terminal shows it readably as plain text too.


const VERDICT_TEXT = {
    regression: '🔴 **regression**',
    improvement: '🟢 improvement',
    'no-change': '⚪ no change',
    inconclusive: '🟡 inconclusive',
    new: '🆕 new',
    missing: '⚫ missing',
};
const TEST_TITLES = {
    percentage: 'change of medians',
    't-test': "Welch's t-test on means",
    'mann-whitney': 'Mann-Whitney U on medians',
};
/** The centre the test compares: the mean for t-test, the median otherwise. */
function centre(s, test) {
    return test === 't-test' ? s.mean : s.median;
}
function armCell(s, m, test) {
    if (!s)
        return '—';
    const value = formatValue(centre(s, test), m.metric.unit);
    const spread = s.n >= 2 && Number.isFinite(s.cv) ? ` ±${(s.cv * 100).toFixed(1)}%` : '';
    return `${escapeMarkdown(value)}${spread}`;
}
function intervalCell(m) {
    if (!m.interval)
        return '—';
    return `${formatPercent(m.interval.lower)} … ${formatPercent(m.interval.upper)}`;
}
function verdictCell(m) {
    const p = m.pValue !== null ? ` (p ${m.pValue < 0.001 ? '< 0.001' : `= ${m.pValue.toFixed(3)}`})` : '';
    return `${VERDICT_TEXT[m.verdict]}${p}${m.noisy ? ' ⚠️ noisy' : ''}`;
}
function plural(n, one, many = `${one}s`) {
    return `${n} ${n === 1 ? one : many}`;
}
function renderHeadline(c) {
    const parts = [
        c.counts.regression > 0 ? `**${plural(c.counts.regression, 'regression')}**` : 'no regressions',
        plural(c.counts.improvement, 'improvement'),
        `${c.counts['no-change']} unchanged`,
    ];
    if (c.counts.inconclusive > 0)
        parts.push(`${c.counts.inconclusive} inconclusive`);
    if (c.counts.new > 0)
        parts.push(`${c.counts.new} new`);
    if (c.counts.missing > 0)
        parts.push(`${c.counts.missing} missing`);
    return parts.join(' · ');
}
function runCounts(c) {
    const ns = (pick) => {
        const set = [...new Set(c.metrics.map(pick).filter((s) => s !== null).map((s) => s.n))];
        return set.length === 1 ? String(set[0]) : set.length === 0 ? '0' : `${Math.min(...set)}–${Math.max(...set)}`;
    };
    return `${ns((m) => m.baseline)} baseline and ${ns((m) => m.head)} head runs`;
}
function renderMarkdownReport(c, options = {}) {
    const hasBaseline = c.metrics.some((m) => m.baseline !== null);
    if (!hasBaseline)
        return renderMarkdownStatistics(c, options);
    const o = c.options;
    const lines = [];
    if (options.title)
        lines.push(`### ${escapeMarkdown(options.title)}`, '');
    lines.push(renderHeadline(c), '', `${TEST_TITLES[o.test]}, threshold ${o.thresholdPercent}%` +
        (o.test === 'percentage' ? '' : `, α = ${o.alpha}`) +
        `, ${runCounts(c)}, ${Math.round(o.confidence * 100)}% intervals`, '');
    const base = options.baselineLabel ? `Baseline (${escapeMarkdown(options.baselineLabel, 60)})` : 'Baseline';
    const head = options.headLabel ? `Head (${escapeMarkdown(options.headLabel, 60)})` : 'Head';
    lines.push(`| Metric | ${base} | ${head} | Change | Interval | Verdict |`, '| :-- | --: | --: | --: | :-: | :-- |');
    for (const m of c.metrics) {
        const change = m.changePercent === null ? '—' : formatPercent(m.changePercent);
        lines.push(`| ${escapeMarkdown(metricLabel(m.metric))} | ${armCell(m.baseline, m, o.test)} | ${armCell(m.head, m, o.test)} | ${change} | ${intervalCell(m)} | ${verdictCell(m)} |`);
    }
    lines.push('');
    if (options.chartMarkdown)
        lines.push(options.chartMarkdown, '');
    lines.push(...notes(c, options.warnings ?? []));
    return `${lines.join('\n').trimEnd()}\n`;
}
function notes(c, warnings) {
    const out = [];
    const noisy = c.metrics.filter((m) => m.noisy);
    if (noisy.length > 0) {
        out.push('> [!WARNING]', `> Run-to-run noise is above half the ${c.options.thresholdPercent}% threshold for ${plural(noisy.length, 'metric')}: ` +
            noisy
                .slice(0, 10)
                .map((m) => `${escapeMarkdown(metricLabel(m.metric), 60)} (CV ${m.noisePercent.toFixed(1)}%)`)
                .join(', ') +
            (noisy.length > 10 ? ', …' : '') +
            '. Changes this small cannot be told from noise: raise `repeat`, quiet the host (see `vmstep doctor`), or raise the threshold.', '');
    }
    const explained = c.metrics.filter((m) => m.verdict === 'regression' || m.verdict === 'inconclusive' || m.verdict === 'missing');
    if (explained.length > 0 || warnings.length > 0) {
        out.push('<details><summary>Details</summary>', '');
        for (const m of explained)
            out.push(`- ${escapeMarkdown(metricLabel(m.metric), 60)}: ${escapeMarkdown(m.reason, 400)}`);
        for (const w of warnings.slice(0, 50))
            out.push(`- ${escapeMarkdown(w, 400)}`);
        out.push('', '</details>', '');
    }
    return out;
}
/** Without a baseline: the statistics of each metric. */
function renderMarkdownStatistics(c, options = {}) {
    const lines = [];
    if (options.title)
        lines.push(`### ${escapeMarkdown(options.title)}`, '');
    const conf = Math.round(c.options.confidence * 100);
    lines.push(`| Metric | Runs | Median | Mean | Std dev | CV | Min | Max | Mean ${conf}% CI | Median ${conf}% CI |`, '| :-- | --: | --: | --: | --: | --: | --: | --: | :-: | :-: |');
    for (const m of c.metrics) {
        const s = m.head ?? m.baseline;
        if (!s)
            continue;
        const u = m.metric.unit;
        const v = (x) => escapeMarkdown(formatValue(x, u));
        const ci = (i) => (i ? `${v(i.lower)} … ${v(i.upper)}` : '—');
        lines.push(`| ${escapeMarkdown(metricLabel(m.metric))} | ${s.n} | ${v(s.median)} | ${v(s.mean)} | ${v(s.stddev)} | ` +
            `${Number.isFinite(s.cv) ? `${(s.cv * 100).toFixed(1)}%` : '—'} | ${v(s.min)} | ${v(s.max)} | ${ci(s.meanInterval)} | ${ci(s.medianInterval)} |`);
    }
    lines.push('');
    if (options.chartMarkdown)
        lines.push(options.chartMarkdown, '');
    if (options.warnings && options.warnings.length > 0) {
        lines.push('<details><summary>Details</summary>', '', ...options.warnings.slice(0, 50).map((w) => `- ${escapeMarkdown(w, 400)}`), '', '</details>', '');
    }
    return `${lines.join('\n').trimEnd()}\n`;
}

;// CONCATENATED MODULE: ./src/bench/report/svg.ts
// The chart of every sample: one row per metric, one lane per arm, one dot
// per run, a bar at each arm's median, and the band of the baseline median ±
// threshold that head's median must stay in. Showing every run, not just a
// bar, is the point: a reader sees at once whether two arms overlap, whether
// one run was an outlier and whether the noise dwarfs the threshold.
//
// The SVG is self-contained (no scripts, external fonts, images or styles),
// uses only presentation attributes that every renderer knows (GitHub,
// browsers, librsvg), and escapes every name the guest chose.



const MAX_CHART_METRICS = 40;
/** Most dots drawn per arm and metric (repeat is bounded well below this). */
const MAX_DOTS = 1000;
const WIDTH = 820;
const LEFT = 16;
const LABEL_CHARS = 28;
const PLOT_X0 = 290;
const PLOT_X1 = WIDTH - 28;
const HEADER = 78;
const FOOTER = 34;
const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';
const COLOURS = {
    baseline: { fill: '#4c78a8', median: '#1d3f66' },
    head: { fill: '#f58518', median: '#8a4200' },
    text: '#1f2328',
    muted: '#59636e',
    grid: '#d8dee4',
    band: '#8fbc8f',
    stripe: '#f6f8fa',
};
const VERDICT_COLOURS = {
    regression: '#cf222e',
    improvement: '#1a7f37',
    'no-change': '#59636e',
    inconclusive: '#9a6700',
    new: '#0969da',
    missing: '#59636e',
};
const VERDICT_WORDS = {
    regression: 'regression',
    improvement: 'improvement',
    'no-change': 'no change',
    inconclusive: 'inconclusive',
    new: 'new (no baseline)',
    missing: 'missing in head',
};
/** Round numbers for an axis: 1, 2 or 5 times a power of ten. */
function niceStep(span, targetTicks) {
    const raw = span / Math.max(1, targetTicks);
    const power = 10 ** Math.floor(Math.log10(raw));
    const f = raw / power;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}
const fmt = (n) => (Math.round(n * 100) / 100).toString();
const SI = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
];
/** Tick labels: numbers only (the unit is in the text column), 640k rather than 640000. */
function axis(lo, hi, x, top, axisY, factor) {
    const out = [`<line x1="${PLOT_X0}" y1="${axisY}" x2="${PLOT_X1}" y2="${axisY}" stroke="${COLOURS.muted}" stroke-width="1"/>`];
    const step = niceStep((hi - lo) * factor, 5) / factor;
    const magnitude = Math.max(Math.abs(lo), Math.abs(hi)) * factor;
    const [divisor, suffix] = magnitude >= 1e4 ? (SI.find(([d]) => magnitude >= d * 10) ?? [1, '']) : [1, ''];
    const decimals = Math.max(0, -Math.floor(Math.log10((step * factor) / divisor) + 1e-9));
    for (let i = Math.ceil(lo / step), n = 0; i * step <= hi + step * 1e-9 && n < 12; i++, n++) {
        const t = i * step;
        const tx = fmt(x(t));
        const text = `${((t * factor) / divisor).toFixed(Math.min(decimals, 10))}${suffix}`;
        out.push(`<line x1="${tx}" y1="${top + 6}" x2="${tx}" y2="${axisY}" stroke="${COLOURS.grid}" stroke-width="1"/>`, `<line x1="${tx}" y1="${axisY}" x2="${tx}" y2="${axisY + 4}" stroke="${COLOURS.muted}" stroke-width="1"/>`, `<text x="${tx}" y="${axisY + 15}" font-size="10.5" text-anchor="middle" fill="${COLOURS.muted}">${escapeXml(text, 30)}</text>`);
    }
    return out;
}
function domain(values) {
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    if (lo === hi) {
        const pad = lo === 0 ? 1 : Math.abs(lo) * 0.02;
        return [lo - pad, hi + pad];
    }
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;
    return [lo, hi];
}
function renderSvgChart(c, options = {}) {
    const limit = Math.max(1, options.maxMetrics ?? MAX_CHART_METRICS);
    const shown = c.metrics.slice(0, limit);
    const twoLanes = c.metrics.some((m) => m.baselineValues.length > 0);
    const rowHeight = twoLanes ? 86 : 64;
    const height = HEADER + rowHeight * Math.max(1, shown.length) + FOOTER;
    const title = options.title ?? (twoLanes ? 'Every run: baseline vs head' : 'Every run');
    const out = [];
    out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
        `role="img" aria-label="${escapeXml(title)}" font-family="${FONT}">`, `<title>${escapeXml(title)}</title>`, `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`, `<text x="${LEFT}" y="28" font-size="16" font-weight="bold" fill="${COLOURS.text}">${escapeXml(title)}</text>`);
    out.push(...legend(twoLanes, options, c));
    if (shown.length === 0) {
        out.push(`<text x="${LEFT}" y="${HEADER + 30}" font-size="13" fill="${COLOURS.muted}">No metrics were recorded.</text>`);
    }
    shown.forEach((m, i) => out.push(...row(m, HEADER + i * rowHeight, rowHeight, twoLanes, i, c)));
    const more = c.metrics.length - shown.length;
    const foot = 'Each dot is one run; the bar is the median' +
        (twoLanes ? `; the shaded band is the baseline median ± ${c.options.thresholdPercent}% threshold.` : '.') +
        (more > 0 ? ` ${more} more metric${more === 1 ? '' : 's'} not drawn: see the table.` : '');
    out.push(`<text x="${LEFT}" y="${height - 13}" font-size="11" fill="${COLOURS.muted}">${escapeXml(foot, 300)}</text>`, '</svg>');
    return `${out.join('\n')}\n`;
}
function legend(twoLanes, options, c) {
    const y = 54;
    const out = [];
    let x = LEFT;
    const item = (colour, label) => {
        out.push(`<circle cx="${x + 6}" cy="${y - 4}" r="5" fill="${colour.fill}" fill-opacity="0.75" stroke="${colour.median}" stroke-width="1"/>`, `<text x="${x + 16}" y="${y}" font-size="12" fill="${COLOURS.text}">${escapeXml(label, 48)}</text>`);
        x += 26 + Math.min(48, [...cleanText(label, 48)].length) * 7;
    };
    if (twoLanes)
        item(COLOURS.baseline, options.baselineLabel ? `baseline: ${options.baselineLabel}` : 'baseline');
    item(COLOURS.head, options.headLabel ? `head: ${options.headLabel}` : twoLanes ? 'head' : 'runs');
    out.push(`<line x1="${x + 6}" y1="${y - 12}" x2="${x + 6}" y2="${y + 4}" stroke="${COLOURS.text}" stroke-width="3"/>`, `<text x="${x + 14}" y="${y}" font-size="12" fill="${COLOURS.text}">median</text>`);
    x += 80;
    if (twoLanes) {
        out.push(`<rect x="${x}" y="${y - 12}" width="16" height="16" fill="${COLOURS.band}" fill-opacity="0.3"/>`, `<text x="${x + 22}" y="${y}" font-size="12" fill="${COLOURS.text}">±${escapeXml(String(c.options.thresholdPercent))}% of baseline median</text>`);
    }
    return out;
}
function row(m, top, height, twoLanes, index, c) {
    const out = [];
    if (index % 2 === 0)
        out.push(`<rect x="0" y="${top}" width="${WIDTH}" height="${height}" fill="${COLOURS.stripe}"/>`);
    const lanes = [];
    const cap = (v) => v.slice(0, MAX_DOTS);
    if (twoLanes)
        lanes.push({ arm: 'baseline', values: cap(m.baselineValues), median: m.baseline?.median ?? null });
    lanes.push({ arm: 'head', values: cap(m.headValues), median: m.head?.median ?? null });
    const all = lanes.flatMap((l) => l.values);
    // Text column: name, axis unit and direction, verdict.
    const scale = timeScaleFor(all, m.metric.unit);
    const axisUnit = scale?.unit ?? m.metric.unit;
    const label = cleanText(metricLabel(m.metric), LABEL_CHARS).trim();
    const unitText = `${axisUnit ? `${axisUnit} · ` : ''}${m.metric.direction} is better`;
    const lineGap = twoLanes ? 18 : 16;
    out.push(`<text x="${LEFT}" y="${top + 22}" font-size="13" font-weight="bold" fill="${COLOURS.text}">${escapeXml(label, LABEL_CHARS)}</text>`, `<text x="${LEFT}" y="${top + 22 + lineGap}" font-size="11" fill="${COLOURS.muted}">${escapeXml(unitText, 44)}</text>`);
    if (twoLanes) {
        const change = m.changePercent === null ? '' : ` ${formatPercent(m.changePercent)}`;
        const noisy = m.noisy ? ' · noisy' : '';
        out.push(`<text x="${LEFT}" y="${top + 22 + 2 * lineGap}" font-size="12" font-weight="bold" fill="${VERDICT_COLOURS[m.verdict]}">` +
            `${escapeXml(`${VERDICT_WORDS[m.verdict]}${change}${noisy}`)}</text>`);
    }
    else if (m.head && m.head.n >= 2 && Number.isFinite(m.head.cv)) {
        out.push(`<text x="${LEFT}" y="${top + 22 + 2 * lineGap}" font-size="11" fill="${COLOURS.muted}">CV ${(m.head.cv * 100).toFixed(1)}% over ${m.head.n} runs</text>`);
    }
    if (all.length === 0)
        return out;
    const [lo, hi] = domain(all);
    const bandLo = m.baseline ? m.baseline.median * (1 - c.options.thresholdPercent / 100) : null;
    const bandHi = m.baseline ? m.baseline.median * (1 + c.options.thresholdPercent / 100) : null;
    const x = (v) => PLOT_X0 + ((v - lo) / (hi - lo)) * (PLOT_X1 - PLOT_X0);
    const clampX = (v) => Math.min(PLOT_X1, Math.max(PLOT_X0, x(v)));
    const laneY = (i) => top + (twoLanes ? 20 + i * 24 : 24);
    const axisY = laneY(lanes.length - 1) + 16;
    // Grid and ticks, in one display unit for the whole row, named in the text column.
    out.push(...axis(lo, hi, x, top, axisY, scale?.factor ?? 1));
    // The band head's median must stay inside for "no change" (percentage terms).
    if (bandLo !== null && bandHi !== null && twoLanes) {
        const x0 = clampX(Math.min(bandLo, bandHi));
        const x1 = clampX(Math.max(bandLo, bandHi));
        if (x1 > x0) {
            out.push(`<rect x="${fmt(x0)}" y="${laneY(1) - 11}" width="${fmt(x1 - x0)}" height="22" fill="${COLOURS.band}" fill-opacity="0.3"/>`);
        }
    }
    // Dots, jittered vertically by a PRNG seeded with the metric, so the same data draws the same picture.
    const rng = createRng(metricKey(m.metric));
    lanes.forEach((lane, i) => {
        const colour = COLOURS[lane.arm];
        const y = laneY(i);
        if (twoLanes) {
            out.push(`<text x="${PLOT_X0 - 8}" y="${y + 4}" font-size="10.5" text-anchor="end" fill="${colour.median}">${lane.arm === 'baseline' ? 'base' : 'head'}</text>`);
        }
        for (const v of lane.values) {
            const jitter = (rng() - 0.5) * 12;
            out.push(`<circle cx="${fmt(x(v))}" cy="${fmt(y + jitter)}" r="4" fill="${colour.fill}" fill-opacity="0.6" stroke="${colour.median}" stroke-width="0.8"/>`);
        }
        if (lane.median !== null) {
            const mx = fmt(x(lane.median));
            out.push(`<line x1="${mx}" y1="${y - 10}" x2="${mx}" y2="${y + 10}" stroke="${colour.median}" stroke-width="3" stroke-linecap="round"/>`);
        }
    });
    return out;
}

;// CONCATENATED MODULE: ./src/bench/report/text-chart.ts
// Every sample as text, for places that show no images: GitHub's job summary
// drops images given as data: URIs, so the summary carries this chart and
// the SVG travels as a file. One block per metric, one lane per arm on a
// shared axis, a dot per run and a bar at the median:
//
//   wall time
//     baseline  |··┃·                                        |  median 1.05 s
//     head      |                                     ·┃··  |  median 2.3 s
//               1.02 s                                  2.41 s


const LANE_WIDTH = 48;
const LABEL_WIDTH = 10;
/** A fenced code block with the chart, or '' when no metric has samples. */
function renderTextChart(comparison, options = {}) {
    const max = options.maxMetrics ?? 40;
    const drawn = comparison.metrics.filter((m) => m.baselineValues.length + m.headValues.length > 0);
    if (drawn.length === 0)
        return '';
    // The lanes are named by role; the report's table above names the images.
    const labels = { baseline: 'baseline'.padEnd(LABEL_WIDTH), head: 'head'.padEnd(LABEL_WIDTH) };
    const blocks = drawn.slice(0, max).map((m) => metricBlock(m, labels));
    if (drawn.length > max)
        blocks.push(`(${drawn.length - max} more metrics in the SVG chart)`);
    // Names come from the guest: nothing in them may close the fence.
    return ['```text', ...blocks.join('\n\n').split('\n').map((l) => l.replace(/`/g, "'")), '```'].join('\n');
}
function metricBlock(m, labels) {
    const all = [...m.baselineValues, ...m.headValues].filter(Number.isFinite);
    let lo = Math.min(...all);
    let hi = Math.max(...all);
    if (!(hi > lo)) {
        const pad = Math.abs(lo) * 0.05 || 1;
        lo -= pad;
        hi += pad;
    }
    const unit = m.metric.unit;
    const row = (label, values, median) => {
        const cells = Array(LANE_WIDTH).fill(' ');
        const at = (v) => Math.min(LANE_WIDTH - 1, Math.max(0, Math.round(((v - lo) / (hi - lo)) * (LANE_WIDTH - 1))));
        for (const v of values)
            if (Number.isFinite(v))
                cells[at(v)] = '·';
        if (median !== undefined && Number.isFinite(median))
            cells[at(median)] = '┃';
        return `  ${label}|${cells.join('')}|  median ${median === undefined ? 'n/a' : formatValue(median, unit)}`;
    };
    const lines = [cleanText(metricLabel(m.metric))];
    if (m.baselineValues.length > 0)
        lines.push(row(labels.baseline, m.baselineValues, m.baseline?.median));
    if (m.headValues.length > 0)
        lines.push(row(labels.head, m.headValues, m.head?.median));
    const left = formatValue(lo, unit);
    const right = formatValue(hi, unit);
    lines.push(`  ${' '.repeat(LABEL_WIDTH)} ${left}${' '.repeat(Math.max(1, LANE_WIDTH - left.length - right.length))}${right}`);
    return lines.join('\n');
}

;// CONCATENATED MODULE: ./src/bench/report/export.ts
// Results written in the formats other tools read, so users can feed
// Bencher (`bencher run --adapter json --file ...`) or github-action-benchmark
// (`tool: customSmallerIsBetter` / `customBiggerIsBetter`) from a vmstep run.
// Each metric is reported at its median, the centre vmstep's verdicts use.


/** Sets a key as an own data property, even "__proto__", which plain assignment would not. */
function setOwn(target, key, value) {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
/**
 * Bencher Metric Format: value = median, lower/upper = the median's
 * order-statistic 95 % interval, or min and max when there are too few runs
 * for one. Bencher's built-in latency measure is in nanoseconds, so latency
 * metrics in a time unit are converted; other measures keep their unit.
 */
function toBencherMetricFormat(series) {
    const out = {};
    for (const s of series) {
        if (s.values.length === 0)
            continue;
        const sum = summarize(s.values);
        const perUnit = secondsPerUnit(s.unit);
        const factor = s.measure === 'latency' && perUnit !== undefined ? perUnit * 1e9 : 1;
        const lower = sum.medianInterval?.lower ?? sum.min;
        const upper = sum.medianInterval?.upper ?? sum.max;
        if (!Object.hasOwn(out, s.name))
            setOwn(out, s.name, {});
        setOwn(out[s.name], s.measure, { value: sum.median * factor, lower_value: lower * factor, upper_value: upper * factor });
    }
    return out;
}
const num = (n) => String(Number(n.toPrecision(6)));
/**
 * github-action-benchmark reads one direction per file, so the metrics are
 * split: write `smallerIsBetter` for tool customSmallerIsBetter and
 * `biggerIsBetter` for customBiggerIsBetter.
 */
function toGithubActionBenchmark(series) {
    const smallerIsBetter = [];
    const biggerIsBetter = [];
    for (const s of series) {
        if (s.values.length === 0)
            continue;
        const sum = summarize(s.values);
        const entry = {
            name: metricLabel(s),
            unit: s.unit,
            value: sum.median,
            range: `± ${num(sum.stddev)}`,
            extra: `median of ${sum.n} runs\nmean ${num(sum.mean)}\nmin ${num(sum.min)}, max ${num(sum.max)}`,
        };
        (s.direction === 'bigger' ? biggerIsBetter : smallerIsBetter).push(entry);
    }
    return { smallerIsBetter, biggerIsBetter };
}

;// CONCATENATED MODULE: ./src/bench/result-file.ts
// The result file: every sample of every metric from one vmstep bench run,
// written at the end of a run and read back as `baseline-file` by a later
// one (for example restored with actions/cache from the default branch).
// Raw samples, not summaries, so the later run can apply any test. The file
// may come from anywhere the workflow could fetch it, so reading it is as
// strict and bounded as reading a guest's metrics file.
//
//   {
//     "format": "vmstep-bench-results",
//     "version": 1,
//     "createdAt": "2025-01-31T12:00:00.000Z",
//     "context": { "image": "ghcr.io/acme/app:main", "commit": "0a1b2c..." },
//     "metrics": [
//       { "name": "wall time", "measure": "latency", "unit": "ms",
//         "direction": "smaller", "values": [182.1, 181.7, ...] }
//     ]
//   }



const RESULT_FILE_FORMAT = 'vmstep-bench-results';
const RESULT_FILE_VERSION = 1;
/** Largest result file read: 1000 metrics of 1000 runs is about 20 MB of JSON; real files are far smaller. */
const MAX_RESULT_FILE_BYTES = 32 * 1024 * 1024;
const MAX_VALUES_PER_METRIC = 100_000;
const MAX_CONTEXT_ENTRIES = 32;
const MAX_CONTEXT_CHARS = 1024;
class ResultFileError extends Error {
    source;
    constructor(source, problem) {
        super(`baseline file ${source}: ${problem}`);
        this.name = 'ResultFileError';
        this.source = source;
    }
}
function createResultFile(series, context = {}, now = new Date()) {
    return {
        format: RESULT_FILE_FORMAT,
        version: RESULT_FILE_VERSION,
        createdAt: now.toISOString(),
        context: { ...context },
        metrics: series.map((s) => ({ name: s.name, measure: s.measure, unit: s.unit, direction: s.direction, values: [...s.values] })),
    };
}
function serializeResultFile(file) {
    // One metric per line keeps diffs of committed baselines readable.
    const head = JSON.stringify({ format: file.format, version: file.version, createdAt: file.createdAt, context: file.context }, null, 2);
    const metrics = file.metrics.map((m) => `    ${JSON.stringify(m)}`).join(',\n');
    return `${head.slice(0, -2)},\n  "metrics": [\n${metrics}${metrics ? '\n' : ''}  ]\n}\n`;
}
function readString(value, source, where, max, allowEmpty = false) {
    if (typeof value !== 'string')
        throw new ResultFileError(source, `${where} must be a string, found ${describeJson(value)}`);
    if (!allowEmpty && value.trim() === '')
        throw new ResultFileError(source, `${where} is empty`);
    if (value.length > max)
        throw new ResultFileError(source, `${where} is ${value.length} characters long, over the limit of ${max}`);
    return value;
}
function parseResultFile(content, source = 'baseline file') {
    const bytes = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
    if (bytes === 0)
        throw new ResultFileError(source, 'the file is empty: point baseline-file at a results file that an earlier vmstep bench run wrote');
    if (bytes > MAX_RESULT_FILE_BYTES)
        throw new ResultFileError(source, `the file is ${bytes} bytes, over the ${MAX_RESULT_FILE_BYTES}-byte limit`);
    let text;
    try {
        text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
    }
    catch {
        throw new ResultFileError(source, 'the file is not UTF-8 text');
    }
    let json;
    try {
        json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    }
    catch (error) {
        throw new ResultFileError(source, `not valid JSON (${error.message})`);
    }
    if (!isPlainObject(json) || json.format !== RESULT_FILE_FORMAT) {
        throw new ResultFileError(source, `not a vmstep results file (no "format": "${RESULT_FILE_FORMAT}"): baseline-file takes the results file a vmstep bench run wrote, not a metrics file`);
    }
    const version = json.version;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
        throw new ResultFileError(source, `"version" must be a whole number of 1 or more, found ${describeJson(version)}`);
    }
    if (version > RESULT_FILE_VERSION) {
        throw new ResultFileError(source, `written by a newer vmstep (results format version ${version}; this vmstep reads up to ${RESULT_FILE_VERSION}): update vmstep, or regenerate the baseline with this version`);
    }
    const createdAt = json.createdAt === undefined ? '' : readString(json.createdAt, source, '"createdAt"', 64, true);
    const context = {};
    if (json.context !== undefined) {
        if (!isPlainObject(json.context))
            throw new ResultFileError(source, `"context" must be an object, found ${describeJson(json.context)}`);
        const entries = Object.entries(json.context);
        if (entries.length > MAX_CONTEXT_ENTRIES)
            throw new ResultFileError(source, `"context" has ${entries.length} entries, over ${MAX_CONTEXT_ENTRIES}`);
        for (const [k, v] of entries) {
            Object.defineProperty(context, k, {
                value: readString(v, source, `"context" entry ${JSON.stringify(k.slice(0, 40))}`, MAX_CONTEXT_CHARS, true),
                enumerable: true,
                writable: true,
                configurable: true,
            });
        }
    }
    if (!Array.isArray(json.metrics))
        throw new ResultFileError(source, `"metrics" must be an array, found ${describeJson(json.metrics)}`);
    if (json.metrics.length > MAX_SERIES)
        throw new ResultFileError(source, `${json.metrics.length} metrics, over the limit of ${MAX_SERIES}`);
    const seen = new Set();
    const metrics = json.metrics.map((entry, i) => {
        const where = `metrics[${i}]`;
        if (!isPlainObject(entry))
            throw new ResultFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
        const name = readString(entry.name, source, `${where} "name"`, MAX_NAME_CHARS);
        const measure = readString(entry.measure, source, `${where} "measure"`, MAX_MEASURE_CHARS);
        const unit = readString(entry.unit ?? '', source, `${where} "unit"`, 64, true);
        if (entry.direction !== 'smaller' && entry.direction !== 'bigger') {
            throw new ResultFileError(source, `${where} "direction" must be "smaller" or "bigger"`);
        }
        if (!Array.isArray(entry.values) || entry.values.length === 0) {
            throw new ResultFileError(source, `${where} "values" must be a non-empty array of numbers`);
        }
        if (entry.values.length > MAX_VALUES_PER_METRIC) {
            throw new ResultFileError(source, `${where} has ${entry.values.length} values, over ${MAX_VALUES_PER_METRIC}`);
        }
        const values = entry.values.map((v, j) => {
            if (typeof v !== 'number' || !Number.isFinite(v)) {
                throw new ResultFileError(source, `${where} "values"[${j}] must be a finite number, found ${describeJson(v)}`);
            }
            return v;
        });
        const series = { name, measure, unit, direction: entry.direction, values };
        const key = metricKey(series);
        if (seen.has(key))
            throw new ResultFileError(source, `${where} repeats metric ${JSON.stringify(name.slice(0, 80))} / ${JSON.stringify(measure)}`);
        seen.add(key);
        return series;
    });
    return { format: RESULT_FILE_FORMAT, version, createdAt, context, metrics };
}

;// CONCATENATED MODULE: ./src/bench/index.ts
// Benchmark mode, engine-independent: everything between "the runs are done"
// and "the report is written". Pure functions over numbers and strings; the
// engine runs the VMs, reads the metrics files and writes the outputs.
//
// Typical flow for the engine:
//   const plan = interleavedSchedule({ repeat, warmup, arms });
//   per measured run: [wallTimeValue(ms), ...parseMetricsFile(bytes, { format, source }).metrics]
//   const head = collectSeries(headRuns, 'head'); baseline likewise, or
//   parseResultFile(bytes, path).metrics for baseline-file
//   const comparison = compareSeries(baseline, head.series, { test, thresholdPercent });
//   renderMarkdownReport(comparison, ...), renderSvgChart(comparison, ...)
//   serializeResultFile(createResultFile(head.series, context)),
//   toBencherMetricFormat(head.series), toGithubActionBenchmark(head.series)
//   fail the step when failOnRegression && comparison.regressed


















;// CONCATENATED MODULE: ./src/engine/bench-options.ts
// Benchmark mode's settings, as the user wrote them (BenchInput) and checked
// (BenchSettings). Both faces share these rules and words, as they share
// validateRunInput for the run itself; only the names differ (`--repeat` on
// the command line, input "repeat" in a workflow).



const BENCH_DEFAULTS = { repeat: 10, warmup: 1, test: 'mann-whitney', thresholdPercent: 5, metricsFormat: 'auto' };
const NAMES = {
    cli: {
        repeat: '--repeat',
        warmup: '--warmup',
        baselineImage: '--baseline-image',
        baselineFile: '--baseline-file',
        metricsFile: '--metrics-file',
        metricsFormat: '--metrics-format',
        test: '--test',
        threshold: '--threshold',
        failOnRegression: '--fail-on-regression',
        resultsDir: '--results-dir',
    },
    action: {
        repeat: 'input "repeat"',
        warmup: 'input "warmup"',
        baselineImage: 'input "baseline-image"',
        baselineFile: 'input "baseline-file"',
        metricsFile: 'input "metrics-file"',
        metricsFormat: 'input "metrics-format"',
        test: 'input "test"',
        threshold: 'input "threshold"',
        failOnRegression: 'input "fail-on-regression"',
        resultsDir: 'results directory',
    },
};
const present = (v) => v !== undefined && String(v).trim() !== '';
function count(v, name, fallback, min, max) {
    if (!present(v))
        return fallback;
    const s = String(v).trim();
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
        throw new errors_VmstepError(`${name} "${s}" is not a run count`, `give a whole number from ${min} to ${max}`);
    }
    return Number(s);
}
function validateBenchInput(input, ctx) {
    const name = NAMES[ctx.style];
    const cwd = ctx.cwd ?? process.cwd();
    const repeat = count(input.repeat, name.repeat, BENCH_DEFAULTS.repeat, 1, MAX_REPEAT);
    const warmup = count(input.warmup, name.warmup, BENCH_DEFAULTS.warmup, 0, MAX_WARMUP);
    if (present(input.baselineImage) && present(input.baselineFile)) {
        throw new errors_VmstepError(`${name.baselineImage} and ${name.baselineFile} are both set`, 'compare against one baseline: an image run in this job, or a results file from an earlier run');
    }
    const baseline = present(input.baselineImage)
        ? { kind: 'image', image: input.baselineImage.trim() }
        : present(input.baselineFile)
            ? { kind: 'file', path: (0,external_node_path_namespaceObject.resolve)(cwd, input.baselineFile.trim()) }
            : null;
    let metricsFile = null;
    if (present(input.metricsFile)) {
        metricsFile = input.metricsFile.trim();
        // One file per run, matched by its path: a glob could bring back several.
        if (/[*?[\]\0]/.test(metricsFile)) {
            throw new errors_VmstepError(`${name.metricsFile} "${metricsFile}" holds a glob or NUL character`, 'give the path of the one file the benchmark writes, such as /work/bench.json');
        }
    }
    const wrap = (what, fix, fn) => {
        try {
            return fn();
        }
        catch (err) {
            throw new errors_VmstepError(`${what}: ${err.message}`, fix, { cause: err });
        }
    };
    const metricsFormat = present(input.metricsFormat)
        ? wrap(name.metricsFormat, `one of ${METRICS_FORMATS.join(', ')}`, () => parseMetricsFormat(String(input.metricsFormat)))
        : BENCH_DEFAULTS.metricsFormat;
    const test = present(input.test) ? wrap(name.test, `one of ${TEST_NAMES.join(', ')}`, () => parseTestName(String(input.test))) : BENCH_DEFAULTS.test;
    const thresholdPercent = present(input.threshold)
        ? wrap(name.threshold, 'a percentage such as 5 or 5%', () => parseThreshold(String(input.threshold)))
        : BENCH_DEFAULTS.thresholdPercent;
    return {
        repeat,
        warmup,
        baseline,
        metricsFile,
        metricsFormat,
        test,
        thresholdPercent,
        failOnRegression: Boolean(input.failOnRegression),
        resultsDir: (0,external_node_path_namespaceObject.resolve)(cwd, present(input.resultsDir) ? String(input.resultsDir) : 'vmstep-bench'),
    };
}

;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
;// CONCATENATED MODULE: external "node:stream/promises"
const promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream/promises");
;// CONCATENATED MODULE: ./src/guest/command.ts
/** Docker's PATH when the image sets none (also what guest init searches then). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** ENTRYPOINT + CMD with overrides, as `docker run` combines them. */
function resolveArgv(image, overrides = {}) {
    const entrypoint = overrides.entrypoint ?? image.Entrypoint ?? [];
    const cmdGiven = overrides.cmd !== undefined && overrides.cmd.length > 0;
    const cmd = cmdGiven ? overrides.cmd : overrides.entrypoint !== undefined ? [] : (image.Cmd ?? []);
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0 || argv[0] === '') {
        throw new Error(overrides.entrypoint !== undefined
            ? 'no command to run: the entrypoint was cleared and no command was given'
            : 'no command to run: the image has neither ENTRYPOINT nor CMD; give a command');
    }
    return argv;
}
function envName(entry, what) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    if (name === '' || name.includes('\0') || entry.includes('\0'))
        throw new Error(`${what} ${JSON.stringify(entry)} is not a valid NAME=value entry`);
    return name;
}
/**
 * The image's Env, then the overrides: an override replaces the image's value
 * in place, new names are appended in order. PATH defaults to Docker's, and
 * HOSTNAME is set when a hostname is given and the environment lacks it.
 */
function mergeEnv(imageEnv, overrides = {}, options = {}) {
    const merged = new Map();
    for (const entry of imageEnv ?? []) {
        const name = envName(entry, 'the image environment entry');
        // An Env entry without '=' is malformed in an image config; Docker keeps it as an empty value.
        merged.set(name, entry.includes('=') ? entry.slice(name.length + 1) : '');
    }
    const pairs = Array.isArray(overrides)
        ? overrides.map((e) => {
            const name = envName(e, 'the environment variable');
            if (!e.includes('='))
                throw new Error(`the environment variable ${JSON.stringify(e)} has no '=': write NAME=value`);
            return [name, e.slice(name.length + 1)];
        })
        : Object.entries(overrides).map(([k, v]) => [envName(`${k}=${v}`, 'the environment variable'), v]);
    for (const [k, v] of pairs)
        merged.set(k, v);
    if (!merged.has('PATH'))
        merged.set('PATH', DEFAULT_PATH);
    if (options.hostname && !merged.has('HOSTNAME'))
        merged.set('HOSTNAME', options.hostname);
    return [...merged].map(([k, v]) => `${k}=${v}`);
}
/** The image's WorkingDir unless overridden; `/` when neither is set. Must be absolute, as Docker requires. */
function resolveWorkdir(image, override) {
    const dir = override || image.WorkingDir || '/';
    if (!dir.startsWith('/'))
        throw new Error(`the working directory '${dir}' is invalid: it needs to be an absolute path`);
    return dir;
}
/** The image's User unless overridden; '' (root) when neither is set. */
function resolveUser(image, override) {
    return override || image.User || '';
}
/** The run spec for an image config and the user's options. */
function runSpecFromImage(image, options = {}) {
    const hostname = options.hostname ?? 'vmstep';
    const spec = {
        argv: resolveArgv(image, options),
        env: mergeEnv(image.Env, options.env, { hostname }),
        workdir: resolveWorkdir(image, options.workdir),
        user: resolveUser(image, options.user),
        hostname,
        outputs: options.outputs ?? [],
        privileged: options.privileged ?? false,
    };
    if (options.maxFileBytes !== undefined)
        spec.maxFileBytes = options.maxFileBytes;
    if (options.maxFiles !== undefined)
        spec.maxFiles = options.maxFiles;
    return spec;
}

;// CONCATENATED MODULE: external "node:fs/promises"
const external_node_fs_promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs/promises");
;// CONCATENATED MODULE: external "node:net"
const external_node_net_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");
;// CONCATENATED MODULE: ./src/guest/protocol.ts
// The host-guest protocol's wire format (docs/protocol.md): frames of
// type + big-endian length + payload, and records of tag-length-value fields.
// The guest is untrusted, so everything here is bounded: a frame's length is
// checked before any of it is buffered, and a record is walked with bounds
// checks. guest/src/protocol.h holds the same numbers for guest init;
// test/unit/protocol.test.ts checks that the two agree.
const PROTOCOL_VERSION = 1;
const PROTOCOL_MAGIC = 'VMSTEP';
/** Guest init connects to the host (CID 2) on this vsock port; the VMM maps it to `<vsockUdsPath>_1024`. */
const GUEST_VSOCK_PORT = 1024;
const FRAME_HEADER_BYTES = 5;
const MAX_FRAME_PAYLOAD = 1 << 20;
const MAX_AGENT_BYTES = 256;
const protocol_DEFAULT_MAX_FILE_BYTES = 25 * 1024 * 1024;
const protocol_DEFAULT_MAX_FILES = 255;
const protocol_MessageType = {
    Hello: 0x01,
    Run: 0x02,
    Signal: 0x03,
    Started: 0x10,
    Stdout: 0x11,
    Stderr: 0x12,
    Exit: 0x13,
    File: 0x14,
    FileData: 0x15,
    FileEnd: 0x16,
    OutputIssue: 0x17,
    Timings: 0x18,
    Error: 0x1f,
};
/** Field tags of each record message. */
const protocol_Field = {
    Run: { arg: 1, env: 2, workdir: 3, user: 4, hostname: 5, output: 6, maxFileBytes: 7, maxFiles: 8, privileged: 9 },
    Signal: { signal: 1 },
    Started: { pid: 1, commandStartNs: 2 },
    Exit: { code: 1, signal: 2, signalName: 3, error: 4 },
    File: { path: 1, mode: 2, size: 3 },
    FileEnd: { error: 1 },
    OutputIssue: { request: 1, path: 2, reason: 3, message: 4 },
    Timings: { initStartNs: 1, specReceivedNs: 2, commandStartNs: 3, commandEndNs: 4, outputsEndNs: 5 },
    Error: { stage: 1, message: 2 },
};
const typeNames = new Map(Object.entries(protocol_MessageType).map(([k, v]) => [v, k]));
/** The name of a message type for error messages: `Stdout (0x11)`, or `unknown (0x7f)`. */
function describeType(type) {
    return `${typeNames.get(type) ?? 'unknown'} (0x${type.toString(16).padStart(2, '0')})`;
}
/** A peer broke the protocol: malformed, oversized or out-of-order data. */
class ProtocolError extends Error {
    name = 'ProtocolError';
}
function protocol_encodeFrame(type, payload = Buffer.alloc(0)) {
    if (payload.length > MAX_FRAME_PAYLOAD) {
        throw new RangeError(`a ${describeType(type)} payload of ${payload.length} bytes exceeds the protocol's ${MAX_FRAME_PAYLOAD}-byte frame limit`);
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header[0] = type;
    header.writeUInt32BE(payload.length, 1);
    return Buffer.concat([header, payload]);
}
/**
 * Splits a byte stream into frames as it arrives. It holds at most one
 * incomplete frame (bounded by maxPayload) plus the chunk being pushed, and
 * copies payloads only when they straddle chunks.
 */
class FrameDecoder {
    maxPayload;
    chunks = [];
    buffered = 0;
    constructor(maxPayload = MAX_FRAME_PAYLOAD) {
        this.maxPayload = maxPayload;
    }
    /** Feeds bytes; returns the frames they complete. Throws ProtocolError on an oversized frame. */
    push(chunk) {
        if (chunk.length > 0) {
            this.chunks.push(chunk);
            this.buffered += chunk.length;
        }
        const frames = [];
        for (;;) {
            if (this.buffered < FRAME_HEADER_BYTES)
                break;
            const header = this.peek(FRAME_HEADER_BYTES);
            const type = header[0];
            const length = header.readUInt32BE(1);
            if (length > this.maxPayload) {
                throw new ProtocolError(`the peer sent a ${describeType(type)} frame of ${length} bytes, over the ${this.maxPayload}-byte limit: it does not speak this protocol or is misbehaving`);
            }
            if (this.buffered < FRAME_HEADER_BYTES + length)
                break;
            this.take(FRAME_HEADER_BYTES);
            frames.push({ type, payload: this.take(length) });
        }
        return frames;
    }
    /** Bytes received that do not yet form a whole frame. */
    get pendingBytes() {
        return this.buffered;
    }
    peek(n) {
        const first = this.chunks[0];
        if (first.length >= n)
            return first.subarray(0, n);
        // Only the few chunks that hold the header: a stream of tiny chunks must not cost O(chunks) per push.
        const parts = [];
        for (let i = 0, have = 0; have < n; i++) {
            parts.push(this.chunks[i]);
            have += this.chunks[i].length;
        }
        return Buffer.concat(parts).subarray(0, n);
    }
    take(n) {
        this.buffered -= n;
        const first = this.chunks[0];
        if (n === 0)
            return Buffer.alloc(0);
        if (first && first.length >= n) {
            if (first.length === n)
                this.chunks.shift();
            else
                this.chunks[0] = first.subarray(n);
            return first.subarray(0, n);
        }
        const out = Buffer.allocUnsafe(n);
        let at = 0;
        let used = 0;
        while (at < n) {
            const c = this.chunks[used];
            const k = Math.min(c.length, n - at);
            c.copy(out, at, 0, k);
            at += k;
            if (k === c.length)
                used++;
            else
                this.chunks[used] = c.subarray(k);
        }
        this.chunks.splice(0, used); // once, not a shift per chunk: many tiny chunks stay linear
        return out;
    }
}
/** Builds a record payload. Numbers are u64 (non-negative safe integers), booleans one byte. */
function protocol_encodeRecord(fields) {
    const parts = [];
    for (const [tag, value] of fields) {
        let bytes;
        if (typeof value === 'string')
            bytes = Buffer.from(value, 'utf8');
        else if (typeof value === 'boolean')
            bytes = Buffer.from([value ? 1 : 0]);
        else if (typeof value === 'number') {
            if (!Number.isSafeInteger(value) || value < 0)
                throw new RangeError(`field ${tag}: ${value} is not a non-negative integer`);
            bytes = Buffer.allocUnsafe(8);
            bytes.writeBigUInt64BE(BigInt(value));
        }
        else
            bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        const head = Buffer.allocUnsafe(5);
        head[0] = tag;
        head.writeUInt32BE(bytes.length, 1);
        parts.push(head, bytes);
    }
    return Buffer.concat(parts);
}
/** A received record's fields, read with checks that name the message. */
class protocol_RecordReader {
    what;
    fields = [];
    constructor(payload, what) {
        this.what = what;
        let at = 0;
        while (at < payload.length) {
            if (payload.length - at < 5)
                throw new ProtocolError(`${what}: a field header is cut off at byte ${at} of ${payload.length}`);
            const tag = payload[at];
            const len = payload.readUInt32BE(at + 1);
            if (len > payload.length - at - 5) {
                throw new ProtocolError(`${what}: field ${tag} claims ${len} bytes but only ${payload.length - at - 5} remain`);
            }
            this.fields.push({ tag, value: payload.subarray(at + 5, at + 5 + len) });
            at += 5 + len;
        }
    }
    last(tag) {
        for (let i = this.fields.length - 1; i >= 0; i--)
            if (this.fields[i].tag === tag)
                return this.fields[i].value;
        return undefined;
    }
    has(tag) {
        return this.last(tag) !== undefined;
    }
    string(tag) {
        const v = this.last(tag);
        return v === undefined ? undefined : v.toString('utf8');
    }
    strings(tag) {
        return this.fields.filter((f) => f.tag === tag).map((f) => f.value.toString('utf8'));
    }
    /** A u64 as a number; values above 2^53 are refused rather than rounded. */
    u64(tag) {
        const v = this.last(tag);
        if (v === undefined)
            return undefined;
        if (v.length !== 8)
            throw new ProtocolError(`${this.what}: field ${tag} should be an 8-byte number, got ${v.length} bytes`);
        const n = v.readBigUInt64BE();
        if (n > BigInt(Number.MAX_SAFE_INTEGER))
            throw new ProtocolError(`${this.what}: field ${tag} is ${n}, too large`);
        return Number(n);
    }
    bool(tag) {
        const v = this.last(tag);
        if (v === undefined)
            return undefined;
        if (v.length !== 1 || v[0] > 1)
            throw new ProtocolError(`${this.what}: field ${tag} should be one byte 0 or 1`);
        return v[0] === 1;
    }
    requireString(tag) {
        const s = this.string(tag);
        if (s === undefined)
            throw new ProtocolError(`${this.what}: required field ${tag} is missing`);
        return s;
    }
    requireU64(tag) {
        const n = this.u64(tag);
        if (n === undefined)
            throw new ProtocolError(`${this.what}: required field ${tag} is missing`);
        return n;
    }
}
function encodeHello(version = PROTOCOL_VERSION, agent = 'vmstep-host') {
    const agentBytes = Buffer.from(agent, 'utf8').subarray(0, MAX_AGENT_BYTES);
    const payload = Buffer.alloc(PROTOCOL_MAGIC.length + 2 + agentBytes.length);
    payload.write(PROTOCOL_MAGIC, 0, 'ascii');
    payload.writeUInt16BE(version, PROTOCOL_MAGIC.length);
    agentBytes.copy(payload, PROTOCOL_MAGIC.length + 2);
    return protocol_encodeFrame(protocol_MessageType.Hello, payload);
}
/** Parses a HELLO payload; null when it lacks the magic (the peer does not speak this protocol). */
function decodeHello(payload) {
    const m = PROTOCOL_MAGIC.length;
    if (payload.length < m + 2 || payload.toString('ascii', 0, m) !== PROTOCOL_MAGIC)
        return null;
    return { version: payload.readUInt16BE(m), agent: payload.subarray(m + 2, m + 2 + MAX_AGENT_BYTES).toString('utf8') };
}

;// CONCATENATED MODULE: ./src/guest/listener.ts
// Where guest init's connection arrives: our VMM (like Firecracker) maps a
// guest connection to vsock port P onto the host Unix socket
// `<vsockUdsPath>_P`, so the host listens on `<vsockUdsPath>_1024` before the
// VM boots. One run has exactly one guest connection: the first is handed
// out, any later one is closed at once (the guest is untrusted and must not
// open a second session).



/** The Unix socket on which guest init's connection arrives. */
function guestSocketPath(vsockUdsPath) {
    return `${vsockUdsPath}_${GUEST_VSOCK_PORT}`;
}
async function listenForGuest(vsockUdsPath) {
    const path = guestSocketPath(vsockUdsPath);
    // A socket file left by a crashed run would make listen fail with EADDRINUSE.
    const stale = await (0,external_node_fs_promises_namespaceObject.lstat)(path).catch(() => null);
    if (stale?.isSocket())
        await (0,external_node_fs_promises_namespaceObject.rm)(path, { force: true });
    let accepted = null;
    const waiters = [];
    let closedError = null;
    const server = (0,external_node_net_namespaceObject.createServer)((socket) => {
        if (accepted) {
            socket.destroy();
            return;
        }
        accepted = socket;
        for (const w of waiters.splice(0))
            w.resolve(socket);
    });
    await new Promise((resolve, reject) => {
        server.once('error', (err) => reject(new Error(`cannot listen for guest init on ${path}: ${err.message}${err.code === 'EADDRINUSE' ? ' (another run uses this vsock path)' : ''}`)));
        server.listen(path, () => resolve());
    });
    return {
        path,
        accept(signal) {
            if (accepted)
                return Promise.resolve(accepted);
            if (closedError)
                return Promise.reject(closedError);
            return new Promise((resolve, reject) => {
                const onAbort = () => reject(signal?.reason instanceof Error ? signal.reason : new Error('stopped waiting for guest init to connect'));
                if (signal?.aborted)
                    return onAbort();
                signal?.addEventListener('abort', onAbort, { once: true });
                waiters.push({
                    resolve: (s) => {
                        signal?.removeEventListener('abort', onAbort);
                        resolve(s);
                    },
                    reject,
                });
            });
        },
        async close() {
            closedError ??= new Error(`guest init never connected to ${path}`);
            for (const w of waiters.splice(0))
                w.reject(closedError);
            // Not waiting for 'close': it only comes once the accepted connection
            // ends too, and that connection belongs to the session now.
            server.close();
            await (0,external_node_fs_promises_namespaceObject.rm)(path, { force: true });
        },
    };
}

;// CONCATENATED MODULE: ./src/guest/messages.ts
// The protocol's messages as typed values (docs/protocol.md, "Messages"):
// encoders for what the host sends, decoders for what the guest sends, and
// the reverse pair too, so tests can play a guest or a host byte-exactly.

const hasNul = (s) => s.includes('\0');
/** Checks a spec before it leaves the host, so mistakes read as the caller's, not the guest's. */
function validateRunSpec(spec) {
    if (spec.argv.length === 0 || spec.argv[0] === '')
        throw new Error('the run spec has no command: argv is empty');
    for (const a of spec.argv)
        if (hasNul(a))
            throw new Error(`argument ${JSON.stringify(a)} contains a NUL byte`);
    for (const e of spec.env) {
        const eq = e.indexOf('=');
        if (eq <= 0 || hasNul(e))
            throw new Error(`environment entry ${JSON.stringify(e)} is not NAME=value`);
    }
    if (spec.workdir !== undefined && spec.workdir !== '' && !spec.workdir.startsWith('/')) {
        throw new Error(`the working directory '${spec.workdir}' is not an absolute path`);
    }
    for (const o of spec.outputs ?? [])
        if (o === '' || hasNul(o))
            throw new Error(`output path ${JSON.stringify(o)} is empty or contains NUL`);
    for (const [name, v] of [['maxFileBytes', spec.maxFileBytes], ['maxFiles', spec.maxFiles]]) {
        if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
            throw new Error(`${name} must be a non-negative integer, got ${v}`);
    }
}
function encodeRun(spec) {
    validateRunSpec(spec);
    const F = protocol_Field.Run;
    const fields = [];
    for (const a of spec.argv)
        fields.push([F.arg, a]);
    for (const e of spec.env)
        fields.push([F.env, e]);
    if (spec.workdir)
        fields.push([F.workdir, spec.workdir]);
    if (spec.user)
        fields.push([F.user, spec.user]);
    if (spec.hostname)
        fields.push([F.hostname, spec.hostname]);
    for (const o of spec.outputs ?? [])
        fields.push([F.output, o]);
    fields.push([F.maxFileBytes, spec.maxFileBytes ?? protocol_DEFAULT_MAX_FILE_BYTES]);
    fields.push([F.maxFiles, spec.maxFiles ?? protocol_DEFAULT_MAX_FILES]);
    fields.push([F.privileged, spec.privileged ?? false]);
    return protocol_encodeFrame(protocol_MessageType.Run, protocol_encodeRecord(fields));
}
function decodeRun(payload) {
    const r = new RecordReader(payload, 'RUN');
    const F = Field.Run;
    return {
        argv: r.strings(F.arg),
        env: r.strings(F.env),
        workdir: r.string(F.workdir) ?? '/',
        user: r.string(F.user) ?? '',
        hostname: r.string(F.hostname) ?? 'vmstep',
        outputs: r.strings(F.output),
        maxFileBytes: r.u64(F.maxFileBytes) ?? DEFAULT_MAX_FILE_BYTES,
        maxFiles: r.u64(F.maxFiles) ?? DEFAULT_MAX_FILES,
        privileged: r.bool(F.privileged) ?? false,
    };
}
function encodeSignal(signal) {
    return protocol_encodeFrame(protocol_MessageType.Signal, protocol_encodeRecord([[protocol_Field.Signal.signal, signal]]));
}
function decodeStarted(payload) {
    const r = new protocol_RecordReader(payload, 'STARTED');
    return { pid: r.requireU64(protocol_Field.Started.pid), commandStartNs: r.u64(protocol_Field.Started.commandStartNs) ?? 0 };
}
function decodeExit(payload) {
    const r = new protocol_RecordReader(payload, 'EXIT');
    const F = protocol_Field.Exit;
    const code = r.requireU64(F.code);
    if (code > 255)
        throw new ProtocolError(`EXIT: exit code ${code} is outside 0-255`);
    const signal = r.u64(F.signal) ?? 0;
    return {
        code,
        signal: signal === 0 ? null : signal,
        signalName: signal === 0 ? null : (r.string(F.signalName) ?? `SIG${signal}`),
        error: r.string(F.error) ?? null,
    };
}
function decodeFile(payload) {
    const r = new protocol_RecordReader(payload, 'FILE');
    const F = protocol_Field.File;
    return { path: r.requireString(F.path), mode: r.requireU64(F.mode), size: r.requireU64(F.size) };
}
function decodeFileEnd(payload) {
    return { error: new protocol_RecordReader(payload, 'FILE_END').string(protocol_Field.FileEnd.error) ?? null };
}
function decodeOutputIssue(payload) {
    const r = new protocol_RecordReader(payload, 'OUTPUT_ISSUE');
    const F = protocol_Field.OutputIssue;
    return {
        request: r.string(F.request) ?? '',
        path: r.string(F.path) ?? null,
        reason: r.requireString(F.reason),
        message: r.string(F.message) ?? '',
    };
}
function decodeTimings(payload) {
    const r = new protocol_RecordReader(payload, 'TIMINGS');
    const F = protocol_Field.Timings;
    return {
        initStartNs: r.u64(F.initStartNs) ?? 0,
        specReceivedNs: r.u64(F.specReceivedNs) ?? 0,
        commandStartNs: r.u64(F.commandStartNs) ?? 0,
        commandEndNs: r.u64(F.commandEndNs) ?? 0,
        outputsEndNs: r.u64(F.outputsEndNs) ?? 0,
    };
}
function decodeError(payload) {
    const r = new protocol_RecordReader(payload, 'ERROR');
    return { stage: r.string(protocol_Field.Error.stage) ?? 'unknown', message: r.string(protocol_Field.Error.message) ?? '(no message)' };
}
function encodeError(stage, message) {
    return protocol_encodeFrame(protocol_MessageType.Error, protocol_encodeRecord([[protocol_Field.Error.stage, stage], [protocol_Field.Error.message, message]]));
}
// Encoders for the guest's messages: tests use them to play a (fake) guest.
function encodeStarted(m) {
    return encodeFrame(MessageType.Started, encodeRecord([[Field.Started.pid, m.pid], [Field.Started.commandStartNs, m.commandStartNs]]));
}
function encodeExit(m) {
    const F = Field.Exit;
    const fields = [[F.code, m.code], [F.signal, m.signal ?? 0]];
    if (m.signalName)
        fields.push([F.signalName, m.signalName]);
    if (m.error)
        fields.push([F.error, m.error]);
    return encodeFrame(MessageType.Exit, encodeRecord(fields));
}
function encodeFile(m) {
    const F = Field.File;
    return encodeFrame(MessageType.File, encodeRecord([[F.path, m.path], [F.mode, m.mode], [F.size, m.size]]));
}
function encodeFileEnd(error) {
    return encodeFrame(MessageType.FileEnd, encodeRecord(error ? [[Field.FileEnd.error, error]] : []));
}
function encodeTimings(t) {
    const F = Field.Timings;
    return encodeFrame(MessageType.Timings, encodeRecord([
        [F.initStartNs, t.initStartNs],
        [F.specReceivedNs, t.specReceivedNs],
        [F.commandStartNs, t.commandStartNs],
        [F.commandEndNs, t.commandEndNs],
        [F.outputsEndNs, t.outputsEndNs],
    ]));
}

;// CONCATENATED MODULE: external "node:stream"
const external_node_stream_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream");
;// CONCATENATED MODULE: ./src/guest/outputs.ts
// Where returned files land on the host. The guest names each file by its
// absolute guest path; it is written at that path under the output directory.
// The guest is untrusted, so a path must be absolute and normalised (no "",
// "." or ".." components, no NUL), every parent is a real directory (never a
// symbolic link), and the file itself is opened without following links:
// nothing a guest sends can write outside the output directory.




const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;
/** The path's components, or a ProtocolError saying why the guest's path is refused. */
function guestPathComponents(guestPath) {
    const refuse = (why) => new ProtocolError(`the guest sent the output path ${JSON.stringify(guestPath)}, which ${why}; refusing to write it`);
    if (!guestPath.startsWith('/'))
        throw refuse('is not absolute');
    if (Buffer.byteLength(guestPath) > MAX_PATH_BYTES)
        throw refuse(`is longer than ${MAX_PATH_BYTES} bytes`);
    if (guestPath.includes('\0'))
        throw refuse('contains a NUL byte');
    const parts = guestPath.slice(1).split('/');
    for (const p of parts) {
        if (p === '' || p === '.' || p === '..')
            throw refuse('is not normalised (empty, "." or ".." component)');
        if (Buffer.byteLength(p) > MAX_NAME_BYTES)
            throw refuse(`has a component longer than ${MAX_NAME_BYTES} bytes`);
    }
    return parts;
}
class OutputDirectory {
    root;
    constructor(root) {
        this.root = root;
    }
    /** The host path a guest path is written to (checked, not created). */
    hostPathFor(guestPath) {
        return (0,external_node_path_namespaceObject.join)(this.root, ...guestPathComponents(guestPath));
    }
    /** Creates the parents and opens the file for writing, truncating an earlier run's copy. */
    async create(guestPath) {
        const parts = guestPathComponents(guestPath);
        await (0,external_node_fs_promises_namespaceObject.mkdir)(this.root, { recursive: true });
        let dir = this.root;
        for (const part of parts.slice(0, -1)) {
            dir = (0,external_node_path_namespaceObject.join)(dir, part);
            const st = await (0,external_node_fs_promises_namespaceObject.lstat)(dir).catch((err) => {
                if (err.code === 'ENOENT')
                    return null;
                throw err;
            });
            if (st === null)
                await (0,external_node_fs_promises_namespaceObject.mkdir)(dir, { mode: 0o755 });
            else if (!st.isDirectory()) {
                throw new ProtocolError(`cannot write the output file ${guestPath}: ${dir} exists and is not a directory (a symbolic link or a file)`);
            }
        }
        const hostPath = (0,external_node_path_namespaceObject.join)(dir, parts[parts.length - 1]);
        const flags = external_node_fs_namespaceObject.constants.O_WRONLY | external_node_fs_namespaceObject.constants.O_CREAT | external_node_fs_namespaceObject.constants.O_TRUNC | external_node_fs_namespaceObject.constants.O_NOFOLLOW;
        try {
            return { hostPath, handle: await (0,external_node_fs_promises_namespaceObject.open)(hostPath, flags, 0o600) };
        }
        catch (err) {
            const code = err.code;
            if (code === 'ELOOP' || code === 'EISDIR') {
                throw new ProtocolError(`cannot write the output file ${guestPath}: ${hostPath} is a ${code === 'ELOOP' ? 'symbolic link' : 'directory'}`);
            }
            throw err;
        }
    }
    /** Applies the guest's permission bits (without setuid, setgid or sticky) once the file is complete. */
    async finish(file, mode) {
        await file.handle.close();
        await (0,external_node_fs_promises_namespaceObject.chmod)(file.hostPath, mode & 0o777);
    }
    /** Removes a partly written file. */
    async discard(file) {
        await file.handle.close().catch(() => { });
        await (0,external_node_fs_promises_namespaceObject.rm)(file.hostPath, { force: true });
    }
}

;// CONCATENATED MODULE: ./src/guest/session.ts
// The host side of one run (docs/protocol.md, "The conversation"): checks the
// guest's hello, sends the run spec, and turns the guest's messages into an
// async, streaming API: stdout and stderr as Readable streams, output files
// written to disk as they arrive, and promises for the start, the exit and
// the whole result.
//
// Backpressure: the socket is read only while the consumers keep up. After
// each chunk the socket is paused until every frame in it has been handled;
// a stdout/stderr frame is handled once its stream is below its high-water
// mark (or destroyed), a file frame once it is on disk. So host memory stays
// bounded however fast the guest writes, and guest init's blocking writes
// stall it (and the workload) instead.





/** Guest init reported a failure of its own (bad spec, unknown user, mounts, version). */
class GuestError extends Error {
    stage;
    guestMessage;
    name = 'GuestError';
    constructor(stage, guestMessage) {
        super(`guest init failed (${stage}): ${guestMessage}`);
        this.stage = stage;
        this.guestMessage = guestMessage;
    }
}
/** The guest speaks another protocol version than this host. */
class ProtocolVersionError extends ProtocolError {
    guestVersion;
    hostVersion;
    name = 'ProtocolVersionError';
    constructor(guestVersion, hostVersion) {
        super(`protocol version mismatch: guest init speaks version ${guestVersion}, this vmstep speaks version ${hostVersion}; ` +
            'the VM runs a vmstep-init from another vmstep release: rebuild the root filesystem with this release (its cache key includes the init binary) or point VMSTEP_INIT at the matching dist/vmstep-init');
        this.guestVersion = guestVersion;
        this.hostVersion = hostVersion;
    }
}
/** A Readable fed by the session, which waits for the consumer when it is full. */
class GuestOutputStream extends external_node_stream_namespaceObject.Readable {
    wake;
    ended = false;
    _read() {
        const w = this.wake;
        this.wake = undefined;
        w?.();
    }
    /** Pushes a chunk; resolves when the stream can take more (or nobody will read it). */
    async feed(chunk) {
        if (this.destroyed || this.ended)
            return;
        if (this.push(chunk))
            return;
        await new Promise((resolve) => {
            const done = () => {
                this.wake = undefined;
                this.off('close', done);
                resolve();
            };
            this.wake = done;
            this.once('close', done);
        });
    }
    /** Ends the stream (once). */
    finish() {
        if (this.ended)
            return;
        this.ended = true;
        this.push(null);
    }
}
function settle() {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
    });
    // A caller may await only `result`; the other promises must not count as unhandled.
    promise.catch(() => { });
    return { promise, resolve, reject };
}
class GuestSession {
    socket;
    spec;
    options;
    /** The command's stdout, as the guest sends it; ends at the command's exit. */
    stdout;
    /** The command's stderr; ends at the command's exit. */
    stderr;
    /** Resolves when the command has started (null when it could not start), rejects when the session fails first. */
    started;
    /** Resolves with the command's exit; rejects when the session fails before it. */
    exit;
    /** Resolves once everything has arrived (exit, files, timings); rejects on any failure. */
    result;
    out;
    err;
    startedP = settle();
    exitP = settle();
    resultP = settle();
    decoder = new FrameDecoder();
    outputDir;
    maxFiles;
    maxFileBytes;
    state = 'hello';
    settled = false;
    guestAgent = '';
    pid = null;
    exitMessage = null;
    files = [];
    issues = [];
    fileCount = 0;
    current = null;
    /** The handling of every chunk received so far, in order (onData never rejects). */
    handling = Promise.resolve();
    constructor(socket, spec, options = {}) {
        this.socket = socket;
        this.spec = spec;
        this.options = options;
        validateRunSpec(spec);
        if ((spec.outputs?.length ?? 0) > 0 && !options.outputDir) {
            throw new Error('the run spec asks for output files but no outputDir was given to write them to');
        }
        const highWaterMark = options.streamHighWaterMark ?? 1 << 20;
        this.out = new GuestOutputStream({ highWaterMark });
        this.err = new GuestOutputStream({ highWaterMark });
        this.stdout = this.out;
        this.stderr = this.err;
        this.started = this.startedP.promise;
        this.exit = this.exitP.promise;
        this.result = this.resultP.promise;
        this.outputDir = options.outputDir ? new OutputDirectory(options.outputDir) : null;
        this.maxFiles = spec.maxFiles ?? protocol_DEFAULT_MAX_FILES;
        this.maxFileBytes = spec.maxFileBytes ?? protocol_DEFAULT_MAX_FILE_BYTES;
        socket.on('data', (chunk) => {
            this.handling = this.handling.then(() => this.onData(chunk));
        });
        // Guest init half-closes right after its last message. Node may report
        // that end while the last chunk is still being handled (the socket is
        // paused, but its buffer is empty), so the end and close are judged only
        // once every chunk before them has been handled.
        socket.on('end', () => this.afterHandling(() => new ProtocolError(`guest init closed the connection before the run finished (${this.progress()}); the VM may have crashed, run out of memory or been killed: see its console log`)));
        socket.on('error', (e) => this.fail(new ProtocolError(`the connection to guest init failed (${this.progress()}): ${e.message}`)));
        socket.on('close', () => this.afterHandling(() => new ProtocolError(`the connection to guest init closed (${this.progress()})`)));
    }
    /** Fails the session with why() unless the chunks already received complete it. */
    afterHandling(why) {
        void this.handling.then(() => this.fail(why()));
    }
    /** Delivers a signal to the command's process group in the guest (ignored unless it is running). */
    signal(sig) {
        const n = typeof sig === 'number' ? sig : external_node_os_namespaceObject.constants.signals[sig];
        if (!Number.isInteger(n) || n <= 0 || n >= 65)
            throw new RangeError(`unknown signal ${String(sig)}`);
        if (this.state === 'running' && !this.settled)
            this.socket.write(encodeSignal(n));
    }
    /** Ends the session now; guest init sees the connection drop, kills the command and powers off. */
    abort(reason = new Error('the run was aborted')) {
        this.fail(reason);
    }
    progress() {
        switch (this.state) {
            case 'hello':
                return 'no hello from guest init yet';
            case 'running':
                return this.pid === null ? 'the command had not started' : 'the command was running';
            case 'outputs':
                return `the command had exited with ${this.exitMessage?.code}; ${this.fileCount} output files received`;
            default:
                return 'after the end';
        }
    }
    async onData(chunk) {
        if (this.settled)
            return;
        this.socket.pause();
        try {
            for (const frame of this.decoder.push(chunk)) {
                await this.handle(frame);
                if (this.settled)
                    return;
            }
        }
        catch (e) {
            this.fail(e);
            return;
        }
        this.socket.resume();
    }
    async handle(frame) {
        const { type, payload } = frame;
        if (type === protocol_MessageType.Error) {
            const e = decodeError(payload);
            throw new GuestError(e.stage, e.message);
        }
        switch (this.state) {
            case 'hello':
                return this.onHello(frame);
            case 'running':
                if (type === protocol_MessageType.Stdout)
                    return this.out.feed(payload);
                if (type === protocol_MessageType.Stderr)
                    return this.err.feed(payload);
                if (type === protocol_MessageType.Started && this.pid === null) {
                    const started = decodeStarted(payload);
                    this.pid = started.pid;
                    this.startedP.resolve(started);
                    return;
                }
                if (type === protocol_MessageType.Exit) {
                    this.exitMessage = decodeExit(payload);
                    this.state = 'outputs';
                    if (this.pid === null)
                        this.startedP.resolve(null);
                    this.out.finish();
                    this.err.finish();
                    this.exitP.resolve(this.exitMessage);
                    return;
                }
                break;
            case 'outputs':
                return this.onOutput(frame);
            default:
                break;
        }
        throw new ProtocolError(`guest init sent ${describeType(type)} out of order (${this.progress()})`);
    }
    onHello({ type, payload }) {
        const hello = type === protocol_MessageType.Hello ? decodeHello(payload) : null;
        if (!hello) {
            throw new ProtocolError(`the guest's first message is ${describeType(type)}, not a vmstep hello: the program on the other end of the guest socket does not speak the vmstep protocol`);
        }
        if (hello.version !== PROTOCOL_VERSION) {
            const err = new ProtocolVersionError(hello.version, PROTOCOL_VERSION);
            this.refuse('hello', `protocol version mismatch: the host speaks version ${PROTOCOL_VERSION}, guest init speaks version ${hello.version}`);
            throw err;
        }
        this.guestAgent = hello.agent;
        this.state = 'running';
        this.socket.write(encodeHello());
        this.socket.write(encodeRun(this.spec));
    }
    async onOutput({ type, payload }) {
        const cur = this.current;
        if (type === protocol_MessageType.FileData && cur) {
            if (cur.written + payload.length > cur.size) {
                throw new ProtocolError(`guest init sent more than the ${cur.size} bytes it announced for ${cur.guestPath}`);
            }
            await cur.file.handle.write(payload);
            cur.written += payload.length;
            return;
        }
        if (type === protocol_MessageType.FileEnd && cur) {
            this.current = null;
            const { error } = decodeFileEnd(payload);
            if (error !== null) {
                await this.outputDir.discard(cur.file);
                this.addIssue({ request: '', path: cur.guestPath, reason: 'unreadable', message: `${cur.guestPath}: ${error}` });
                return;
            }
            if (cur.written !== cur.size) {
                await this.outputDir.discard(cur.file);
                throw new ProtocolError(`guest init ended ${cur.guestPath} after ${cur.written} of the ${cur.size} bytes it announced`);
            }
            await this.outputDir.finish(cur.file, cur.mode);
            const done = { guestPath: cur.guestPath, hostPath: cur.file.hostPath, mode: cur.mode, size: cur.size };
            this.files.push(done);
            this.options.onFile?.(done);
            return;
        }
        if (cur)
            throw new ProtocolError(`guest init sent ${describeType(type)} in the middle of the file ${cur.guestPath}`);
        if (type === protocol_MessageType.File) {
            const f = decodeFile(payload);
            if (!this.outputDir)
                throw new ProtocolError(`guest init returned the file ${f.path} although the run spec asked for no outputs`);
            if (this.fileCount >= this.maxFiles)
                throw new ProtocolError(`guest init returned more than the ${this.maxFiles} output files the run allows`);
            if (f.size > this.maxFileBytes) {
                throw new ProtocolError(`guest init returned ${f.path} with ${f.size} bytes, over the limit of ${this.maxFileBytes} bytes per file`);
            }
            this.fileCount++;
            const file = await this.outputDir.create(f.path);
            this.current = { guestPath: f.path, mode: f.mode, size: f.size, written: 0, file };
            return;
        }
        if (type === protocol_MessageType.OutputIssue)
            return this.addIssue(decodeOutputIssue(payload));
        if (type === protocol_MessageType.Timings) {
            const timings = decodeTimings(payload);
            this.state = 'done';
            this.settled = true;
            // Closing our side tells guest init that everything arrived: it powers off.
            this.socket.end();
            this.resultP.resolve({ guestAgent: this.guestAgent, pid: this.pid, exit: this.exitMessage, files: this.files, issues: this.issues, timings });
            return;
        }
        throw new ProtocolError(`guest init sent ${describeType(type)} out of order (${this.progress()})`);
    }
    addIssue(issue) {
        this.issues.push(issue);
        this.options.onOutputIssue?.(issue);
    }
    /** Tells guest init why we stop, then closes. */
    refuse(stage, message) {
        if (this.socket.writable)
            this.socket.end(encodeError(stage, message));
    }
    fail(reason) {
        if (this.settled)
            return;
        this.settled = true;
        const err = reason instanceof Error ? reason : new Error(String(reason));
        if (err instanceof ProtocolError && !(err instanceof ProtocolVersionError))
            this.refuse('protocol', err.message);
        // Let the error frame go out, then drop the connection so a guest blocked
        // in a write sees it fail instead of waiting for us to read.
        if (this.socket.writableEnded && !this.socket.writableFinished)
            this.socket.once('finish', () => this.socket.destroy());
        else
            this.socket.destroy();
        const cur = this.current;
        this.current = null;
        if (cur)
            void this.outputDir?.discard(cur.file);
        this.startedP.reject(err);
        this.exitP.reject(err);
        this.resultP.reject(err);
        this.out.finish();
        this.err.finish();
    }
}
/** Starts the host side of a run on a connection accepted from guest init. */
function startGuestSession(socket, spec, options = {}) {
    return new GuestSession(socket, spec, options);
}

;// CONCATENATED MODULE: ./src/guest/index.ts
// The host side of the host-guest protocol (docs/protocol.md): what the
// engine needs to run one command in a VM's guest init.






;// CONCATENATED MODULE: ./src/image/cache-dir.ts
// The one cache root: $VMSTEP_CACHE, default ~/.cache/vmstep (shared with the build cache of the foundation issue).


function defaultCacheDir() {
    return (0,external_node_path_namespaceObject.resolve)(process.env.VMSTEP_CACHE || (0,external_node_path_namespaceObject.join)((0,external_node_os_namespaceObject.homedir)(), '.cache', 'vmstep'));
}

;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
;// CONCATENATED MODULE: external "node:util"
const external_node_util_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:util");
;// CONCATENATED MODULE: ./src/image/tar-header.ts
// One tar header decoder for everything vmstep reads: outer image archives
// (oci-archive, docker-archive) and layers. ustar, GNU (long names, base-256
// numbers) and pax (including binary SCHILY.xattr values) headers. Input is
// untrusted: every field is bounds-checked and malformed headers are errors.
const BLOCK = 512;
/** Raw type flags. */
const TarType = {
    file: 0x30, // '0' (also NUL and '7' contiguous)
    hardlink: 0x31,
    symlink: 0x32,
    char: 0x33,
    block: 0x34,
    dir: 0x35,
    fifo: 0x36,
    contiguous: 0x37,
    paxLocal: 0x78, // 'x'
    paxGlobal: 0x67, // 'g'
    gnuLongName: 0x4c, // 'L'
    gnuLongLink: 0x4b, // 'K'
};
class TarFormatError extends Error {
    name = 'TarFormatError';
}
function cstr(buf, off, len) {
    const end = buf.indexOf(0, off);
    return buf.toString('latin1', off, end < 0 || end > off + len ? off + len : end);
}
function tar_header_num(buf, off, len, field) {
    const first = buf[off];
    if (first & 0x80) {
        // GNU base-256: big-endian two's complement with the top bit as marker.
        if (first === 0xff)
            throw new TarFormatError(`negative ${field} in tar header`);
        let v = first & 0x7f;
        for (let i = 1; i < len; i++) {
            v = v * 256 + buf[off + i];
            if (!Number.isSafeInteger(v))
                throw new TarFormatError(`${field} too large in tar header`);
        }
        return v;
    }
    const s = buf.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
    if (s === '')
        return 0;
    if (!/^[0-7]+$/.test(s))
        throw new TarFormatError(`${field} "${s}" is not an octal number in tar header`);
    const v = parseInt(s, 8);
    if (!Number.isSafeInteger(v))
        throw new TarFormatError(`${field} too large in tar header`);
    return v;
}
function isZeroBlock(buf, off = 0) {
    for (let i = off; i < off + BLOCK; i++)
        if (buf[i] !== 0)
            return false;
    return true;
}
/** Decodes one 512-byte header block at `off`. */
function decodeHeader(buf, off = 0) {
    let sum = 0;
    for (let i = 0; i < BLOCK; i++)
        sum += i >= 148 && i < 156 ? 32 : buf[off + i];
    let stored;
    try {
        stored = tar_header_num(buf, off + 148, 8, 'checksum');
    }
    catch {
        stored = -1;
    }
    if (stored !== sum) {
        // Some old writers summed signed bytes.
        let ssum = 0;
        for (let i = 0; i < BLOCK; i++)
            ssum += i >= 148 && i < 156 ? 32 : (buf[off + i] << 24) >> 24;
        if (stored !== ssum)
            throw new TarFormatError('tar header checksum mismatch (not a tar archive, or corrupt)');
    }
    const magic = buf.toString('latin1', off + 257, off + 263);
    let name = cstr(buf, off, 100);
    // POSIX ustar has a 155-byte prefix; old GNU ("ustar  ") uses that space for other fields.
    if (magic === 'ustar\0') {
        const prefix = cstr(buf, off + 345, 155);
        if (prefix)
            name = `${prefix}/${name}`;
    }
    let type = buf[off + 156];
    if (type === 0)
        type = TarType.file;
    return {
        name,
        linkname: cstr(buf, off + 157, 100),
        mode: tar_header_num(buf, off + 100, 8, 'mode') & 0o7777,
        uid: tar_header_num(buf, off + 108, 8, 'uid'),
        gid: tar_header_num(buf, off + 116, 8, 'gid'),
        size: tar_header_num(buf, off + 124, 12, 'size'),
        mtime: tar_header_num(buf, off + 136, 12, 'mtime'),
        type,
        devmajor: magic.startsWith('ustar') ? tar_header_num(buf, off + 329, 8, 'devmajor') : 0,
        devminor: magic.startsWith('ustar') ? tar_header_num(buf, off + 337, 8, 'devminor') : 0,
    };
}
function paxInt(v, key) {
    const s = v.toString('latin1');
    if (!/^\d+$/.test(s))
        throw new TarFormatError(`pax header ${key}="${s}" is not a number`);
    const n = Number(s);
    if (!Number.isSafeInteger(n))
        throw new TarFormatError(`pax header ${key} too large`);
    return n;
}
/**
 * Parses pax extended header records ("LEN key=value\n"). Values stay bytes:
 * SCHILY.xattr values are binary (security.capability), so no UTF-8 decoding
 * may touch them. Paths are kept as latin1 strings of their UTF-8 bytes.
 */
function parsePax(data) {
    const out = { xattrs: new Map(), sparse: false };
    let pos = 0;
    while (pos < data.length) {
        if (data[pos] === 0)
            break; // padding some writers leave
        const sp = data.indexOf(0x20, pos);
        if (sp < 0 || sp - pos > 20)
            throw new TarFormatError('malformed pax header record (no length)');
        const lenStr = data.toString('latin1', pos, sp);
        if (!/^\d+$/.test(lenStr))
            throw new TarFormatError(`malformed pax header record length "${lenStr}"`);
        const len = Number(lenStr);
        const end = pos + len;
        if (len <= sp - pos + 1 || end > data.length || data[end - 1] !== 0x0a)
            throw new TarFormatError('malformed pax header record (bad length)');
        const rec = data.subarray(sp + 1, end - 1);
        const eq = rec.indexOf(0x3d);
        if (eq < 0)
            throw new TarFormatError('malformed pax header record (no "=")');
        const key = rec.toString('utf8', 0, eq);
        const value = rec.subarray(eq + 1);
        if (key === 'path')
            out.path = value.toString('latin1');
        else if (key === 'linkpath')
            out.linkpath = value.toString('latin1');
        else if (key === 'size')
            out.size = paxInt(value, key);
        else if (key === 'uid')
            out.uid = paxInt(value, key);
        else if (key === 'gid')
            out.gid = paxInt(value, key);
        else if (key === 'SCHILY.devmajor')
            out.devmajor = paxInt(value, key);
        else if (key === 'SCHILY.devminor')
            out.devminor = paxInt(value, key);
        else if (key === 'mtime') {
            const m = /^(-?\d+)(?:\.(\d{1,9})\d*)?$/.exec(value.toString('latin1'));
            if (!m)
                throw new TarFormatError(`pax header mtime="${value.toString('latin1')}" is not a time`);
            out.mtime = Number(m[1]);
            out.mtimeNsec = m[2] ? Number(m[2].padEnd(9, '0')) : 0;
        }
        else if (key.startsWith('SCHILY.xattr.')) {
            out.xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
        }
        else if (key.startsWith('LIBARCHIVE.xattr.')) {
            out.xattrs.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(value.toString('latin1'), 'base64'));
        }
        else if (key.startsWith('GNU.sparse.')) {
            out.sparse = true;
        }
        pos = end;
    }
    return out;
}
/** Normalises a member name of an outer archive: strips "./" and trailing "/". */
function archiveMemberName(name) {
    return name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

;// CONCATENATED MODULE: ./src/image/types.ts
/** An error about an image: bad reference, malformed manifest, digest mismatch, registry refusal. */
class ImageError extends Error {
    name = 'ImageError';
}

;// CONCATENATED MODULE: ./src/image/archive-index.ts
// A table of contents for an outer image archive (oci-archive, docker
// save output): member name -> byte range in the archive file. Members are
// then read in place, never extracted, so a hostile archive cannot place a
// file anywhere on the host.





const maxMetaSize = 1 << 20;
class ArchiveIndex {
    path;
    members;
    constructor(path, members) {
        this.path = path;
        this.members = members;
    }
    static async read(path) {
        let fh;
        try {
            fh = await (0,external_node_fs_promises_namespaceObject.open)(path, 'r');
        }
        catch (e) {
            throw new ImageError(`cannot open image archive ${path}: ${e.message}`);
        }
        try {
            const st = await fh.stat();
            if (!st.isFile())
                throw new ImageError(`image archive ${path} is not a regular file`);
            const magic = Buffer.alloc(4);
            await fh.read(magic, 0, 4, 0);
            if (magic[0] === 0x1f && magic[1] === 0x8b) {
                throw new ImageError(`image archive ${path} is gzip-compressed; decompress it first (gunzip), vmstep reads archives in place`);
            }
            const members = new Map();
            const hdr = Buffer.alloc(BLOCK);
            let pos = 0;
            let longName;
            let longLink;
            let pax;
            const readData = async (size) => {
                if (size > maxMetaSize)
                    throw new TarFormatError('tar metadata header larger than 1 MiB');
                const b = Buffer.alloc(size);
                const { bytesRead } = await fh.read(b, 0, size, pos + BLOCK);
                if (bytesRead !== size)
                    throw new TarFormatError('archive truncated');
                return b;
            };
            for (;;) {
                const { bytesRead } = await fh.read(hdr, 0, BLOCK, pos);
                if (bytesRead === 0)
                    break;
                if (bytesRead !== BLOCK)
                    throw new TarFormatError('archive truncated in a header');
                if (isZeroBlock(hdr))
                    break;
                const h = decodeHeader(hdr);
                const dataSize = pax?.size ?? h.size;
                const next = pos + BLOCK + Math.ceil(dataSize / BLOCK) * BLOCK;
                if (h.type === TarType.gnuLongName)
                    longName = (await readData(h.size)).toString('latin1').replace(/\0.*$/s, '');
                else if (h.type === TarType.gnuLongLink)
                    longLink = (await readData(h.size)).toString('latin1').replace(/\0.*$/s, '');
                else if (h.type === TarType.paxLocal)
                    pax = parsePax(await readData(h.size));
                else if (h.type === TarType.paxGlobal) {
                    /* global defaults carry nothing a member lookup needs */
                }
                else {
                    const name = archiveMemberName(pax?.path ?? longName ?? h.name);
                    const link = pax?.linkpath ?? longLink ?? h.linkname;
                    if (h.type === TarType.file || h.type === TarType.contiguous) {
                        if (next > st.size)
                            throw new TarFormatError(`member ${name} runs past the end of the archive`);
                        members.set(name, { offset: pos + BLOCK, size: dataSize });
                    }
                    else if (h.type === TarType.symlink || h.type === TarType.hardlink) {
                        members.set(name, { offset: 0, size: 0, link: h.type === TarType.hardlink ? `/${archiveMemberName(link)}` : link });
                    }
                    longName = longLink = pax = undefined;
                }
                pos = next;
            }
            return new ArchiveIndex(path, members);
        }
        catch (e) {
            if (e instanceof TarFormatError)
                throw new ImageError(`image archive ${path} is not a valid tar archive: ${e.message}`);
            throw e;
        }
        finally {
            await fh.close();
        }
    }
    /** Finds a member, following in-archive links (never outside the archive). */
    find(name) {
        let cur = archiveMemberName(name);
        for (let hops = 0; hops < 16; hops++) {
            const m = this.members.get(cur);
            if (!m?.link)
                return m;
            const base = m.link.startsWith('/') ? [] : cur.split('/').slice(0, -1);
            for (const part of m.link.split('/')) {
                if (part === '' || part === '.')
                    continue;
                if (part === '..') {
                    if (base.length === 0)
                        return undefined; // points outside the archive
                    base.pop();
                }
                else
                    base.push(part);
            }
            cur = base.join('/');
        }
        return undefined;
    }
    has(name) {
        return this.find(name) !== undefined;
    }
    async readMember(name, maxSize) {
        const m = this.find(name);
        if (!m)
            throw new ImageError(`image archive ${this.path} has no ${name}`);
        if (m.size > maxSize)
            throw new ImageError(`${name} in ${this.path} is ${m.size} bytes, more than the ${maxSize} a metadata file may have`);
        const fh = await (0,external_node_fs_promises_namespaceObject.open)(this.path, 'r');
        try {
            const b = Buffer.alloc(m.size);
            const { bytesRead } = await fh.read(b, 0, m.size, m.offset);
            if (bytesRead !== m.size)
                throw new ImageError(`image archive ${this.path} is truncated in ${name}`);
            return b;
        }
        finally {
            await fh.close();
        }
    }
    memberSize(name) {
        return this.find(name)?.size;
    }
    openMember(name) {
        const m = this.find(name);
        if (!m)
            throw new ImageError(`image archive ${this.path} has no ${name}`);
        if (m.size === 0)
            return external_node_stream_namespaceObject.Readable.from([]);
        return (0,external_node_fs_namespaceObject.createReadStream)(this.path, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1 << 20 });
    }
}

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: ./src/image/digest.ts
// Content addressing: every blob (manifest, config, layer) is checked
// against the digest and size its parent names before anything trusts it.



const sha256Re = /^sha256:[0-9a-f]{64}$/;
/** Checks a digest is a sha256 digest (the only algorithm images use in practice). */
function checkDigest(digest, what) {
    if (typeof digest !== 'string' || !sha256Re.test(digest)) {
        throw new ImageError(`${what}: "${String(digest)}" is not a sha256 digest (expected sha256:<64 lowercase hex digits)`);
    }
    return digest;
}
function sha256Digest(data) {
    return `sha256:${(0,external_node_crypto_namespaceObject.createHash)('sha256').update(data).digest('hex')}`;
}
/** Verifies a whole blob held in memory. */
function verifyBlob(data, digest, size, what) {
    if (size !== undefined && data.length !== size) {
        throw new ImageError(`${what} ${digest}: size is ${data.length} bytes, the manifest says ${size}; the image is corrupt or was changed`);
    }
    const actual = sha256Digest(data);
    if (actual !== digest)
        throw new ImageError(`${what} ${digest}: content has digest ${actual}; the image is corrupt or was changed`);
}
/**
 * A pass-through stream that hashes what flows and fails at the end when the
 * digest or size differs (or at once when more bytes arrive than declared).
 */
class DigestVerifier extends external_node_stream_namespaceObject.Transform {
    digest;
    size;
    what;
    hash = (0,external_node_crypto_namespaceObject.createHash)('sha256');
    seen = 0;
    constructor(digest, size, what) {
        super();
        this.digest = digest;
        this.size = size;
        this.what = what;
    }
    _transform(chunk, _enc, cb) {
        this.seen += chunk.length;
        if (this.size !== undefined && this.seen > this.size) {
            cb(new ImageError(`${this.what} ${this.digest}: more than the ${this.size} bytes the manifest declares; the image is corrupt or was changed`));
            return;
        }
        this.hash.update(chunk);
        cb(null, chunk);
    }
    _flush(cb) {
        if (this.size !== undefined && this.seen !== this.size) {
            cb(new ImageError(`${this.what} ${this.digest}: ${this.seen} bytes, the manifest declares ${this.size}; the image is corrupt or truncated`));
            return;
        }
        const actual = `sha256:${this.hash.digest('hex')}`;
        if (actual !== this.digest) {
            cb(new ImageError(`${this.what} ${this.digest}: content has digest ${actual}; the image is corrupt or was changed`));
            return;
        }
        cb();
    }
}

;// CONCATENATED MODULE: ./src/image/manifest.ts
// Parsing and checking the JSON documents of an image: OCI index / Docker
// manifest list (resolved to linux/amd64), OCI / Docker v2 schema 2 image
// manifests, and the image config. Every document is untrusted: each field
// is type-checked and every failure names the document and the field.


const MediaTypes = {
    ociIndex: 'application/vnd.oci.image.index.v1+json',
    ociManifest: 'application/vnd.oci.image.manifest.v1+json',
    ociConfig: 'application/vnd.oci.image.config.v1+json',
    dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
    dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
    dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
    dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
    dockerConfig: 'application/vnd.docker.container.image.v1+json',
};
/** What registries are asked for, in order of preference. */
const manifestAccept = [MediaTypes.ociIndex, MediaTypes.dockerList, MediaTypes.ociManifest, MediaTypes.dockerManifest].join(', ');
const layerMediaTypes = new Set([
    'application/vnd.oci.image.layer.v1.tar',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.oci.image.layer.nondistributable.v1.tar',
    'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
    'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
    'application/vnd.docker.image.rootfs.diff.tar',
    'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
function isObject(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function manifest_parseJson(data, what) {
    try {
        return JSON.parse(Buffer.from(data).toString('utf8'));
    }
    catch (e) {
        throw new ImageError(`${what} is not valid JSON (${e.message}); the image is corrupt`);
    }
}
function parseDescriptor(v, what) {
    if (!isObject(v))
        throw new ImageError(`${what} is not an object`);
    const digest = checkDigest(v.digest, `${what} digest`);
    const size = v.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new ImageError(`${what} (${digest}) has no valid size (got ${JSON.stringify(size)})`);
    }
    const mediaType = typeof v.mediaType === 'string' ? v.mediaType : '';
    const d = { mediaType, digest, size };
    if (isObject(v.platform)) {
        const p = v.platform;
        d.platform = {};
        if (typeof p.os === 'string')
            d.platform.os = p.os;
        if (typeof p.architecture === 'string')
            d.platform.architecture = p.architecture;
        if (typeof p.variant === 'string')
            d.platform.variant = p.variant;
    }
    if (isObject(v.annotations)) {
        d.annotations = {};
        for (const [k, val] of Object.entries(v.annotations))
            if (typeof val === 'string')
                d.annotations[k] = val;
    }
    return d;
}
/**
 * Parses an index or image manifest. `declaredType` is what the transport
 * said (Content-Type, descriptor mediaType); the document's own mediaType
 * field wins when present.
 */
function parseManifest(data, what, declaredType = '') {
    const doc = manifest_parseJson(data, what);
    if (!isObject(doc))
        throw new ImageError(`${what} is not a JSON object`);
    const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : declaredType;
    if (doc.schemaVersion === 1 || mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed) {
        throw new ImageError(`${what} is a Docker schema 1 manifest, which vmstep does not read; push the image again with a current Docker or skopeo (schema 2 or OCI)`);
    }
    if (doc.schemaVersion !== 2)
        throw new ImageError(`${what}: schemaVersion is ${JSON.stringify(doc.schemaVersion)}, expected 2`);
    const isIndex = mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerList || (!mediaType && Array.isArray(doc.manifests));
    if (isIndex) {
        if (!Array.isArray(doc.manifests))
            throw new ImageError(`${what}: an index without a "manifests" array`);
        return { kind: 'index', mediaType, manifests: doc.manifests.map((m, i) => parseDescriptor(m, `${what} manifests[${i}]`)) };
    }
    if (mediaType && mediaType !== MediaTypes.ociManifest && mediaType !== MediaTypes.dockerManifest) {
        throw new ImageError(`${what} has media type "${mediaType}", which is not an image manifest (expected OCI or Docker v2 schema 2)`);
    }
    if (!Array.isArray(doc.layers))
        throw new ImageError(`${what}: an image manifest without a "layers" array`);
    const config = parseDescriptor(doc.config, `${what} config`);
    const layers = doc.layers.map((l, i) => {
        const d = parseDescriptor(l, `${what} layers[${i}]`);
        if (!layerMediaTypes.has(d.mediaType)) {
            throw new ImageError(`${what} layers[${i}] (${d.digest}) has media type "${d.mediaType}", which is not a layer vmstep can unpack (tar, tar+gzip, tar+zstd)`);
        }
        return d;
    });
    return { kind: 'image', mediaType, config, layers };
}
/** Picks linux/amd64 out of an index. */
function selectPlatform(manifests, what) {
    const images = manifests.filter((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
    // Prefer the plain variant; "v2/v3" variants run on any amd64 host KVM runs on only when the CPU has them.
    const chosen = images.find((m) => !m.platform?.variant || m.platform.variant === 'v1') ?? images[0];
    if (!chosen) {
        const have = manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}${m.platform?.variant ? `/${m.platform.variant}` : ''}`);
        throw new ImageError(`${what} has no linux/amd64 image (it has: ${have.join(', ') || 'nothing'}); vmstep runs x86-64 guests only`);
    }
    return chosen;
}
function stringArray(v, what) {
    if (v === undefined || v === null)
        return null;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
        throw new ImageError(`${what} is not a list of strings`);
    return v;
}
function parseImageConfig(data, what) {
    const doc = manifest_parseJson(data, what);
    if (!isObject(doc))
        throw new ImageError(`${what} is not a JSON object`);
    if (doc.os !== undefined && doc.os !== 'linux')
        throw new ImageError(`${what}: the image is for os "${String(doc.os)}"; vmstep runs linux images`);
    if (doc.architecture !== undefined && doc.architecture !== 'amd64') {
        throw new ImageError(`${what}: the image is for architecture "${String(doc.architecture)}"; vmstep runs amd64 (x86-64) images`);
    }
    const c = doc.config ?? {};
    if (!isObject(c))
        throw new ImageError(`${what}: "config" is not an object`);
    const str = (v, field) => {
        if (v === undefined || v === null)
            return '';
        if (typeof v !== 'string')
            throw new ImageError(`${what}: config.${field} is not a string`);
        return v;
    };
    let diffIds = null;
    if (isObject(doc.rootfs) && Array.isArray(doc.rootfs.diff_ids)) {
        diffIds = doc.rootfs.diff_ids.map((d, i) => checkDigest(d, `${what} rootfs.diff_ids[${i}]`));
    }
    return {
        config: {
            entrypoint: stringArray(c.Entrypoint, `${what}: config.Entrypoint`),
            cmd: stringArray(c.Cmd, `${what}: config.Cmd`),
            env: stringArray(c.Env, `${what}: config.Env`) ?? [],
            workingDir: str(c.WorkingDir, 'WorkingDir'),
            user: str(c.User, 'User'),
        },
        diffIds,
    };
}
/** Checks layer count against the config's diff_ids, which every well-formed image has. */
function checkLayerCount(layers, diffIds, what) {
    if (diffIds && diffIds.length !== layers) {
        throw new ImageError(`${what}: the manifest lists ${layers} layers but the config's rootfs.diff_ids lists ${diffIds.length}; the image is corrupt`);
    }
}

;// CONCATENATED MODULE: ./src/image/assemble.ts



/** Manifests and configs are small; a huge one is an attack, not an image. */
const maxManifestBytes = 4 << 20;
const maxConfigBytes = 16 << 20;
async function imageFromManifest(store, top, reference) {
    let parsed = parseManifest(top.bytes, top.what, top.mediaType);
    let digest = top.digest;
    let indexDigest;
    let what = top.what;
    // An index may (rarely) point at another index; two levels is plenty.
    for (let depth = 0; parsed.kind === 'index'; depth++) {
        if (depth >= 2)
            throw new ImageError(`${what}: indexes nested more than two deep; the image is malformed`);
        const chosen = selectPlatform(parsed.manifests, what);
        indexDigest ??= digest;
        const bytes = await store.readManifest(chosen);
        what = `manifest ${chosen.digest} (linux/amd64 in ${reference})`;
        verifyBlob(bytes, chosen.digest, chosen.size, 'manifest');
        parsed = parseManifest(bytes, what, chosen.mediaType);
        digest = chosen.digest;
    }
    const manifest = parsed;
    const configBytes = await store.readBlob(manifest.config, maxConfigBytes);
    verifyBlob(configBytes, manifest.config.digest, manifest.config.size, 'config');
    const { config, diffIds } = parseImageConfig(configBytes, `image config ${manifest.config.digest}`);
    checkLayerCount(manifest.layers.length, diffIds, what);
    const layers = manifest.layers.map((d) => makeLayer(store, d));
    const image = { reference, digest, config, configDigest: manifest.config.digest, layers };
    if (indexDigest)
        image.indexDigest = indexDigest;
    return image;
}
function makeLayer(store, d) {
    const layer = {
        digest: d.digest,
        size: d.size,
        mediaType: d.mediaType,
        async open() {
            const { stream, verified } = await store.openBlob(d);
            if (verified)
                return stream;
            const v = new DigestVerifier(d.digest, d.size, 'layer');
            stream.on('error', (e) => v.destroy(e));
            return stream.pipe(v);
        },
    };
    if (store.prefetchBlob) {
        const prefetch = store.prefetchBlob.bind(store);
        layer.prefetch = () => prefetch(d);
    }
    return layer;
}

;// CONCATENATED MODULE: ./src/image/reference.ts
// Image references in the naming of containers/image (what skopeo accepts):
// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME],
// docker-daemon:NAME[:TAG], docker://REF and bare REF (Docker Hub
// normalisation: "busybox" is docker.io/library/busybox:latest).

const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const pathComponentRe = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** Splits "PATH[:SUFFIX]" where the suffix cannot contain a slash (so "./a:b/c" is all path). */
function splitPathSuffix(s) {
    const i = s.lastIndexOf(':');
    if (i > 0 && !s.slice(i + 1).includes('/'))
        return { path: s.slice(0, i), suffix: s.slice(i + 1) || undefined };
    return { path: s };
}
function parseReference(input) {
    const ref = input.trim();
    if (ref === '')
        throw new ImageError('empty image reference: give an image such as "busybox", "oci:DIR:TAG" or "docker-archive:FILE"');
    const colon = ref.indexOf(':');
    const scheme = colon > 0 ? ref.slice(0, colon) : '';
    const rest = ref.slice(colon + 1);
    switch (scheme) {
        case 'oci':
        case 'oci-archive': {
            const { path, suffix } = splitPathSuffix(rest);
            if (!path)
                throw new ImageError(`image reference "${input}" names no path: write ${scheme}:PATH[:TAG]`);
            if (suffix !== undefined && !tagRe.test(suffix))
                throw new ImageError(`image reference "${input}": "${suffix}" is not a valid tag`);
            return suffix === undefined ? { transport: scheme, path } : { transport: scheme, path, tag: suffix };
        }
        case 'docker-archive': {
            // FILE[:NAME] where NAME itself may hold a colon (repo:tag): split at
            // the first colon after the last slash of the file part.
            const m = /^([^:]+)(?::(.+))?$/.exec(rest);
            if (!m?.[1])
                throw new ImageError(`image reference "${input}" names no file: write docker-archive:FILE[:NAME]`);
            return m[2] ? { transport: 'docker-archive', path: m[1], name: m[2] } : { transport: 'docker-archive', path: m[1] };
        }
        case 'docker-daemon': {
            if (!rest)
                throw new ImageError(`image reference "${input}" names no image: write docker-daemon:NAME[:TAG]`);
            parseRegistryReference(rest, input); // validates the name
            return { transport: 'docker-daemon', name: rest };
        }
        case 'docker':
            if (!rest.startsWith('//'))
                throw new ImageError(`image reference "${input}": write docker://REF (two slashes)`);
            return parseRegistryReference(rest.slice(2), input);
        default:
            return parseRegistryReference(ref, input);
    }
}
/** Docker's reference grammar with docker.io/library normalisation. */
function parseRegistryReference(ref, original = ref) {
    let rest = ref;
    let digest;
    const at = rest.indexOf('@');
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!digestRe.test(digest))
            throw new ImageError(`image reference "${original}": "${digest}" is not a digest (expected sha256:<64 hex digits>)`);
        if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
            throw new ImageError(`image reference "${original}": "${digest}" is not a sha256 digest (64 lowercase hex digits)`);
        }
    }
    let tag;
    const lastSlash = rest.lastIndexOf('/');
    const lastColon = rest.lastIndexOf(':');
    if (lastColon > lastSlash) {
        tag = rest.slice(lastColon + 1);
        rest = rest.slice(0, lastColon);
        if (!tagRe.test(tag))
            throw new ImageError(`image reference "${original}": "${tag}" is not a valid tag`);
    }
    const parts = rest.split('/');
    let registry = 'docker.io';
    const first = parts[0] ?? '';
    if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
        registry = first;
        parts.shift();
    }
    if (registry === 'index.docker.io' || registry === 'registry-1.docker.io')
        registry = 'docker.io';
    if (registry === 'docker.io' && parts.length === 1)
        parts.unshift('library');
    if (parts.length === 0 || parts.some((p) => !pathComponentRe.test(p))) {
        throw new ImageError(`image reference "${original}" is not a valid image name (lowercase letters, digits and separators; e.g. "busybox:1.36" or "ghcr.io/owner/repo:tag")`);
    }
    const out = { transport: 'docker', registry, repository: parts.join('/') };
    if (digest)
        out.digest = digest;
    if (tag || !digest)
        out.tag = tag ?? 'latest';
    return out;
}
function formatRegistryRef(r) {
    return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
function formatReference(r) {
    switch (r.transport) {
        case 'docker':
            return formatRegistryRef(r);
        case 'oci':
        case 'oci-archive':
            return `${r.transport}:${r.path}${r.tag ? `:${r.tag}` : ''}`;
        case 'docker-archive':
            return `docker-archive:${r.path}${r.name ? `:${r.name}` : ''}`;
        case 'docker-daemon':
            return `docker-daemon:${r.name}`;
    }
}

;// CONCATENATED MODULE: ./src/image/docker-archive.ts
// docker-archive:FILE[:NAME] (`docker save` output, read in place) and
// docker-daemon:NAME (exported once with `docker save` into the cache,
// keyed by the engine's image ID).










function parseSaveManifest(bytes, where) {
    const doc = manifest_parseJson(bytes, `${where} manifest.json`);
    if (!Array.isArray(doc))
        throw new ImageError(`${where} manifest.json is not a list`);
    return doc.map((e, i) => {
        const ent = e;
        const ok = typeof ent === 'object' && ent !== null && typeof ent.Config === 'string' && Array.isArray(ent.Layers) && ent.Layers.every((l) => typeof l === 'string');
        if (!ok)
            throw new ImageError(`${where} manifest.json entry ${i} lacks Config or Layers`);
        const tags = Array.isArray(ent.RepoTags) ? ent.RepoTags.filter((t) => typeof t === 'string') : [];
        return { Config: ent.Config, RepoTags: tags, Layers: ent.Layers };
    });
}
/** Both "busybox" and "docker.io/library/busybox:latest" name the same tag. */
function sameName(a, b) {
    try {
        return formatRegistryRef(parseRegistryReference(a)) === formatRegistryRef(parseRegistryReference(b));
    }
    catch {
        return a === b;
    }
}
function digestFromPath(p) {
    const m = /(?:^|\/)(?:blobs\/sha256\/)?([0-9a-f]{64})(?:\.json)?$/.exec(p);
    return m ? `sha256:${m[1]}` : undefined;
}
class SaveStore {
    archive;
    paths;
    constructor(archive, paths) {
        this.archive = archive;
        this.paths = paths;
    }
    path(desc) {
        const p = this.paths.get(desc.digest);
        if (!p)
            throw new ImageError(`${this.archive.path} has no blob ${desc.digest}`);
        return p;
    }
    readManifest() {
        throw new ImageError('docker-archive has no registry manifests');
    }
    readBlob(desc, max) {
        return this.archive.readMember(this.path(desc), max);
    }
    async openBlob(desc) {
        return { stream: this.archive.openMember(this.path(desc)), verified: false };
    }
}
async function dockerArchiveImage(file, name, reference) {
    const archive = await ArchiveIndex.read(file);
    if (!archive.has('manifest.json'))
        throw new ImageError(`${file} is not a docker-archive (no manifest.json); was it written by docker save?`);
    const entries = parseSaveManifest(await archive.readMember('manifest.json', maxManifestBytes), file);
    let entry;
    if (name !== undefined) {
        entry = entries.find((e) => e.RepoTags.some((t) => sameName(t, name)));
        if (!entry)
            throw new ImageError(`${file} has no image named "${name}" (it has: ${entries.flatMap((e) => e.RepoTags).join(', ') || 'untagged images only'})`);
    }
    else if (entries.length === 1)
        entry = entries[0];
    else
        throw new ImageError(`${file} holds ${entries.length} images; name one: docker-archive:${file}:NAME (names: ${entries.flatMap((e) => e.RepoTags).join(', ')})`);
    if (!entry)
        throw new ImageError(`${file} manifest.json lists no images`);
    const configBytes = await archive.readMember(entry.Config, maxConfigBytes);
    const configDigest = sha256Digest(configBytes);
    const named = digestFromPath(entry.Config);
    if (named && named !== configDigest)
        throw new ImageError(`config ${entry.Config} in ${file}: content has digest ${configDigest}; the archive is corrupt`);
    const { config, diffIds } = parseImageConfig(configBytes, `image config ${entry.Config} in ${file}`);
    checkLayerCount(entry.Layers.length, diffIds, `${file} manifest.json`);
    const paths = new Map();
    const layers = entry.Layers.map((p, i) => {
        const size = archive.memberSize(p);
        if (size === undefined)
            throw new ImageError(`${file} lacks layer ${p} that its manifest.json lists`);
        // Layers of docker save are uncompressed tars whose digest is the diff_id.
        const digest = checkDigest(digestFromPath(p) ?? diffIds?.[i], `layer ${p} in ${file}`);
        paths.set(digest, p);
        return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest, size };
    });
    const store = new SaveStore(archive, paths);
    // No registry manifest exists: the config digest (which covers the
    // diff_ids) identifies the image, as `docker images` does.
    return { reference, digest: configDigest, config, configDigest, layers: layers.map((d) => makeLayer(store, d)) };
}
const run = (0,external_node_util_namespaceObject.promisify)(external_node_child_process_namespaceObject.execFile);
async function dockerDaemonImage(name, reference, cacheRoot, docker = 'docker') {
    let id;
    try {
        id = (await run(docker, ['image', 'inspect', '--format', '{{.Id}}', name], { timeout: 60_000 })).stdout.trim();
    }
    catch (e) {
        const err = e;
        if (err.code === 'ENOENT')
            throw new ImageError(`docker-daemon:${name} needs the docker command, which is not installed; save the image elsewhere (docker save -o img.tar ${name}) and use docker-archive:img.tar`);
        throw new ImageError(`docker could not find image ${name}: ${(err.stderr ?? err.message).trim()} (is the Docker engine running, and the image pulled?)`);
    }
    const idDigest = checkDigest(id.startsWith('sha256:') ? id : `sha256:${id}`, `docker image ID of ${name}`);
    const dir = (0,external_node_path_namespaceObject.join)(cacheRoot, 'docker-save');
    const file = (0,external_node_path_namespaceObject.join)(dir, `${idDigest.slice(7)}.tar`);
    if (!(await (0,external_node_fs_promises_namespaceObject.stat)(file).catch(() => null))) {
        await (0,external_node_fs_promises_namespaceObject.mkdir)(dir, { recursive: true });
        const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
        try {
            await run(docker, ['save', '-o', tmp, name], { timeout: 30 * 60_000, maxBuffer: 1 << 20 });
            await (0,external_node_fs_promises_namespaceObject.rename)(tmp, file);
        }
        catch (e) {
            await (0,external_node_fs_promises_namespaceObject.rm)(tmp, { force: true });
            throw new ImageError(`docker save ${name} failed: ${(e.stderr ?? e.message).trim()}`);
        }
    }
    return dockerArchiveImage(file, undefined, reference);
}

;// CONCATENATED MODULE: ./src/image/oci-layout.ts
// oci:DIR[:TAG] and oci-archive:FILE[:TAG]: an OCI image layout (index.json
// + blobs/sha256/...), either a directory or a tar of one read in place.








const refNameKey = 'org.opencontainers.image.ref.name';
function blobPath(digest) {
    // The digest was validated (sha256:<hex>), so this cannot leave blobs/.
    const [alg, hex] = digest.split(':');
    return `blobs/${alg}/${hex}`;
}
/** Reads index.json and picks the manifest named by `tag` (or the only one). */
function pickFromIndex(indexBytes, tag, where) {
    const index = parseManifest(indexBytes, `${where}/index.json`, 'application/vnd.oci.image.index.v1+json');
    if (index.kind !== 'index')
        throw new ImageError(`${where}/index.json is not an OCI index`);
    const named = index.manifests.filter((m) => m.annotations?.[refNameKey] !== undefined);
    if (tag !== undefined) {
        const hit = index.manifests.find((m) => m.annotations?.[refNameKey] === tag);
        if (!hit) {
            const tags = named.map((m) => m.annotations?.[refNameKey]).join(', ');
            throw new ImageError(`${where} has no image tagged "${tag}" (tags: ${tags || 'none'})`);
        }
        return hit;
    }
    if (index.manifests.length === 1)
        return index.manifests[0];
    if (index.manifests.length === 0)
        throw new ImageError(`${where}/index.json lists no images`);
    throw new ImageError(`${where} holds ${index.manifests.length} images; name one with :TAG (tags: ${named.map((m) => m.annotations?.[refNameKey]).join(', ') || 'none'})`);
}
class LayoutDirStore {
    dir;
    constructor(dir) {
        this.dir = dir;
    }
    async read(desc, max) {
        if (desc.size > max)
            throw new ImageError(`blob ${desc.digest} in ${this.dir} declares ${desc.size} bytes, more than the ${max} a manifest or config may have`);
        try {
            return await (0,external_node_fs_promises_namespaceObject.readFile)((0,external_node_path_namespaceObject.join)(this.dir, blobPath(desc.digest)));
        }
        catch (e) {
            throw new ImageError(`OCI layout ${this.dir} is missing blob ${desc.digest} (${e.code ?? e.message})`);
        }
    }
    readManifest(desc) {
        return this.read(desc, maxManifestBytes);
    }
    readBlob(desc, max) {
        return this.read(desc, max);
    }
    async openBlob(desc) {
        const p = (0,external_node_path_namespaceObject.join)(this.dir, blobPath(desc.digest));
        const st = await (0,external_node_fs_promises_namespaceObject.stat)(p).catch(() => null);
        if (!st?.isFile())
            throw new ImageError(`OCI layout ${this.dir} is missing layer blob ${desc.digest}`);
        if (st.size !== desc.size)
            throw new ImageError(`layer ${desc.digest} in ${this.dir}: file has ${st.size} bytes, the manifest says ${desc.size}; the image is corrupt`);
        return { stream: (0,external_node_fs_namespaceObject.createReadStream)(p, { highWaterMark: 1 << 20 }), verified: false };
    }
}
class LayoutArchiveStore {
    archive;
    constructor(archive) {
        this.archive = archive;
    }
    async read(desc, max) {
        if (desc.size > max)
            throw new ImageError(`blob ${desc.digest} in ${this.archive.path} declares ${desc.size} bytes, more than the ${max} a manifest or config may have`);
        if (!this.archive.has(blobPath(desc.digest)))
            throw new ImageError(`OCI archive ${this.archive.path} is missing blob ${desc.digest}`);
        return this.archive.readMember(blobPath(desc.digest), max);
    }
    readManifest(desc) {
        return this.read(desc, maxManifestBytes);
    }
    readBlob(desc, max) {
        return this.read(desc, max);
    }
    async openBlob(desc) {
        const size = this.archive.memberSize(blobPath(desc.digest));
        if (size === undefined)
            throw new ImageError(`OCI archive ${this.archive.path} is missing layer blob ${desc.digest}`);
        if (size !== desc.size)
            throw new ImageError(`layer ${desc.digest} in ${this.archive.path}: member has ${size} bytes, the manifest says ${desc.size}; the image is corrupt`);
        return { stream: this.archive.openMember(blobPath(desc.digest)), verified: false };
    }
}
async function checkLayoutMarker(bytes, where) {
    if (!bytes)
        throw new ImageError(`${where} is not an OCI image layout (no oci-layout file)`);
    try {
        const v = JSON.parse(bytes.toString('utf8'));
        if (typeof v.imageLayoutVersion !== 'string')
            throw new Error('no imageLayoutVersion');
    }
    catch (e) {
        throw new ImageError(`${where}/oci-layout is malformed (${e.message})`);
    }
}
async function ociLayoutImage(dir, tag, reference) {
    const st = await (0,external_node_fs_promises_namespaceObject.stat)(dir).catch(() => null);
    if (!st?.isDirectory())
        throw new ImageError(`OCI layout ${dir} does not exist or is not a directory`);
    await checkLayoutMarker(await (0,external_node_fs_promises_namespaceObject.readFile)((0,external_node_path_namespaceObject.join)(dir, 'oci-layout')).catch(() => undefined), dir);
    const indexBytes = await (0,external_node_fs_promises_namespaceObject.readFile)((0,external_node_path_namespaceObject.join)(dir, 'index.json')).catch(() => {
        throw new ImageError(`${dir} is not an OCI image layout (no index.json)`);
    });
    const store = new LayoutDirStore(dir);
    return fromIndex(store, indexBytes, tag, dir, reference);
}
async function ociArchiveImage(file, tag, reference) {
    const archive = await ArchiveIndex.read(file);
    await checkLayoutMarker(archive.has('oci-layout') ? await archive.readMember('oci-layout', 4096) : undefined, file);
    if (!archive.has('index.json'))
        throw new ImageError(`${file} is not an OCI archive (no index.json)`);
    const indexBytes = await archive.readMember('index.json', maxManifestBytes);
    return fromIndex(new LayoutArchiveStore(archive), indexBytes, tag, file, reference);
}
async function fromIndex(store, indexBytes, tag, where, reference) {
    const desc = pickFromIndex(indexBytes, tag, where);
    const bytes = await store.readManifest(desc);
    const digest = sha256Digest(bytes);
    if (digest !== desc.digest)
        throw new ImageError(`manifest ${desc.digest} in ${where}: content has digest ${digest}; the image is corrupt`);
    if (bytes.length !== desc.size)
        throw new ImageError(`manifest ${desc.digest} in ${where}: ${bytes.length} bytes, index.json says ${desc.size}; the image is corrupt`);
    return imageFromManifest(store, { bytes, digest, mediaType: desc.mediaType, what: `manifest ${desc.digest} in ${where}` }, reference);
}

;// CONCATENATED MODULE: ./src/image/blob-cache.ts
// Layer blobs by digest under <cache>/blobs/sha256/<hex>. A blob lands there
// only after its digest and size were verified (temporary name, then an
// atomic rename), so a file in the cache is always whole and correct, and
// concurrent runs fetching the same blob cannot corrupt each other.





class BlobCache {
    root;
    constructor(root) {
        this.root = root;
    }
    path(digest) {
        const [alg, hex] = digest.split(':');
        return (0,external_node_path_namespaceObject.join)(this.root, 'blobs', alg, hex);
    }
    async has(digest, size) {
        const st = await (0,external_node_fs_promises_namespaceObject.stat)(this.path(digest)).catch(() => null);
        if (!st || st.size !== size)
            return false;
        // Mark as used for least-recently-used pruning.
        const now = new Date();
        await (0,external_node_fs_promises_namespaceObject.utimes)(this.path(digest), now, now).catch(() => { });
        return true;
    }
    /** Writes a blob from a stream, verifying it; nothing lands in the cache unless it matches. */
    async put(digest, size, source, what, onBytes) {
        const final = this.path(digest);
        await (0,external_node_fs_promises_namespaceObject.mkdir)((0,external_node_path_namespaceObject.join)(final, '..'), { recursive: true });
        const tmp = `${final}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
        let n = 0;
        const verifier = new DigestVerifier(digest, size, what);
        const file = (0,external_node_fs_namespaceObject.createWriteStream)(tmp);
        if (onBytes) {
            source.on('data', (c) => {
                n += c.length;
                onBytes(n);
            });
        }
        try {
            await (0,promises_namespaceObject.pipeline)(source, verifier, file);
            await (0,external_node_fs_promises_namespaceObject.rename)(tmp, final);
        }
        catch (e) {
            await (0,external_node_fs_promises_namespaceObject.rm)(tmp, { force: true });
            throw e;
        }
        return final;
    }
}

;// CONCATENATED MODULE: external "node:timers/promises"
const external_node_timers_promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:timers/promises");
;// CONCATENATED MODULE: ./src/image/credentials.ts
// Registry credentials: explicit options first, then the Docker config
// (`auths` entries with base64 "user:password", or a credential helper named
// by credHelpers/credsStore). Secrets never appear in errors or logs.




/** "https://index.docker.io/v1/" and "docker.io" are the same registry. */
function normaliseRegistryHost(key) {
    const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
    return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}
function isCredentials(v) {
    if (typeof v !== 'object' || v === null)
        return false;
    const o = v;
    return typeof o.username === 'string' || typeof o.password === 'string' || typeof o.registryToken === 'string';
}
function dockerConfigPath() {
    return (0,external_node_path_namespaceObject.join)(process.env.DOCKER_CONFIG || (0,external_node_path_namespaceObject.join)((0,external_node_os_namespaceObject.homedir)(), '.docker'), 'config.json');
}
function runHelper(helper, host) {
    return new Promise((resolve) => {
        const child = (0,external_node_child_process_namespaceObject.execFile)(`docker-credential-${helper}`, ['get'], { timeout: 20_000 }, (err, stdout) => {
            if (err)
                return resolve(undefined);
            try {
                const r = JSON.parse(stdout);
                if (!r.Secret)
                    return resolve(undefined);
                // "<token>" as user name marks an identity token, which needs the OAuth flow we do not do.
                if (r.Username === '<token>')
                    return resolve(undefined);
                resolve({ username: r.Username ?? '', password: r.Secret });
            }
            catch {
                resolve(undefined);
            }
        });
        child.stdin?.end(host === 'docker.io' ? 'https://index.docker.io/v1/' : host);
    });
}
async function findCredentials(host, options) {
    const want = normaliseRegistryHost(host);
    const given = options.credentials;
    if (given) {
        if (isCredentials(given))
            return given;
        for (const [k, v] of Object.entries(given))
            if (normaliseRegistryHost(k) === want)
                return v;
    }
    let doc;
    try {
        doc = JSON.parse(await (0,external_node_fs_promises_namespaceObject.readFile)(options.dockerConfigPath ?? dockerConfigPath(), 'utf8'));
    }
    catch {
        return undefined; // no config: anonymous
    }
    for (const [k, v] of Object.entries(doc.credHelpers ?? {})) {
        if (normaliseRegistryHost(k) === want && typeof v === 'string')
            return runHelper(v, want);
    }
    for (const [k, v] of Object.entries(doc.auths ?? {})) {
        if (normaliseRegistryHost(k) !== want || typeof v !== 'object' || v === null)
            continue;
        if (typeof v.registrytoken === 'string' && v.registrytoken)
            return { registryToken: v.registrytoken };
        if (typeof v.auth === 'string' && v.auth) {
            const plain = Buffer.from(v.auth, 'base64').toString('utf8');
            const i = plain.indexOf(':');
            if (i > 0)
                return { username: plain.slice(0, i), password: plain.slice(i + 1) };
        }
        if (typeof v.username === 'string' && typeof v.password === 'string')
            return { username: v.username, password: v.password };
    }
    if (typeof doc.credsStore === 'string' && doc.credsStore)
        return runHelper(doc.credsStore, want);
    return undefined;
}

;// CONCATENATED MODULE: ./src/image/registry-client.ts
// A small OCI distribution (v2) client on Node's fetch: anonymous, basic and
// bearer-token auth (the WWW-Authenticate challenge flow Docker Hub and GHCR
// use), plain HTTP only for loopback or explicitly allowed hosts (Docker's
// rule), and retries with backoff for transient failures.



/** Hosts that Docker treats as insecure by default: localhost and 127.0.0.0/8 (and ::1). */
function isLoopbackHost(hostPort) {
    const host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.replace(/:\d+$/, '');
    return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas). */
function parseChallenge(header) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
    const params = {};
    if (!m)
        return { scheme: '', params };
    const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
    for (let p; (p = re.exec(m[2] ?? ''));)
        params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
    return { scheme: m[1].toLowerCase(), params };
}
function retryable(status) {
    return status === 429 || status === 408 || (status >= 500 && status !== 501);
}
class RegistryClient {
    registry;
    repository;
    options;
    apiHost;
    scheme;
    authHeader;
    credentials = null;
    constructor(registry, repository, options = {}) {
        this.registry = registry;
        this.repository = repository;
        this.options = options;
        // Docker Hub's API lives on another name than its image names.
        this.apiHost = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    }
    plainHttpAllowed() {
        return isLoopbackHost(this.registry) || (this.options.insecureRegistries ?? []).includes(this.registry);
    }
    async creds() {
        if (this.credentials === null)
            this.credentials = await findCredentials(this.registry, this.options);
        return this.credentials;
    }
    /** GET path (relative to /v2/), with auth and retries; the caller owns the response body. */
    async get(path, headers = {}, what = path) {
        const retries = this.options.retries ?? 4;
        let authTried = false;
        for (let attempt = 0;; attempt++) {
            let res;
            try {
                res = await this.send(path, headers);
            }
            catch (e) {
                if (this.options.signal?.aborted)
                    throw e;
                if (attempt >= retries)
                    throw new ImageError(`cannot reach registry ${this.registry} for ${what}: ${describeNetworkError(e)}`);
                await this.backoff(attempt, null);
                continue;
            }
            if (res.status === 401 && !authTried) {
                authTried = true;
                await res.body?.cancel();
                await this.authenticate(res.headers.get('www-authenticate') ?? '', what);
                attempt--; // an auth round trip is not a failure
                continue;
            }
            if (retryable(res.status) && attempt < retries) {
                await res.body?.cancel();
                await this.backoff(attempt, res.headers.get('retry-after'));
                continue;
            }
            if (res.ok)
                return res;
            await res.body?.cancel();
            throw this.statusError(res.status, what);
        }
    }
    statusError(status, what) {
        const where = `${this.registry}/${this.repository}`;
        if (status === 401)
            return new ImageError(`registry ${this.registry} refused the credentials for ${what} (401); log in (docker login ${this.registry}) or pass credentials`);
        if (status === 403)
            return new ImageError(`registry ${this.registry} denied access to ${where} (403); check that the credentials may pull this repository`);
        if (status === 404)
            return new ImageError(`${what} not found in ${where} (404); check the image name and tag`);
        if (status === 429)
            return new ImageError(`registry ${this.registry} is rate-limiting pulls (429); log in for a higher limit or try later`);
        return new ImageError(`registry ${this.registry} answered ${status} for ${what}`);
    }
    async backoff(attempt, retryAfter) {
        let ms = Math.min(250 * 2 ** attempt, 8000) * (0.75 + Math.random() * 0.5);
        const ra = retryAfter ? Number(retryAfter) : NaN;
        if (Number.isFinite(ra) && ra >= 0)
            ms = Math.min(ra * 1000, 30_000);
        await (0,external_node_timers_promises_namespaceObject.setTimeout)(ms, undefined, { signal: this.options.signal });
    }
    async send(path, headers) {
        const h = { ...headers };
        if (this.authHeader)
            h.authorization = this.authHeader;
        const init = { headers: h, redirect: 'follow' };
        if (this.options.signal)
            init.signal = this.options.signal;
        if (this.scheme)
            return fetch(`${this.scheme}://${this.apiHost}/v2/${path}`, init);
        try {
            const res = await fetch(`https://${this.apiHost}/v2/${path}`, init);
            this.scheme = 'https';
            return res;
        }
        catch (e) {
            if (!this.plainHttpAllowed())
                throw e;
            // Docker's rule for loopback and listed registries: fall back to plain HTTP.
            const res = await fetch(`http://${this.apiHost}/v2/${path}`, init);
            this.scheme = 'http';
            return res;
        }
    }
    async authenticate(challenge, what) {
        const { scheme, params } = parseChallenge(challenge);
        const creds = await this.creds();
        if (scheme === 'basic') {
            if (!creds?.username && !creds?.password) {
                throw new ImageError(`registry ${this.registry} needs a user name and password for ${what}; log in (docker login ${this.registry}) or pass credentials`);
            }
            this.authHeader = `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
            return;
        }
        if (scheme !== 'bearer' || !params.realm) {
            throw new ImageError(`registry ${this.registry} asked for an authentication scheme vmstep does not know ("${challenge.slice(0, 40)}")`);
        }
        if (creds?.registryToken) {
            this.authHeader = `Bearer ${creds.registryToken}`;
            return;
        }
        let realm;
        try {
            realm = new URL(params.realm);
        }
        catch {
            throw new ImageError(`registry ${this.registry} named an invalid token service "${params.realm}"`);
        }
        if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (isLoopbackHost(realm.host) || this.plainHttpAllowed()))) {
            throw new ImageError(`registry ${this.registry} sent a token service over plain HTTP (${realm.origin}); refusing to send credentials there`);
        }
        if (params.service)
            realm.searchParams.set('service', params.service);
        realm.searchParams.set('scope', params.scope ?? `repository:${this.repository}:pull`);
        const headers = {};
        if (creds?.username || creds?.password)
            headers.authorization = `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
        let token;
        for (let attempt = 0;; attempt++) {
            let res;
            try {
                res = await fetch(realm, { headers, ...(this.options.signal ? { signal: this.options.signal } : {}) });
            }
            catch (e) {
                if (attempt >= (this.options.retries ?? 4))
                    throw new ImageError(`cannot reach the token service of ${this.registry} (${realm.origin}): ${describeNetworkError(e)}`);
                await this.backoff(attempt, null);
                continue;
            }
            if (retryable(res.status) && attempt < (this.options.retries ?? 4)) {
                await res.body?.cancel();
                await this.backoff(attempt, res.headers.get('retry-after'));
                continue;
            }
            if (!res.ok) {
                await res.body?.cancel();
                throw new ImageError(`the token service of ${this.registry} refused a token for ${this.repository} (${res.status}); ${creds ? 'check the credentials' : 'the repository may be private: log in or pass credentials'}`);
            }
            const body = (await res.json().catch(() => ({})));
            token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
            break;
        }
        if (!token)
            throw new ImageError(`the token service of ${this.registry} answered without a token`);
        this.authHeader = `Bearer ${token}`;
    }
}
function describeNetworkError(e) {
    const err = e;
    return err.cause?.code ?? err.cause?.message ?? err.message;
}

;// CONCATENATED MODULE: ./src/image/registry.ts
// docker://REF and bare references: an image from an OCI distribution
// registry. Manifests are fetched by tag or digest and verified; layers are
// downloaded once into the blob cache and read from there.









async function readCapped(res, max, what) {
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
        await res.body?.cancel();
        throw new ImageError(`${what} is ${declared} bytes, more than the ${max} vmstep accepts for it`);
    }
    const chunks = [];
    let total = 0;
    if (res.body) {
        for await (const c of res.body) {
            total += c.length;
            if (total > max)
                throw new ImageError(`${what} is more than the ${max} bytes vmstep accepts for it`);
            chunks.push(Buffer.from(c));
        }
    }
    return Buffer.concat(chunks);
}
class RegistryStore {
    client;
    cache;
    options;
    inflight = new Map();
    constructor(client, cache, options) {
        this.client = client;
        this.cache = cache;
        this.options = options;
    }
    async readManifest(desc) {
        const res = await this.client.get(`${this.repoPath()}/manifests/${desc.digest}`, { accept: manifestAccept }, `manifest ${desc.digest}`);
        return readCapped(res, maxManifestBytes, `manifest ${desc.digest}`);
    }
    repoPath() {
        return this.client.repository;
    }
    async readBlob(desc, max) {
        if (desc.size > max)
            throw new ImageError(`blob ${desc.digest} declares ${desc.size} bytes, more than the ${max} vmstep accepts for it`);
        const res = await this.client.get(`${this.repoPath()}/blobs/${desc.digest}`, {}, `blob ${desc.digest}`);
        return readCapped(res, max, `blob ${desc.digest}`);
    }
    prefetchBlob(desc) {
        return this.download(desc).then(() => { });
    }
    download(desc) {
        let p = this.inflight.get(desc.digest);
        if (!p) {
            p = (async () => {
                if (await this.cache.has(desc.digest, desc.size))
                    return this.cache.path(desc.digest);
                const report = this.options.onProgress;
                let path;
                // A connection that breaks mid-blob is retried from the start; a digest mismatch is not.
                for (let attempt = 0; !path; attempt++) {
                    const res = await this.client.get(`${this.repoPath()}/blobs/${desc.digest}`, {}, `layer ${desc.digest}`);
                    if (!res.body)
                        throw new ImageError(`registry sent no content for layer ${desc.digest}`);
                    const body = external_node_stream_namespaceObject.Readable.fromWeb(res.body, { highWaterMark: 1 << 20 });
                    try {
                        path = await this.cache.put(desc.digest, desc.size, body, 'layer', report ? (bytes) => report({ kind: 'download', digest: desc.digest, bytes, total: desc.size, done: false }) : undefined);
                    }
                    catch (e) {
                        if (e instanceof ImageError || attempt >= (this.options.retries ?? 4) || this.options.signal?.aborted) {
                            throw e instanceof ImageError ? e : new ImageError(`downloading layer ${desc.digest} from ${this.client.registry} failed: ${e.message}`);
                        }
                    }
                }
                report?.({ kind: 'download', digest: desc.digest, bytes: desc.size, total: desc.size, done: true });
                return path;
            })();
            this.inflight.set(desc.digest, p);
            p.catch(() => this.inflight.delete(desc.digest));
        }
        return p;
    }
    async openBlob(desc) {
        const path = await this.download(desc);
        return { stream: (0,external_node_fs_namespaceObject.createReadStream)(path, { highWaterMark: 1 << 20 }), verified: true };
    }
}
async function registryImage(ref, options, cacheRoot) {
    const client = new RegistryClient(ref.registry, ref.repository, options);
    const store = new RegistryStore(client, new BlobCache(cacheRoot), options);
    const target = ref.digest ?? ref.tag ?? 'latest';
    const what = `manifest ${ref.repository}:${target}`.replace(':sha256:', '@sha256:');
    const res = await client.get(`${ref.repository}/manifests/${target}`, { accept: manifestAccept }, what);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const headerDigest = res.headers.get('docker-content-digest');
    const bytes = await readCapped(res, maxManifestBytes, what);
    const digest = sha256Digest(bytes);
    if (ref.digest)
        verifyBlob(bytes, ref.digest, undefined, 'manifest');
    else if (headerDigest && headerDigest.startsWith('sha256:') && headerDigest !== digest) {
        throw new ImageError(`${what}: registry ${ref.registry} says its digest is ${headerDigest} but the content has ${digest}; the registry or a proxy is corrupting it`);
    }
    return imageFromManifest(store, { bytes, digest, mediaType, what: `${what} (${ref.registry})` }, formatRegistryRef(ref));
}

;// CONCATENATED MODULE: external "node:zlib"
const external_node_zlib_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:zlib");
;// CONCATENATED MODULE: ./node_modules/fzstd/esm/index.mjs
// Some numerical data is initialized as -1 even when it doesn't need initialization to help the JIT infer types
// aliases for shorter compressed code (most minifers don't do this)
var ab = ArrayBuffer, u8 = Uint8Array, u16 = Uint16Array, i16 = Int16Array, u32 = (/* unused pure expression or super */ null && (Uint32Array)), i32 = Int32Array;
var slc = function (v, s, e) {
    if (u8.prototype.slice)
        return u8.prototype.slice.call(v, s, e);
    if (s == null || s < 0)
        s = 0;
    if (e == null || e > v.length)
        e = v.length;
    var n = new u8(e - s);
    n.set(v.subarray(s, e));
    return n;
};
var fill = function (v, n, s, e) {
    if (u8.prototype.fill)
        return u8.prototype.fill.call(v, n, s, e);
    if (s == null || s < 0)
        s = 0;
    if (e == null || e > v.length)
        e = v.length;
    for (; s < e; ++s)
        v[s] = n;
    return v;
};
var cpw = function (v, t, s, e) {
    if (u8.prototype.copyWithin)
        return u8.prototype.copyWithin.call(v, t, s, e);
    if (s == null || s < 0)
        s = 0;
    if (e == null || e > v.length)
        e = v.length;
    while (s < e) {
        v[t++] = v[s++];
    }
};
/**
 * Codes for errors generated within this library
 */
var ZstdErrorCode = {
    InvalidData: 0,
    WindowSizeTooLarge: 1,
    InvalidBlockType: 2,
    FSEAccuracyTooHigh: 3,
    DistanceTooFarBack: 4,
    UnexpectedEOF: 5
};
// error codes
var ec = [
    'invalid zstd data',
    'window size too large (>2046MB)',
    'invalid block type',
    'FSE accuracy too high',
    'match distance too far back',
    'unexpected EOF'
];
var err = function (ind, msg, nt) {
    var e = new Error(msg || ec[ind]);
    e.code = ind;
    if (Error.captureStackTrace)
        Error.captureStackTrace(e, err);
    if (!nt)
        throw e;
    return e;
};
var rb = function (d, b, n) {
    var i = 0, o = 0;
    for (; i < n; ++i)
        o |= d[b++] << (i << 3);
    return o;
};
var b4 = function (d, b) { return (d[b] | (d[b + 1] << 8) | (d[b + 2] << 16) | (d[b + 3] << 24)) >>> 0; };
// read Zstandard frame header
var rzfh = function (dat, w) {
    var n3 = dat[0] | (dat[1] << 8) | (dat[2] << 16);
    if (n3 == 0x2FB528 && dat[3] == 253) {
        // Zstandard
        var flg = dat[4];
        //    single segment       checksum             dict flag     frame content flag
        var ss = (flg >> 5) & 1, cc = (flg >> 2) & 1, df = flg & 3, fcf = flg >> 6;
        if (flg & 8)
            err(0);
        // byte
        var bt = 6 - ss;
        // dict bytes
        var db = df == 3 ? 4 : df;
        // dictionary id
        var di = rb(dat, bt, db);
        bt += db;
        // frame size bytes
        var fsb = fcf ? (1 << fcf) : ss;
        // frame source size
        var fss = rb(dat, bt, fsb) + ((fcf == 1) && 256);
        // window size
        var ws = fss;
        if (!ss) {
            // window descriptor
            var wb = 1 << (10 + (dat[5] >> 3));
            ws = wb + (wb >> 3) * (dat[5] & 7);
        }
        if (ws > 2145386496)
            err(1);
        var buf = new u8((w == 1 ? (fss || ws) : w ? 0 : ws) + 12);
        buf[0] = 1, buf[4] = 4, buf[8] = 8;
        return {
            b: bt + fsb,
            y: 0,
            l: 0,
            d: di,
            w: (w && w != 1) ? w : buf.subarray(12),
            e: ws,
            o: new i32(buf.buffer, 0, 3),
            u: fss,
            c: cc,
            m: Math.min(131072, ws)
        };
    }
    else if (((n3 >> 4) | (dat[3] << 20)) == 0x184D2A5) {
        // skippable
        return b4(dat, 4) + 8;
    }
    err(0);
};
// most significant bit for nonzero
var msb = function (val) {
    var bits = 0;
    for (; (1 << bits) <= val; ++bits)
        ;
    return bits - 1;
};
// read finite state entropy
var rfse = function (dat, bt, mal) {
    // table pos
    var tpos = (bt << 3) + 4;
    // accuracy log
    var al = (dat[bt] & 15) + 5;
    if (al > mal)
        err(3);
    // size
    var sz = 1 << al;
    // probabilities symbols  repeat   index   high threshold
    var probs = sz, sym = -1, re = -1, i = -1, ht = sz;
    // optimization: single allocation is much faster
    var buf = new ab(512 + (sz << 2));
    var freq = new i16(buf, 0, 256);
    // same view as freq
    var dstate = new u16(buf, 0, 256);
    var nstate = new u16(buf, 512, sz);
    var bb1 = 512 + (sz << 1);
    var syms = new u8(buf, bb1, sz);
    var nbits = new u8(buf, bb1 + sz);
    while (sym < 255 && probs > 0) {
        var bits = msb(probs + 1);
        var cbt = tpos >> 3;
        // mask
        var msk = (1 << (bits + 1)) - 1;
        var val = ((dat[cbt] | (dat[cbt + 1] << 8) | (dat[cbt + 2] << 16)) >> (tpos & 7)) & msk;
        // mask (1 fewer bit)
        var msk1fb = (1 << bits) - 1;
        // max small value
        var msv = msk - probs - 1;
        // small value
        var sval = val & msk1fb;
        if (sval < msv)
            tpos += bits, val = sval;
        else {
            tpos += bits + 1;
            if (val > msk1fb)
                val -= msv;
        }
        freq[++sym] = --val;
        if (val == -1) {
            probs += val;
            syms[--ht] = sym;
        }
        else
            probs -= val;
        if (!val) {
            do {
                // repeat byte
                var rbt = tpos >> 3;
                re = ((dat[rbt] | (dat[rbt + 1] << 8)) >> (tpos & 7)) & 3;
                tpos += 2;
                sym += re;
            } while (re == 3);
        }
    }
    if (sym > 255 || probs)
        err(0);
    var sympos = 0;
    // sym step (coprime with sz - formula from zstd source)
    var sstep = (sz >> 1) + (sz >> 3) + 3;
    // sym mask
    var smask = sz - 1;
    for (var s = 0; s <= sym; ++s) {
        var sf = freq[s];
        if (sf < 1) {
            dstate[s] = -sf;
            continue;
        }
        // This is split into two loops in zstd to avoid branching, but as JS is higher-level that is unnecessary
        for (i = 0; i < sf; ++i) {
            syms[sympos] = s;
            do {
                sympos = (sympos + sstep) & smask;
            } while (sympos >= ht);
        }
    }
    // After spreading symbols, should be zero again
    if (sympos)
        err(0);
    for (i = 0; i < sz; ++i) {
        // next state
        var ns = dstate[syms[i]]++;
        // num bits
        var nb = nbits[i] = al - msb(ns);
        nstate[i] = (ns << nb) - sz;
    }
    return [(tpos + 7) >> 3, {
            b: al,
            s: syms,
            n: nbits,
            t: nstate
        }];
};
// read huffman
var rhu = function (dat, bt) {
    //  index  weight count
    var i = 0, wc = -1;
    //    buffer             header byte
    var buf = new u8(292), hb = dat[bt];
    // huffman weights
    var hw = buf.subarray(0, 256);
    // rank count
    var rc = buf.subarray(256, 268);
    // rank index
    var ri = new u16(buf.buffer, 268);
    // NOTE: at this point bt is 1 less than expected
    if (hb < 128) {
        // end byte, fse decode table
        var _a = rfse(dat, bt + 1, 6), ebt = _a[0], fdt = _a[1];
        bt += hb;
        var epos = ebt << 3;
        // last byte
        var lb = dat[bt];
        if (!lb)
            err(0);
        //  state1   state2   state1 bits   state2 bits
        var st1 = 0, st2 = 0, btr1 = fdt.b, btr2 = btr1;
        // fse pos
        // pre-increment to account for original deficit of 1
        var fpos = (++bt << 3) - 8 + msb(lb);
        for (;;) {
            fpos -= btr1;
            if (fpos < epos)
                break;
            var cbt = fpos >> 3;
            st1 += ((dat[cbt] | (dat[cbt + 1] << 8)) >> (fpos & 7)) & ((1 << btr1) - 1);
            hw[++wc] = fdt.s[st1];
            fpos -= btr2;
            if (fpos < epos)
                break;
            cbt = fpos >> 3;
            st2 += ((dat[cbt] | (dat[cbt + 1] << 8)) >> (fpos & 7)) & ((1 << btr2) - 1);
            hw[++wc] = fdt.s[st2];
            btr1 = fdt.n[st1];
            st1 = fdt.t[st1];
            btr2 = fdt.n[st2];
            st2 = fdt.t[st2];
        }
        if (++wc > 255)
            err(0);
    }
    else {
        wc = hb - 127;
        for (; i < wc; i += 2) {
            var byte = dat[++bt];
            hw[i] = byte >> 4;
            hw[i + 1] = byte & 15;
        }
        ++bt;
    }
    // weight exponential sum
    var wes = 0;
    for (i = 0; i < wc; ++i) {
        var wt = hw[i];
        // bits must be at most 11, same as weight
        if (wt > 11)
            err(0);
        wes += wt && (1 << (wt - 1));
    }
    // max bits
    var mb = msb(wes) + 1;
    // table size
    var ts = 1 << mb;
    // remaining sum
    var rem = ts - wes;
    // must be power of 2
    if (rem & (rem - 1))
        err(0);
    hw[wc++] = msb(rem) + 1;
    for (i = 0; i < wc; ++i) {
        var wt = hw[i];
        ++rc[hw[i] = wt && (mb + 1 - wt)];
    }
    // huf buf
    var hbuf = new u8(ts << 1);
    //    symbols                      num bits
    var syms = hbuf.subarray(0, ts), nb = hbuf.subarray(ts);
    ri[mb] = 0;
    for (i = mb; i > 0; --i) {
        var pv = ri[i];
        fill(nb, i, pv, ri[i - 1] = pv + rc[i] * (1 << (mb - i)));
    }
    if (ri[0] != ts)
        err(0);
    for (i = 0; i < wc; ++i) {
        var bits = hw[i];
        if (bits) {
            var code = ri[bits];
            fill(syms, i, code, ri[bits] = code + (1 << (mb - bits)));
        }
    }
    return [bt, {
            n: nb,
            b: mb,
            s: syms
        }];
};
// Tables generated using this:
// https://gist.github.com/101arrowz/a979452d4355992cbf8f257cbffc9edd
// default literal length table
var dllt = /*#__PURE__*/ rfse(/*#__PURE__*/ new u8([
    81, 16, 99, 140, 49, 198, 24, 99, 12, 33, 196, 24, 99, 102, 102, 134, 70, 146, 4
]), 0, 6)[1];
// default match length table
var dmlt = /*#__PURE__*/ rfse(/*#__PURE__*/ new u8([
    33, 20, 196, 24, 99, 140, 33, 132, 16, 66, 8, 33, 132, 16, 66, 8, 33, 68, 68, 68, 68, 68, 68, 68, 68, 36, 9
]), 0, 6)[1];
// default offset code table
var doct = /*#__PURE__ */ rfse(/*#__PURE__*/ new u8([
    32, 132, 16, 66, 102, 70, 68, 68, 68, 68, 36, 73, 2
]), 0, 5)[1];
// bits to baseline
var b2bl = function (b, s) {
    var len = b.length, bl = new i32(len);
    for (var i = 0; i < len; ++i) {
        bl[i] = s;
        s += 1 << b[i];
    }
    return bl;
};
// literal length bits
var llb = /*#__PURE__ */ new u8(( /*#__PURE__ */new i32([
    0, 0, 0, 0, 16843009, 50528770, 134678020, 202050057, 269422093
])).buffer, 0, 36);
// literal length baseline
var llbl = /*#__PURE__ */ b2bl(llb, 0);
// match length bits
var mlb = /*#__PURE__ */ new u8(( /*#__PURE__ */new i32([
    0, 0, 0, 0, 0, 0, 0, 0, 16843009, 50528770, 117769220, 185207048, 252579084, 16
])).buffer, 0, 53);
// match length baseline
var mlbl = /*#__PURE__ */ b2bl(mlb, 3);
// decode huffman stream
var dhu = function (dat, out, hu) {
    var len = dat.length, ss = out.length, lb = dat[len - 1], msk = (1 << hu.b) - 1, eb = -hu.b;
    if (!lb)
        err(0);
    var st = 0, btr = hu.b, pos = (len << 3) - 8 + msb(lb) - btr, i = -1;
    for (; pos > eb && i < ss;) {
        var cbt = pos >> 3;
        var val = (dat[cbt] | (dat[cbt + 1] << 8) | (dat[cbt + 2] << 16)) >> (pos & 7);
        st = ((st << btr) | val) & msk;
        out[++i] = hu.s[st];
        pos -= (btr = hu.n[st]);
    }
    if (pos != eb || i + 1 != ss)
        err(0);
};
// decode huffman stream 4x
// TODO: use workers to parallelize
var dhu4 = function (dat, out, hu) {
    var bt = 6;
    var ss = out.length, sz1 = (ss + 3) >> 2, sz2 = sz1 << 1, sz3 = sz1 + sz2;
    dhu(dat.subarray(bt, bt += dat[0] | (dat[1] << 8)), out.subarray(0, sz1), hu);
    dhu(dat.subarray(bt, bt += dat[2] | (dat[3] << 8)), out.subarray(sz1, sz2), hu);
    dhu(dat.subarray(bt, bt += dat[4] | (dat[5] << 8)), out.subarray(sz2, sz3), hu);
    dhu(dat.subarray(bt), out.subarray(sz3), hu);
};
// read Zstandard block
var rzb = function (dat, st, out) {
    var _a;
    var bt = st.b;
    //    byte 0        block type
    var b0 = dat[bt], btype = (b0 >> 1) & 3;
    st.l = b0 & 1;
    var sz = (b0 >> 3) | (dat[bt + 1] << 5) | (dat[bt + 2] << 13);
    // end byte for block
    var ebt = (bt += 3) + sz;
    if (btype == 1) {
        if (bt >= dat.length)
            return;
        st.b = bt + 1;
        if (out) {
            fill(out, dat[bt], st.y, st.y += sz);
            return out;
        }
        return fill(new u8(sz), dat[bt]);
    }
    if (ebt > dat.length)
        return;
    if (btype == 0) {
        st.b = ebt;
        if (out) {
            out.set(dat.subarray(bt, ebt), st.y);
            st.y += sz;
            return out;
        }
        return slc(dat, bt, ebt);
    }
    if (btype == 2) {
        //    byte 3        lit btype     size format
        var b3 = dat[bt], lbt = b3 & 3, sf = (b3 >> 2) & 3;
        // lit src size  lit cmp sz 4 streams
        var lss = b3 >> 4, lcs = 0, s4 = 0;
        if (lbt < 2) {
            if (sf & 1)
                lss |= (dat[++bt] << 4) | ((sf & 2) && (dat[++bt] << 12));
            else
                lss = b3 >> 3;
        }
        else {
            s4 = sf;
            if (sf < 2)
                lss |= ((dat[++bt] & 63) << 4), lcs = (dat[bt] >> 6) | (dat[++bt] << 2);
            else if (sf == 2)
                lss |= (dat[++bt] << 4) | ((dat[++bt] & 3) << 12), lcs = (dat[bt] >> 2) | (dat[++bt] << 6);
            else
                lss |= (dat[++bt] << 4) | ((dat[++bt] & 63) << 12), lcs = (dat[bt] >> 6) | (dat[++bt] << 2) | (dat[++bt] << 10);
        }
        ++bt;
        // add literals to end - can never overlap with backreferences because unused literals always appended
        var buf = out ? out.subarray(st.y, st.y + st.m) : new u8(st.m);
        // starting point for literals
        var spl = buf.length - lss;
        if (lbt == 0)
            buf.set(dat.subarray(bt, bt += lss), spl);
        else if (lbt == 1)
            fill(buf, dat[bt++], spl);
        else {
            // huffman table
            var hu = st.h;
            if (lbt == 2) {
                var hud = rhu(dat, bt);
                // subtract description length
                lcs += bt - (bt = hud[0]);
                st.h = hu = hud[1];
            }
            else if (!hu)
                err(0);
            (s4 ? dhu4 : dhu)(dat.subarray(bt, bt += lcs), buf.subarray(spl), hu);
        }
        // num sequences
        var ns = dat[bt++];
        if (ns) {
            if (ns == 255)
                ns = (dat[bt++] | (dat[bt++] << 8)) + 0x7F00;
            else if (ns > 127)
                ns = ((ns - 128) << 8) | dat[bt++];
            // symbol compression modes
            var scm = dat[bt++];
            if (scm & 3)
                err(0);
            var dts = [dmlt, doct, dllt];
            for (var i = 2; i > -1; --i) {
                var md = (scm >> ((i << 1) + 2)) & 3;
                if (md == 1) {
                    // rle buf
                    var rbuf = new u8([0, 0, dat[bt++]]);
                    dts[i] = {
                        s: rbuf.subarray(2, 3),
                        n: rbuf.subarray(0, 1),
                        t: new u16(rbuf.buffer, 0, 1),
                        b: 0
                    };
                }
                else if (md == 2) {
                    // accuracy log 8 for offsets, 9 for others
                    _a = rfse(dat, bt, 9 - (i & 1)), bt = _a[0], dts[i] = _a[1];
                }
                else if (md == 3) {
                    if (!st.t)
                        err(0);
                    dts[i] = st.t[i];
                }
            }
            var _b = st.t = dts, mlt = _b[0], oct = _b[1], llt = _b[2];
            var lb = dat[ebt - 1];
            if (!lb)
                err(0);
            var spos = (ebt << 3) - 8 + msb(lb) - llt.b, cbt = spos >> 3, oubt = 0;
            var lst = ((dat[cbt] | (dat[cbt + 1] << 8)) >> (spos & 7)) & ((1 << llt.b) - 1);
            cbt = (spos -= oct.b) >> 3;
            var ost = ((dat[cbt] | (dat[cbt + 1] << 8)) >> (spos & 7)) & ((1 << oct.b) - 1);
            cbt = (spos -= mlt.b) >> 3;
            var mst = ((dat[cbt] | (dat[cbt + 1] << 8)) >> (spos & 7)) & ((1 << mlt.b) - 1);
            for (++ns; --ns;) {
                var llc = llt.s[lst];
                var lbtr = llt.n[lst];
                var mlc = mlt.s[mst];
                var mbtr = mlt.n[mst];
                var ofc = oct.s[ost];
                var obtr = oct.n[ost];
                cbt = (spos -= ofc) >> 3;
                var ofp = 1 << ofc;
                var off = ofp + (((dat[cbt] | (dat[cbt + 1] << 8) | (dat[cbt + 2] << 16) | (dat[cbt + 3] << 24)) >>> (spos & 7)) & (ofp - 1));
                cbt = (spos -= mlb[mlc]) >> 3;
                var ml = mlbl[mlc] + (((dat[cbt] | (dat[cbt + 1] << 8) | (dat[cbt + 2] << 16)) >> (spos & 7)) & ((1 << mlb[mlc]) - 1));
                cbt = (spos -= llb[llc]) >> 3;
                var ll = llbl[llc] + (((dat[cbt] | (dat[cbt + 1] << 8) | (dat[cbt + 2] << 16)) >> (spos & 7)) & ((1 << llb[llc]) - 1));
                cbt = (spos -= lbtr) >> 3;
                lst = llt.t[lst] + (((dat[cbt] | (dat[cbt + 1] << 8)) >> (spos & 7)) & ((1 << lbtr) - 1));
                cbt = (spos -= mbtr) >> 3;
                mst = mlt.t[mst] + (((dat[cbt] | (dat[cbt + 1] << 8)) >> (spos & 7)) & ((1 << mbtr) - 1));
                cbt = (spos -= obtr) >> 3;
                ost = oct.t[ost] + (((dat[cbt] | (dat[cbt + 1] << 8)) >> (spos & 7)) & ((1 << obtr) - 1));
                if (off > 3) {
                    st.o[2] = st.o[1];
                    st.o[1] = st.o[0];
                    st.o[0] = off -= 3;
                }
                else {
                    var idx = off - (ll != 0);
                    if (idx) {
                        off = idx == 3 ? st.o[0] - 1 : st.o[idx];
                        if (idx > 1)
                            st.o[2] = st.o[1];
                        st.o[1] = st.o[0];
                        st.o[0] = off;
                    }
                    else
                        off = st.o[0];
                }
                for (var i = 0; i < ll; ++i) {
                    buf[oubt + i] = buf[spl + i];
                }
                oubt += ll, spl += ll;
                var stin = oubt - off;
                if (stin < 0) {
                    var len = -stin;
                    var bs = st.e + stin;
                    if (len > ml)
                        len = ml;
                    for (var i = 0; i < len; ++i) {
                        buf[oubt + i] = st.w[bs + i];
                    }
                    oubt += len, ml -= len, stin = 0;
                }
                for (var i = 0; i < ml; ++i) {
                    buf[oubt + i] = buf[stin + i];
                }
                oubt += ml;
            }
            if (oubt != spl) {
                while (spl < buf.length) {
                    buf[oubt++] = buf[spl++];
                }
            }
            else
                oubt = buf.length;
            if (out)
                st.y += oubt;
            else
                buf = slc(buf, 0, oubt);
        }
        else if (out) {
            st.y += lss;
            if (spl) {
                for (var i = 0; i < lss; ++i) {
                    buf[i] = buf[spl + i];
                }
            }
        }
        else if (spl)
            buf = slc(buf, spl);
        st.b = ebt;
        return buf;
    }
    err(2);
};
// concat
var cct = function (bufs, ol) {
    if (bufs.length == 1)
        return bufs[0];
    var buf = new u8(ol);
    for (var i = 0, b = 0; i < bufs.length; ++i) {
        var chk = bufs[i];
        buf.set(chk, b);
        b += chk.length;
    }
    return buf;
};
/**
 * Decompresses Zstandard data
 * @param dat The input data
 * @param buf The output buffer. If unspecified, the function will allocate
 *            exactly enough memory to fit the decompressed data. If your
 *            data has multiple frames and you know the output size, specifying
 *            it will yield better performance.
 * @returns The decompressed data
 */
function decompress(dat, buf) {
    var bufs = [], nb = +!buf;
    var bt = 0, ol = 0;
    for (; dat.length;) {
        var st = rzfh(dat, nb || buf);
        if (typeof st == 'object') {
            if (nb) {
                buf = null;
                if (st.w.length == st.u) {
                    bufs.push(buf = st.w);
                    ol += st.u;
                }
            }
            else {
                bufs.push(buf);
                st.e = 0;
            }
            for (; !st.l;) {
                var blk = rzb(dat, st, buf);
                if (!blk)
                    err(5);
                if (buf)
                    st.e = st.y;
                else {
                    bufs.push(blk);
                    ol += blk.length;
                    cpw(st.w, 0, blk.length);
                    st.w.set(blk, st.w.length - blk.length);
                }
            }
            bt = st.b + (st.c * 4);
        }
        else
            bt = st;
        dat = dat.subarray(bt);
    }
    return cct(bufs, ol);
}
/**
 * Decompressor for Zstandard streamed data
 */
var Decompress = /*#__PURE__*/ (function () {
    /**
     * Creates a Zstandard decompressor
     * @param ondata The handler for stream data
     */
    function Decompress(ondata) {
        this.ondata = ondata;
        this.c = [];
        this.l = 0;
        this.z = 0;
    }
    /**
     * Pushes data to be decompressed
     * @param chunk The chunk of data to push
     * @param final Whether or not this is the last chunk in the stream
     */
    Decompress.prototype.push = function (chunk, final) {
        if (typeof this.s == 'number') {
            var sub = Math.min(chunk.length, this.s);
            chunk = chunk.subarray(sub);
            this.s -= sub;
        }
        var sl = chunk.length;
        var ncs = sl + this.l;
        if (!this.s) {
            if (final) {
                if (!ncs) {
                    this.ondata(new u8(0), true);
                    return;
                }
                // min for frame + one block
                if (ncs < 5)
                    err(5);
            }
            else if (ncs < 18) {
                this.c.push(chunk);
                this.l = ncs;
                return;
            }
            if (this.l) {
                this.c.push(chunk);
                chunk = cct(this.c, ncs);
                this.c = [];
                this.l = 0;
            }
            if (typeof (this.s = rzfh(chunk)) == 'number')
                return this.push(chunk, final);
        }
        if (typeof this.s != 'number') {
            if (ncs < (this.z || 3)) {
                if (final)
                    err(5);
                this.c.push(chunk);
                this.l = ncs;
                return;
            }
            if (this.l) {
                this.c.push(chunk);
                chunk = cct(this.c, ncs);
                this.c = [];
                this.l = 0;
            }
            if (!this.z && ncs < (this.z = (chunk[this.s.b] & 2) ? 4 : 3 + ((chunk[this.s.b] >> 3) | (chunk[this.s.b + 1] << 5) | (chunk[this.s.b + 2] << 13)))) {
                if (final)
                    err(5);
                this.c.push(chunk);
                this.l = ncs;
                return;
            }
            else
                this.z = 0;
            for (;;) {
                var blk = rzb(chunk, this.s);
                if (!blk) {
                    if (final)
                        err(5);
                    var adc = chunk.subarray(this.s.b);
                    this.s.b = 0;
                    this.c.push(adc), this.l += adc.length;
                    return;
                }
                else {
                    this.ondata(blk, false);
                    cpw(this.s.w, 0, blk.length);
                    this.s.w.set(blk, this.s.w.length - blk.length);
                }
                if (this.s.l) {
                    var rest = chunk.subarray(this.s.b);
                    this.s = this.s.c * 4;
                    this.push(rest, final);
                    return;
                }
            }
        }
        else if (final)
            err(5);
    };
    return Decompress;
}());


;// CONCATENATED MODULE: ./src/image/decompress.ts
// Layer bytes -> tar stream. The compression is taken from the bytes' magic
// number, not the media type, because registries in the wild mislabel it.
// zstd: Node's zlib has it from Node 22.15/23.8; on Node 20 the pure-JS
// fzstd decoder (no native build, bundles with ncc) does the work.



const zlibZstd = external_node_zlib_namespaceObject.createZstdDecompress;
function detectCompression(head) {
    if (head[0] === 0x1f && head[1] === 0x8b)
        return 'gzip';
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
        return 'zstd';
    return 'none';
}
class FzstdTransform extends external_node_stream_namespaceObject.Transform {
    d = new Decompress((chunk) => {
        this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    _transform(chunk, _e, cb) {
        try {
            this.d.push(chunk);
            cb();
        }
        catch (e) {
            cb(new Error(`zstd data is corrupt: ${e.message}`));
        }
    }
    _flush(cb) {
        try {
            this.d.push(new Uint8Array(0), true);
            cb();
        }
        catch (e) {
            cb(new Error(`zstd data is corrupt or truncated: ${e.message}`));
        }
    }
}
function zstdDecompressor() {
    return zlibZstd ? zlibZstd() : new FzstdTransform();
}
/** Returns the uncompressed tar bytes of a layer stream, whatever its compression. */
async function decompressedLayer(source) {
    const it = source[Symbol.asyncIterator]();
    // Peek at the first chunk for the magic number, then put it back in front.
    const first = await it.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    const compression = detectCompression(head);
    const rest = external_node_stream_namespaceObject.Readable.from((async function* () {
        if (head.length)
            yield head;
        for (;;) {
            const r = await it.next();
            if (r.done)
                return;
            yield r.value;
        }
    })(), { objectMode: false, highWaterMark: 1 << 20 });
    if (compression === 'none')
        return { stream: rest, compression };
    const d = compression === 'gzip' ? external_node_zlib_namespaceObject.createGunzip({ chunkSize: 256 << 10 }) : zstdDecompressor();
    rest.on('error', (e) => d.destroy(e));
    return { stream: rest.pipe(d), compression };
}

;// CONCATENATED MODULE: ./src/image/index.ts
// Image sources: one entry point, one Image shape (see types.ts).














/**
 * Resolves an image reference (oci:, oci-archive:, docker-archive:,
 * docker-daemon:, docker:// or a bare registry reference) to its linux/amd64
 * image: manifest and config read and verified, layers ready to open.
 */
/**
 * Checks what can be checked at once, without reading the image: the
 * reference parses, and a local one (oci:, oci-archive:, docker-archive:)
 * names something that exists. So a mistyped path is reported as such even
 * on a host that could not run the image anyway.
 */
function checkImageReference(ref) {
    const parsed = parseReference(ref);
    if (parsed.transport !== 'oci' && parsed.transport !== 'oci-archive' && parsed.transport !== 'docker-archive')
        return;
    const path = (0,external_node_path_namespaceObject.resolve)(parsed.path);
    const st = (0,external_node_fs_namespaceObject.statSync)(path, { throwIfNoEntry: false });
    const wantDirectory = parsed.transport === 'oci';
    if (st && (wantDirectory ? st.isDirectory() : st.isFile()))
        return;
    const what = wantDirectory ? 'an OCI layout directory' : parsed.transport === 'oci-archive' ? 'an OCI archive (a tar file)' : 'a docker save archive (a tar file)';
    throw new ImageError(`image ${ref}: ${path} ${st ? `is not ${what}` : 'does not exist'}; ${parsed.transport}: names ${what}: check the path`);
}
async function resolveImage(ref, options = {}) {
    const parsed = parseReference(ref);
    const cacheRoot = options.cacheDir ?? defaultCacheDir();
    const shown = formatReference(parsed);
    switch (parsed.transport) {
        case 'oci':
            return ociLayoutImage((0,external_node_path_namespaceObject.resolve)(parsed.path), parsed.tag, shown);
        case 'oci-archive':
            return ociArchiveImage((0,external_node_path_namespaceObject.resolve)(parsed.path), parsed.tag, shown);
        case 'docker-archive':
            return dockerArchiveImage((0,external_node_path_namespaceObject.resolve)(parsed.path), parsed.name, shown);
        case 'docker-daemon':
            return dockerDaemonImage(parsed.name, shown, cacheRoot, options.dockerCommand);
        case 'docker':
            return registryImage(parsed, options, cacheRoot);
    }
}

;// CONCATENATED MODULE: ./src/rootfs/ext4-format.ts
// ext4 on-disk structures vmstep writes, encoded in one place (layouts from
// the kernel's fs/ext4/ext4.h, ext4_extents.h and xattr.h). The image is
// laid out by ext4-writer.ts; this file only turns values into bytes.
//
// Features used: filetype, extents, flex_bg (so bitmaps and inode tables may
// sit anywhere: vmstep puts them after the data), sparse_super2 with no
// backup superblocks (nothing else is placed in the data area), large_file,
// dir_nlink, extra_isize, ext_attr. No journal: every run gets a throw-away
// copy, so crash consistency buys nothing and a journal costs space and time.
const BLOCK_SIZE = 4096;
const INODE_SIZE = 256;
const BLOCKS_PER_GROUP = 32768;
const EXTRA_ISIZE = 32;
const ROOT_INO = 2;
const LOST_FOUND_INO = 11;
const FIRST_INO = 11;
/** Longest fast symlink (target stored in the inode's i_block). */
const FAST_SYMLINK_MAX = 59;
const MAX_EXTENT_LEN = 32768;
const COMPAT_EXT_ATTR = 0x8;
const COMPAT_SPARSE_SUPER2 = 0x200;
const INCOMPAT_FILETYPE = 0x2;
const INCOMPAT_EXTENTS = 0x40;
const INCOMPAT_FLEX_BG = 0x200;
const RO_COMPAT_LARGE_FILE = 0x2;
const RO_COMPAT_DIR_NLINK = 0x20;
const RO_COMPAT_EXTRA_ISIZE = 0x40;
const EXTENTS_FL = 0x80000;
const S_IF = { file: 0x8000, dir: 0x4000, symlink: 0xa000, char: 0x2000, block: 0x6000, fifo: 0x1000 };
const DIRENT_TYPE = { file: 1, dir: 2, char: 3, block: 4, fifo: 5, symlink: 7 };
/** The 1024-byte superblock (written at byte 1024). */
function encodeSuperblock(f) {
    const b = Buffer.alloc(1024);
    b.writeUInt32LE(f.inodesCount, 0x0);
    b.writeUInt32LE(f.blocksCount, 0x4);
    b.writeUInt32LE(0, 0x8); // no reserved blocks: the guest's root owns the whole disk anyway
    b.writeUInt32LE(f.freeBlocks, 0xc);
    b.writeUInt32LE(f.freeInodes, 0x10);
    b.writeUInt32LE(0, 0x14); // first data block (0 for 4 KiB blocks)
    b.writeUInt32LE(2, 0x18); // log2(block size) - 10
    b.writeUInt32LE(2, 0x1c);
    b.writeUInt32LE(BLOCKS_PER_GROUP, 0x20);
    b.writeUInt32LE(BLOCKS_PER_GROUP, 0x24);
    b.writeUInt32LE(f.inodesPerGroup, 0x28);
    b.writeUInt32LE(0, 0x2c); // mtime
    b.writeUInt32LE(f.time, 0x30); // wtime
    b.writeUInt16LE(0, 0x34);
    b.writeUInt16LE(0xffff, 0x36); // max mount count: -1, no forced checks
    b.writeUInt16LE(0xef53, 0x38);
    b.writeUInt16LE(1, 0x3a); // state: clean
    b.writeUInt16LE(1, 0x3c); // errors: continue
    b.writeUInt32LE(f.time, 0x40); // lastcheck
    b.writeUInt32LE(0, 0x48); // creator OS: Linux
    b.writeUInt32LE(1, 0x4c); // dynamic revision
    b.writeUInt32LE(FIRST_INO, 0x54);
    b.writeUInt16LE(INODE_SIZE, 0x58);
    b.writeUInt32LE(COMPAT_EXT_ATTR | COMPAT_SPARSE_SUPER2, 0x5c);
    b.writeUInt32LE(INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_FLEX_BG, 0x60);
    b.writeUInt32LE(RO_COMPAT_LARGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE, 0x64);
    f.uuid.copy(b, 0x68, 0, 16);
    b.write(f.volumeName.slice(0, 16), 0x78, 'latin1');
    f.uuid.copy(b, 0xec, 0, 16); // directory hash seed
    b.writeUInt8(1, 0xfc); // default hash: half_md4
    b.writeUInt32LE(f.time, 0x108); // mkfs time
    b.writeUInt16LE(EXTRA_ISIZE, 0x15c); // min extra isize
    b.writeUInt16LE(EXTRA_ISIZE, 0x15e); // want extra isize
    b.writeUInt32LE(0x1, 0x160); // flags: signed directory hash (x86)
    b.writeUInt8(4, 0x174); // log2 groups per flex group
    // s_backup_bgs (0x24c) stay 0: sparse_super2 with no backup superblocks.
    return b;
}
function encodeGroupDesc(g, out, off) {
    out.writeUInt32LE(g.blockBitmap, off);
    out.writeUInt32LE(g.inodeBitmap, off + 4);
    out.writeUInt32LE(g.inodeTable, off + 8);
    out.writeUInt16LE(g.freeBlocks, off + 12);
    out.writeUInt16LE(g.freeInodes, off + 14);
    out.writeUInt16LE(g.usedDirs, off + 16);
}
/** ext4 time: 32 low bits of seconds in the base field, epoch bits and nanoseconds in the extra field. */
function encodeTime(sec, nsec) {
    const base = ((sec % 2 ** 32) + 2 ** 32) % 2 ** 32;
    const signedBase = base >= 2 ** 31 ? base - 2 ** 32 : base;
    const epoch = Math.round((sec - signedBase) / 2 ** 32) & 3;
    return { base, extra: ((nsec << 2) | epoch) >>> 0 };
}
/** Extent tree root or node header + entries. */
function encodeExtentHeader(out, off, entries, max, depth) {
    out.writeUInt16LE(0xf30a, off);
    out.writeUInt16LE(entries, off + 2);
    out.writeUInt16LE(max, off + 4);
    out.writeUInt16LE(depth, off + 6);
    out.writeUInt32LE(0, off + 8);
}
function encodeExtent(out, off, logical, len, start) {
    out.writeUInt32LE(logical, off);
    out.writeUInt16LE(len, off + 4);
    out.writeUInt16LE(Math.floor(start / 2 ** 32), off + 6);
    out.writeUInt32LE(start % 2 ** 32, off + 8);
}
function encodeExtentIndex(out, off, logical, leaf) {
    out.writeUInt32LE(logical, off);
    out.writeUInt32LE(leaf % 2 ** 32, off + 4);
    out.writeUInt16LE(Math.floor(leaf / 2 ** 32), off + 8);
    out.writeUInt16LE(0, off + 10);
}
/** Size of a directory entry for a name of `nameLen` bytes. */
function direntSize(nameLen) {
    return (8 + nameLen + 3) & ~3;
}
function encodeDirent(out, off, ino, recLen, name, type) {
    out.writeUInt32LE(ino, off);
    out.writeUInt16LE(recLen, off + 4);
    out.writeUInt8(name.length, off + 6);
    out.writeUInt8(type, off + 7);
    name.copy(out, off + 8);
}
// Extended attributes: names are stored as an index for their prefix plus the rest.
const xattrPrefixes = [
    ['user.', 1],
    ['trusted.', 4],
    ['security.', 6],
];
/** Maps "security.capability" to (6, "capability"); undefined for namespaces ext4 stores differently (system.*). */
function splitXattrName(full) {
    for (const [prefix, index] of xattrPrefixes) {
        if (full.startsWith(prefix) && full.length > prefix.length)
            return { index, name: Buffer.from(full.slice(prefix.length), 'utf8') };
    }
    return undefined;
}
/** The kernel looks entries up in sorted order in xattr blocks: by index, name length, then name. */
function sortXattrs(list) {
    return list.sort((a, b) => a.index - b.index || a.name.length - b.name.length || Buffer.compare(a.name, b.name));
}
function xattrEntryHash(e, valueInBlock) {
    let h = 0;
    for (const c of e.name) {
        const sc = (c << 24) >> 24; // the kernel hashes names as signed chars
        h = ((h << 5) ^ (h >>> 27) ^ sc) >>> 0;
    }
    if (valueInBlock && e.value.length) {
        const padded = Buffer.alloc((e.value.length + 3) & ~3);
        e.value.copy(padded);
        for (let i = 0; i < padded.length; i += 4)
            h = ((h << 16) ^ (h >>> 16) ^ padded.readUInt32LE(i)) >>> 0;
    }
    return h;
}
function entrySize(e) {
    return (16 + e.name.length + 3) & ~3;
}
function valueSize(e) {
    return (e.value.length + 3) & ~3;
}
/** Bytes needed in the inode body (after i_extra_isize) for these xattrs, or Infinity when they do not fit. */
function inodeXattrSpace(list) {
    let n = 4 + 4; // magic + terminating zero entry
    for (const e of list)
        n += entrySize(e) + valueSize(e);
    return n;
}
const INODE_XATTR_ROOM = INODE_SIZE - 128 - EXTRA_ISIZE;
/** Writes xattrs into the inode's extra space (offset 128 + EXTRA_ISIZE of the inode). */
function encodeInodeXattrs(list, out, off) {
    const room = INODE_XATTR_ROOM;
    out.writeUInt32LE(0xea020000, off);
    const base = off + 4; // value offsets count from the first entry
    let ep = base;
    let vend = off + room;
    for (const e of list) {
        vend -= valueSize(e);
        out.writeUInt8(e.name.length, ep);
        out.writeUInt8(e.index, ep + 1);
        out.writeUInt16LE(vend - base, ep + 2);
        out.writeUInt32LE(0, ep + 4);
        out.writeUInt32LE(e.value.length, ep + 8);
        out.writeUInt32LE(0, ep + 12); // in-inode entries carry no hash
        e.name.copy(out, ep + 16);
        e.value.copy(out, vend);
        ep += entrySize(e);
    }
}
/** Bytes an xattr block needs for these entries. */
function blockXattrSpace(list) {
    return inodeXattrSpace(list) + 32;
}
/** A whole external xattr block (one per inode, reference count 1). */
function encodeXattrBlock(list) {
    const b = Buffer.alloc(BLOCK_SIZE);
    b.writeUInt32LE(0xea020000, 0);
    b.writeUInt32LE(1, 4); // refcount
    b.writeUInt32LE(1, 8); // blocks
    let ep = 32;
    let vend = BLOCK_SIZE;
    let blockHash = 0;
    for (const e of list) {
        vend -= valueSize(e);
        const h = xattrEntryHash(e, true);
        b.writeUInt8(e.name.length, ep);
        b.writeUInt8(e.index, ep + 1);
        b.writeUInt16LE(vend, ep + 2);
        b.writeUInt32LE(0, ep + 4);
        b.writeUInt32LE(e.value.length, ep + 8);
        b.writeUInt32LE(h, ep + 12);
        e.name.copy(b, ep + 16);
        e.value.copy(b, vend);
        ep += entrySize(e);
        blockHash = ((blockHash << 16) ^ (blockHash >>> 16) ^ h) >>> 0;
    }
    b.writeUInt32LE(blockHash, 12);
    return b;
}

;// CONCATENATED MODULE: ./src/rootfs/tree.ts
// The image's filesystem as it builds up, held in memory: layers are applied
// here, in order, with OCI whiteouts and opaque directories, and every entry
// is checked before it may change anything. Nothing here touches the host
// filesystem; file bytes live in the ext4 image being written, and each
// inode only records where.
class RootfsError extends Error {
    name = 'RootfsError';
}
const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';
function newInode(kind, init = {}) {
    return { kind, mode: 0o755, uid: 0, gid: 0, mtime: 0, mtimeNsec: 0, xattrs: new Map(), size: 0, firstBlock: 0, devmajor: 0, devminor: 0, ino: 0, nlink: 0, ...init };
}
/** Shows a latin1-held name as the UTF-8 it most likely is, for messages. */
function showName(s) {
    return Buffer.from(s, 'latin1').toString('utf8');
}
class FsTree {
    root = { inode: newInode('dir'), children: new Map(), touched: -1 };
    where = '';
    layer = -1;
    /** Names the layer being applied, for errors ("layer 2 (sha256:...)"). */
    beginLayer(index, label) {
        this.layer = index;
        this.where = label;
    }
    fail(entry, why) {
        throw new RootfsError(`${this.where}: entry "${showName(entry)}": ${why}; the image is malformed or hostile, so nothing was built`);
    }
    /** Splits an archive path into checked components ("." and empty parts dropped). */
    components(path, entry = path) {
        if (path.startsWith('/'))
            this.fail(entry, 'absolute path');
        const parts = [];
        for (const p of path.split('/')) {
            if (p === '' || p === '.')
                continue;
            if (p === '..')
                this.fail(entry, 'path contains ".." (would escape the root filesystem)');
            if (Buffer.byteLength(p, 'latin1') > 255)
                this.fail(entry, 'a path component is longer than 255 bytes');
            parts.push(p);
        }
        return parts;
    }
    /**
     * Walks to the directory holding the last component, creating missing
     * parents (layers often omit them) and refusing any parent that is a
     * symlink or not a directory.
     */
    parentOf(parts, entry, create) {
        let cur = this.root;
        cur.touched = Math.max(cur.touched, this.layer);
        for (let i = 0; i < parts.length - 1; i++) {
            const name = parts[i];
            let next = cur.children.get(name);
            if (!next) {
                if (!create)
                    return undefined;
                next = { inode: newInode('dir'), children: new Map(), touched: this.layer };
                cur.children.set(name, next);
            }
            else if (next.inode.kind === 'symlink') {
                this.fail(entry, `its parent "${showName(parts.slice(0, i + 1).join('/'))}" is a symbolic link (entries under symlinked parents could be written outside the root filesystem)`);
            }
            else if (next.inode.kind !== 'dir') {
                this.fail(entry, `its parent "${showName(parts.slice(0, i + 1).join('/'))}" is not a directory`);
            }
            if (create)
                next.touched = Math.max(next.touched, this.layer);
            cur = next;
        }
        return cur;
    }
    /** Looks a path up without following symlinks in any component. */
    lookup(parts) {
        let cur = this.root;
        for (const p of parts) {
            if (!cur?.children)
                return undefined;
            cur = cur.children.get(p);
        }
        return cur;
    }
    /** Applies a whiteout entry; returns true when `path` was one. */
    applyWhiteout(path) {
        const parts = this.components(path);
        const base = parts[parts.length - 1];
        if (!base?.startsWith(whiteoutPrefix))
            return false;
        const dir = this.parentOf(parts, path, false);
        if (base === opaqueMarker) {
            if (dir)
                this.pruneOlder(dir);
            return true;
        }
        if (base.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`))
            return true; // other AUFS metadata (.wh..wh.plnk): nothing to apply
        const target = base.slice(whiteoutPrefix.length);
        if (target === '' || target === '.' || target === '..')
            this.fail(path, 'whiteout names no file or escapes its directory');
        const victim = dir?.children?.get(target);
        // A whiteout hides what lower layers had; a same-layer entry of that name stays.
        if (victim && victim.touched < this.layer)
            dir.children.delete(target);
        return true;
    }
    /** Opaque directory: hide everything lower layers put under it. */
    pruneOlder(dir) {
        for (const [name, child] of dir.children ?? []) {
            if (child.touched < this.layer)
                dir.children.delete(name);
            else if (child.children)
                this.pruneOlder(child);
        }
    }
    /** Adds or replaces the node at `path` with `inode` (directories keep their children). */
    put(path, inode) {
        const parts = this.components(path);
        if (parts.length === 0) {
            if (inode.kind !== 'dir')
                this.fail(path, 'the root can only be a directory');
            this.root.inode = { ...inode, kind: 'dir' };
            this.root.touched = this.layer;
            return;
        }
        const dir = this.parentOf(parts, path, true);
        const name = parts[parts.length - 1];
        const old = dir.children.get(name);
        if (inode.kind === 'dir' && old?.children) {
            old.inode = inode;
            old.touched = this.layer;
            return;
        }
        dir.children.set(name, { inode, children: inode.kind === 'dir' ? new Map() : undefined, touched: this.layer });
    }
    /** A hard link: a second name for an inode already in the tree. */
    link(path, target) {
        if (target.startsWith('/'))
            this.fail(path, `hard link to absolute path "${showName(target)}" (outside the root filesystem)`);
        const tparts = this.components(target, path);
        // The target's parents must be plain directories, as for any entry.
        const tdir = this.parentOf(tparts, path, false);
        const t = tparts.length ? tdir?.children?.get(tparts[tparts.length - 1]) : this.root;
        if (!t)
            this.fail(path, `hard link to "${showName(target)}", which no earlier entry created`);
        if (t.inode.kind === 'dir')
            this.fail(path, `hard link to directory "${showName(target)}"`);
        const parts = this.components(path);
        if (parts.length === 0)
            this.fail(path, 'hard link at the root');
        const dir = this.parentOf(parts, path, true);
        const name = parts[parts.length - 1];
        if (dir.children.get(name) === t)
            return;
        dir.children.set(name, { inode: t.inode, touched: this.layer });
    }
}

;// CONCATENATED MODULE: ./src/rootfs/ext4-writer.ts
// Writes an ext4 filesystem image straight from the layer streams, without
// mke2fs and without extracting anything on the host: file bytes are
// appended to the image as the tars stream past (each file gets one
// contiguous run of blocks), and once every layer is applied the metadata
// (directories, inodes, bitmaps, group descriptors, superblock) is laid out
// after the data. Ownership, modes, devices and xattrs come from the tree,
// so an unprivileged runner builds the same image root would.



/** Blocks kept after the superblock for group descriptors: enough for 4 TiB (32768 groups). */
const GDT_RESERVE = 256;
const WRITE_BUFFER = 8 << 20;
class Ext4Writer {
    fh;
    maxContentBytes;
    /** Next free block in the append area. */
    next = 1 + GDT_RESERVE;
    buf = Buffer.allocUnsafe(WRITE_BUFFER);
    spare = Buffer.allocUnsafe(WRITE_BUFFER);
    fill = 0;
    bufPos = (1 + GDT_RESERVE) * BLOCK_SIZE;
    inflight = Promise.resolve();
    /** Runs of blocks holding file data that may still be live (filtered at the end). */
    dataStart = 1 + GDT_RESERVE;
    dataEnd = 0;
    contentBytes = 0;
    constructor(fh, maxContentBytes = 64 * 2 ** 30) {
        this.fh = fh;
        this.maxContentBytes = maxContentBytes;
    }
    /**
     * Starts a regular file of `size` bytes: returns its first block and a sink
     * for its bytes. The sink pads to a block boundary after the last byte.
     */
    beginFile(size, entry) {
        this.contentBytes += size;
        if (this.contentBytes > this.maxContentBytes) {
            throw new RootfsError(`entry "${showName(entry)}": the image's files add up to more than ${this.maxContentBytes} bytes (the limit for a root filesystem); is the layer a decompression bomb?`);
        }
        const firstBlock = this.next;
        const blocks = Math.ceil(size / BLOCK_SIZE);
        this.next += blocks;
        let left = size;
        const sink = (chunk) => {
            left -= chunk.length;
            let r = this.append(chunk);
            if (left === 0 && size % BLOCK_SIZE) {
                const pad = BLOCK_SIZE - (size % BLOCK_SIZE);
                r = r ? r.then(() => this.append(Buffer.alloc(pad))) : this.append(Buffer.alloc(pad));
            }
            return r;
        };
        return { firstBlock, sink };
    }
    append(chunk) {
        let off = 0;
        while (off < chunk.length) {
            const n = Math.min(chunk.length - off, WRITE_BUFFER - this.fill);
            chunk.copy(this.buf, this.fill, off, off + n);
            this.fill += n;
            off += n;
            if (this.fill === WRITE_BUFFER) {
                const rest = chunk.subarray(off);
                return this.flush().then(() => (rest.length ? this.append(rest) : undefined));
            }
        }
    }
    /** Starts writing the full buffer (double-buffered: waits only for the previous write). */
    async flush() {
        await this.inflight;
        const full = this.buf;
        const len = this.fill;
        const pos = this.bufPos;
        this.buf = this.spare;
        this.spare = full;
        this.fill = 0;
        this.bufPos += len;
        if (len)
            this.inflight = this.fh.write(full, 0, len, pos);
    }
    /** Appends whole metadata blocks at the end of the append area; returns the first block. */
    appendBlocks(data) {
        const first = this.next;
        this.next += data.length / BLOCK_SIZE;
        const r = this.append(data);
        return r ? r.then(() => first) : first;
    }
    /** Lays out and writes all metadata. The tree must not change afterwards. */
    async finish(tree, opts = {}) {
        this.dataEnd = this.next;
        const time = opts.time ?? 0;
        // 1. Inode numbers (breadth first: a directory's entries sit close together).
        const inodes = [];
        const lostFound = ensureLostFound(tree.root);
        const assign = (ino, num) => {
            ino.ino = num;
            inodes[num] = ino;
        };
        assign(tree.root.inode, ROOT_INO);
        if (lostFound)
            assign(lostFound.inode, LOST_FOUND_INO);
        // Inode 11 is lost+found's; when the image has a non-directory of that name it is an ordinary inode.
        let nextIno = lostFound ? FIRST_INO + 1 : FIRST_INO;
        const dirs = [];
        const queue = [tree.root];
        const seen = new Set([tree.root.inode]);
        if (lostFound)
            seen.add(lostFound.inode);
        for (let qi = 0; qi < queue.length; qi++) {
            const dir = queue[qi];
            dirs.push(dir);
            dir.inode.nlink = 2;
            for (const child of dir.children.values()) {
                if (!seen.has(child.inode)) {
                    seen.add(child.inode);
                    child.inode.nlink = 0;
                    assign(child.inode, nextIno++);
                }
                if (child.children) {
                    dir.inode.nlink++;
                    queue.push(child);
                }
                else
                    child.inode.nlink++;
            }
        }
        const maxIno = nextIno - 1;
        for (const ino of inodes) {
            if (ino && ino.kind !== 'dir' && ino.nlink > 65000)
                throw new RootfsError(`inode ${ino.ino} has ${ino.nlink} hard links; ext4 allows 65000`);
        }
        const table = Buffer.alloc(maxIno * INODE_SIZE);
        // 2. Directory blocks, slow symlinks, extent leaves, xattr blocks: appended after the data.
        const parentOf = new Map([[tree.root.inode, tree.root.inode]]);
        for (const d of dirs)
            for (const c of d.children.values())
                if (c.children)
                    parentOf.set(c.inode, d.inode);
        const metaStart = this.next;
        for (const d of dirs) {
            const blocks = encodeDirectory(d, parentOf.get(d.inode).ino);
            const first = await this.appendBlocks(blocks);
            d.inode.size = blocks.length;
            d.inode.firstBlock = first;
        }
        for (let num = 1; num <= maxIno; num++) {
            const ino = inodes[num];
            if (!ino)
                continue;
            await this.writeInode(ino, table, num);
        }
        await this.flush();
        await this.inflight;
        const usedEnd = this.next;
        // 3. Geometry: groups, inodes per group, where bitmaps and inode tables go.
        const headroom = Math.ceil((opts.headroomBytes ?? Math.max(128 << 20, (usedEnd * BLOCK_SIZE) / 2)) / BLOCK_SIZE);
        let total = Math.max(usedEnd + headroom, Math.ceil((opts.diskBytes ?? 0) / BLOCK_SIZE));
        let groups = 0;
        let ipg = 0;
        let meta = 0;
        for (let i = 0; i < 20; i++) {
            groups = Math.ceil(total / BLOCKS_PER_GROUP);
            const wantInodes = Math.max(maxIno + 4096, Math.ceil(maxIno * 1.5), Math.floor((total * BLOCK_SIZE) / 65536));
            ipg = Math.min(BLOCKS_PER_GROUP, Math.ceil(wantInodes / groups / 16) * 16);
            if (ipg * groups < maxIno) {
                total = Math.ceil(maxIno / BLOCKS_PER_GROUP) * BLOCKS_PER_GROUP;
                continue;
            }
            meta = groups * 2 + (groups * ipg * INODE_SIZE) / BLOCK_SIZE;
            const need = Math.max(usedEnd + meta + headroom, Math.ceil((opts.diskBytes ?? 0) / BLOCK_SIZE));
            if (Math.ceil(need / BLOCKS_PER_GROUP) === groups && need <= total)
                break;
            total = Math.max(need, total);
        }
        const gdtBlocks = Math.ceil((groups * 32) / BLOCK_SIZE);
        if (gdtBlocks > GDT_RESERVE || total >= 2 ** 32)
            throw new RootfsError(`the root filesystem would need ${total} blocks, more than vmstep's ext4 layout supports (4 TiB)`);
        const itableBlocks = (ipg * INODE_SIZE) / BLOCK_SIZE;
        const bbStart = usedEnd;
        const ibStart = bbStart + groups;
        const itStart = ibStart + groups;
        // 4. Block bitmap: superblock + descriptors, live file data, everything appended after the data.
        const used = new Uint8Array(Math.ceil(total / 8) + 1);
        const mark = (start, len) => {
            for (let b = start; b < start + len; b++)
                used[b >> 3] |= 1 << (b & 7);
        };
        mark(0, 1 + gdtBlocks);
        for (let num = 1; num <= maxIno; num++) {
            const ino = inodes[num];
            if (ino?.kind === 'file' && ino.size > 0 && ino.firstBlock < this.dataEnd)
                mark(ino.firstBlock, Math.ceil(ino.size / BLOCK_SIZE));
        }
        mark(metaStart, itStart + groups * itableBlocks - metaStart);
        const gdt = Buffer.alloc(gdtBlocks * BLOCK_SIZE);
        const bitmaps = Buffer.alloc(groups * 2 * BLOCK_SIZE);
        let freeBlocks = 0;
        let freeInodes = 0;
        const dirsPerGroup = new Array(groups).fill(0);
        for (const d of dirs)
            dirsPerGroup[Math.floor((d.inode.ino - 1) / ipg)]++;
        for (let g = 0; g < groups; g++) {
            const gStart = g * BLOCKS_PER_GROUP;
            const gLen = Math.min(BLOCKS_PER_GROUP, total - gStart);
            const bb = bitmaps.subarray(g * BLOCK_SIZE, (g + 1) * BLOCK_SIZE);
            // A group's 32768 blocks are exactly one bitmap block: copy the bytes, count the bits.
            bb.set(used.subarray(g * BLOCK_SIZE, g * BLOCK_SIZE + Math.ceil(gLen / 8)));
            if (gLen % 8)
                bb[gLen >> 3] &= (1 << (gLen % 8)) - 1;
            let gUsed = 0;
            for (let i = 0; i < Math.ceil(gLen / 8); i++)
                gUsed += popcount[bb[i]];
            for (let i = gLen; i < BLOCK_SIZE * 8; i++)
                bb[i >> 3] |= 1 << (i & 7); // past the end: marked used
            const ib = bitmaps.subarray((groups + g) * BLOCK_SIZE, (groups + g + 1) * BLOCK_SIZE);
            const firstIno = g * ipg + 1;
            const gInodesUsed = Math.max(0, Math.min(ipg, maxIno - firstIno + 1));
            for (let i = 0; i < gInodesUsed; i++)
                ib[i >> 3] |= 1 << (i & 7);
            for (let i = ipg; i < BLOCK_SIZE * 8; i++)
                ib[i >> 3] |= 1 << (i & 7);
            freeBlocks += gLen - gUsed;
            freeInodes += ipg - gInodesUsed;
            encodeGroupDesc({ blockBitmap: bbStart + g, inodeBitmap: ibStart + g, inodeTable: itStart + g * itableBlocks, freeBlocks: gLen - gUsed, freeInodes: ipg - gInodesUsed, usedDirs: dirsPerGroup[g] }, gdt, g * 32);
        }
        // 5. Write: bitmaps, inode tables (only the parts holding inodes; the rest stays a hole), descriptors, superblock.
        await this.fh.truncate(total * BLOCK_SIZE);
        await this.fh.write(bitmaps, 0, bitmaps.length, bbStart * BLOCK_SIZE);
        for (let g = 0; g * ipg < maxIno; g++) {
            const slice = table.subarray(g * ipg * INODE_SIZE, Math.min(maxIno, (g + 1) * ipg) * INODE_SIZE);
            await this.fh.write(slice, 0, slice.length, (itStart + g * itableBlocks) * BLOCK_SIZE);
        }
        await this.fh.write(gdt, 0, gdt.length, BLOCK_SIZE);
        const sb = encodeSuperblock({ inodesCount: groups * ipg, blocksCount: total, freeBlocks, freeInodes, inodesPerGroup: ipg, time, uuid: (0,external_node_crypto_namespaceObject.randomBytes)(16), volumeName: 'vmstep-rootfs' });
        await this.fh.write(sb, 0, sb.length, 1024);
        return { bytes: total * BLOCK_SIZE, blocks: total, usedBlocks: total - freeBlocks, inodes: maxIno };
    }
    /** Encodes one inode into the table, appending whatever blocks it needs. */
    async writeInode(ino, table, num) {
        const off = (num - 1) * INODE_SIZE;
        let flags = 0;
        let blocks512 = 0;
        let size = ino.size;
        const iblock = table.subarray(off + 0x28, off + 0x28 + 60);
        const runs = [];
        if (ino.kind === 'file' || ino.kind === 'dir') {
            const nblocks = Math.ceil(size / BLOCK_SIZE);
            for (let b = 0; b < nblocks; b += MAX_EXTENT_LEN)
                runs.push({ start: ino.firstBlock + b, len: Math.min(MAX_EXTENT_LEN, nblocks - b) });
        }
        else if (ino.kind === 'symlink') {
            const target = ino.symlinkTarget ?? Buffer.alloc(0);
            size = target.length;
            if (target.length <= FAST_SYMLINK_MAX)
                target.copy(iblock);
            else {
                const data = Buffer.alloc(Math.ceil(target.length / BLOCK_SIZE) * BLOCK_SIZE);
                target.copy(data);
                runs.push({ start: await this.appendBlocks(data), len: data.length / BLOCK_SIZE });
            }
        }
        else if (ino.kind === 'char' || ino.kind === 'block') {
            const { devmajor: ma, devminor: mi } = ino;
            if (ma < 256 && mi < 256)
                iblock.writeUInt32LE((ma << 8) | mi, 0);
            else
                iblock.writeUInt32LE(((mi & 0xff) | (ma << 8) | ((mi & ~0xff) << 12)) >>> 0, 4);
        }
        if (runs.length || ino.kind === 'file' || ino.kind === 'dir' || (ino.kind === 'symlink' && size > FAST_SYMLINK_MAX)) {
            flags |= EXTENTS_FL;
            for (const r of runs)
                blocks512 += r.len * 8;
            if (runs.length <= 4) {
                encodeExtentHeader(iblock, 0, runs.length, 4, 0);
                let logical = 0;
                runs.forEach((r, i) => {
                    encodeExtent(iblock, 12 + i * 12, logical, r.len, r.start);
                    logical += r.len;
                });
            }
            else {
                // One level of index: leaves of up to 340 extents each, at most 4 leaves.
                const perLeaf = (BLOCK_SIZE - 12) / 12;
                const leaves = Math.ceil(runs.length / perLeaf);
                if (leaves > 4)
                    throw new RootfsError(`a file of ${size} bytes is too large for vmstep's ext4 layout`);
                const data = Buffer.alloc(leaves * BLOCK_SIZE);
                let logical = 0;
                const leafLogical = [];
                for (let l = 0; l < leaves; l++) {
                    const part = runs.slice(l * perLeaf, (l + 1) * perLeaf);
                    leafLogical.push(logical);
                    encodeExtentHeader(data, l * BLOCK_SIZE, part.length, perLeaf, 0);
                    part.forEach((r, i) => {
                        encodeExtent(data, l * BLOCK_SIZE + 12 + i * 12, logical, r.len, r.start);
                        logical += r.len;
                    });
                }
                const first = await this.appendBlocks(data);
                blocks512 += leaves * 8;
                encodeExtentHeader(iblock, 0, leaves, 4, 1);
                for (let l = 0; l < leaves; l++)
                    encodeExtentIndex(iblock, 12 + l * 12, leafLogical[l], first + l);
            }
        }
        // Extended attributes: in the inode when they fit, else in one block of their own.
        const xattrs = [];
        for (const [name, value] of ino.xattrs) {
            const split = splitXattrName(name);
            if (split)
                xattrs.push({ ...split, value });
        }
        sortXattrs(xattrs);
        if (xattrs.length) {
            if (inodeXattrSpace(xattrs) <= INODE_XATTR_ROOM)
                encodeInodeXattrs(xattrs, table, off + 128 + EXTRA_ISIZE);
            else if (blockXattrSpace(xattrs) <= BLOCK_SIZE) {
                const blk = await this.appendBlocks(encodeXattrBlock(xattrs));
                table.writeUInt32LE(blk % 2 ** 32, off + 0x68);
                blocks512 += 8;
            }
            else
                throw new RootfsError(`inode ${num}: extended attributes larger than one block (${blockXattrSpace(xattrs)} bytes)`);
        }
        const t = encodeTime(ino.mtime, ino.mtimeNsec);
        const typeBits = S_IF[ino.kind];
        table.writeUInt16LE(typeBits | (ino.mode & 0o7777), off);
        table.writeUInt16LE(ino.uid & 0xffff, off + 0x2);
        table.writeUInt32LE(size % 2 ** 32, off + 0x4);
        table.writeUInt32LE(t.base, off + 0x8);
        table.writeUInt32LE(t.base, off + 0xc);
        table.writeUInt32LE(t.base, off + 0x10);
        table.writeUInt16LE(ino.gid & 0xffff, off + 0x18);
        // dir_nlink: a directory with more links than fit is recorded as 1.
        table.writeUInt16LE(ino.kind === 'dir' && ino.nlink >= 65000 ? 1 : ino.nlink, off + 0x1a);
        table.writeUInt32LE(blocks512 % 2 ** 32, off + 0x1c);
        table.writeUInt32LE(flags, off + 0x20);
        table.writeUInt32LE(Math.floor(size / 2 ** 32), off + 0x6c);
        table.writeUInt16LE(Math.floor(blocks512 / 2 ** 32), off + 0x74);
        table.writeUInt16LE(ino.uid >>> 16, off + 0x78);
        table.writeUInt16LE(ino.gid >>> 16, off + 0x7a);
        table.writeUInt16LE(EXTRA_ISIZE, off + 0x80);
        table.writeUInt32LE(t.extra, off + 0x84);
        table.writeUInt32LE(t.extra, off + 0x88);
        table.writeUInt32LE(t.extra, off + 0x8c);
        table.writeUInt32LE(t.base, off + 0x90);
        table.writeUInt32LE(t.extra, off + 0x94);
    }
}
const popcount = Uint8Array.from({ length: 256 }, (_, i) => {
    let n = 0;
    for (let v = i; v; v >>= 1)
        n += v & 1;
    return n;
});
/** e2fsck expects /lost+found; use the image's own when it has one. */
function ensureLostFound(root) {
    const name = 'lost+found';
    const have = root.children.get(name);
    if (have)
        return have.children ? have : undefined;
    const node = { inode: newInode('dir', { mode: 0o700 }), children: new Map(), touched: 0 };
    root.children.set(name, node);
    return node;
}
/** Linear directory blocks: ".", "..", then the entries sorted by name. */
function encodeDirectory(dir, parentIno) {
    const names = [...dir.children.keys()].sort();
    const entries = [
        { ino: dir.inode.ino, name: Buffer.from('.'), type: DIRENT_TYPE.dir },
        { ino: parentIno, name: Buffer.from('..'), type: DIRENT_TYPE.dir },
    ];
    for (const n of names) {
        const c = dir.children.get(n);
        entries.push({ ino: c.inode.ino, name: Buffer.from(n, 'latin1'), type: DIRENT_TYPE[c.inode.kind] });
    }
    const blocks = [];
    let cur = Buffer.alloc(BLOCK_SIZE);
    let pos = 0;
    let lastOff = -1;
    for (const e of entries) {
        const need = direntSize(e.name.length);
        if (pos + need > BLOCK_SIZE) {
            cur.writeUInt16LE(BLOCK_SIZE - lastOff, lastOff + 4);
            blocks.push(cur);
            cur = Buffer.alloc(BLOCK_SIZE);
            pos = 0;
        }
        encodeDirent(cur, pos, e.ino, need, e.name, e.type);
        lastOff = pos;
        pos += need;
    }
    cur.writeUInt16LE(BLOCK_SIZE - lastOff, lastOff + 4);
    blocks.push(cur);
    return Buffer.concat(blocks);
}

;// CONCATENATED MODULE: ./src/rootfs/tar-stream.ts
// Streaming reader for layer tars: turns a byte stream into entries, handing
// each regular file's bytes to a sink as they arrive (nothing is buffered
// whole, nothing touches the host filesystem). Entries are untrusted; this
// file only decodes them, tree.ts decides what they may do.

const maxMetaBytes = 1 << 20;
const tar_stream_typeNames = {
    [TarType.file]: 'file',
    [TarType.contiguous]: 'file',
    [TarType.hardlink]: 'hardlink',
    [TarType.symlink]: 'symlink',
    [TarType.char]: 'char',
    [TarType.block]: 'block',
    [TarType.dir]: 'dir',
    [TarType.fifo]: 'fifo',
};
/**
 * Reads a tar stream to its end. `onEntry` is awaited for each entry; for a
 * regular file it may return a sink, called with the file's bytes in order
 * (and awaited when it returns a promise, for backpressure).
 */
async function readTar(source, onEntry) {
    let pending = Buffer.alloc(0);
    // Assigned inside startMember too, which TypeScript's narrowing does not see: read through now().
    let state = 'header';
    const now = () => state;
    let remaining = 0; // data bytes left in the current member
    let pad = 0; // padding bytes after the data
    let sink = null;
    const currentSink = () => sink;
    let metaType = 0;
    let meta = [];
    let longName;
    let longLink;
    let pax;
    const startMember = async (h) => {
        if (h.type === TarType.paxLocal || h.type === TarType.gnuLongName || h.type === TarType.gnuLongLink || h.type === TarType.paxGlobal) {
            if (h.size > maxMetaBytes)
                throw new TarFormatError('a tar metadata header is larger than 1 MiB');
            state = 'meta';
            metaType = h.type;
            meta = [];
            remaining = h.size;
            pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
            return;
        }
        const type = tar_stream_typeNames[h.type];
        if (!type)
            throw new TarFormatError(`unsupported tar entry type "${String.fromCharCode(h.type)}" for ${pax?.path ?? longName ?? h.name}`);
        if (pax?.sparse)
            throw new TarFormatError(`GNU sparse file ${pax.path ?? h.name} is not supported; rebuild the layer without --sparse`);
        const size = type === 'file' ? (pax?.size ?? h.size) : 0;
        const entry = {
            path: pax?.path ?? longName ?? h.name,
            linkpath: pax?.linkpath ?? longLink ?? h.linkname,
            type,
            mode: h.mode,
            uid: pax?.uid ?? h.uid,
            gid: pax?.gid ?? h.gid,
            size,
            mtime: pax?.mtime ?? h.mtime,
            mtimeNsec: pax?.mtimeNsec ?? 0,
            devmajor: pax?.devmajor ?? h.devmajor,
            devminor: pax?.devminor ?? h.devminor,
            xattrs: pax?.xattrs ?? new Map(),
        };
        pax = undefined;
        longName = longLink = undefined;
        sink = await onEntry(entry);
        // Only regular files carry data here; a writer that adds data to other
        // members desynchronises the stream, which the next checksum catches.
        remaining = size;
        pad = (BLOCK - (remaining % BLOCK)) % BLOCK;
        state = remaining > 0 ? 'data' : 'header';
    };
    const endMeta = () => {
        const data = Buffer.concat(meta);
        if (metaType === TarType.paxLocal)
            pax = parsePax(data);
        else if (metaType === TarType.gnuLongName)
            longName = data.toString('latin1').replace(/\0.*$/s, '');
        else if (metaType === TarType.gnuLongLink)
            longLink = data.toString('latin1').replace(/\0.*$/s, '');
        // Global pax headers ('g') only carry defaults no image tool relies on.
    };
    for await (const chunk of source) {
        let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        pending = Buffer.alloc(0);
        let off = 0;
        while (off < buf.length) {
            if (state === 'end') {
                off = buf.length; // trailing zero blocks / garbage after the end marker
                break;
            }
            if (state === 'header') {
                if (buf.length - off < BLOCK)
                    break;
                if (isZeroBlock(buf, off)) {
                    state = 'end';
                    continue;
                }
                const h = decodeHeader(buf, off);
                off += BLOCK;
                await startMember(h);
                continue;
            }
            if (now() === 'data' || now() === 'meta') {
                const n = Math.min(remaining, buf.length - off);
                const piece = buf.subarray(off, off + n);
                off += n;
                remaining -= n;
                if (now() === 'meta')
                    meta.push(Buffer.from(piece));
                else if (currentSink()) {
                    const r = currentSink()(piece);
                    if (r)
                        await r;
                }
                if (remaining === 0) {
                    if (now() === 'meta')
                        endMeta();
                    state = pad > 0 ? 'skip' : 'header';
                }
                continue;
            }
            // skip padding
            const n = Math.min(pad, buf.length - off);
            off += n;
            pad -= n;
            if (pad === 0)
                state = 'header';
        }
        if (off < buf.length)
            pending = Buffer.from(buf.subarray(off));
        buf = pending;
    }
    const end = now();
    if (end === 'data' || end === 'meta' || (end === 'header' && pending.length > 0)) {
        throw new TarFormatError('layer tar is truncated (ends inside an entry)');
    }
    if (end === 'skip' && pad > 0)
        throw new TarFormatError('layer tar is truncated (ends inside padding)');
}

;// CONCATENATED MODULE: ./src/rootfs/build.ts
// Image -> ext4 file: applies the layers in order to an in-memory tree while
// their file bytes stream into the image, adds the guest init at
// /.vmstep/init, then writes the metadata. Knows nothing of where the image
// came from (see ../image) nor of caching (see cache.ts).








/** Bumped whenever the image layout this code writes changes; part of the cache key. */
const BUILDER_VERSION = 1;
const GUEST_INIT_PATH = '/.vmstep/init';
const maxUid = 2 ** 32 - 1;
async function buildRootfsImage(image, opts) {
    const initStat = await (0,external_node_fs_promises_namespaceObject.stat)(opts.initPath).catch(() => null);
    if (!initStat?.isFile())
        throw new RootfsError(`guest init ${opts.initPath} does not exist or is not a file; build it (npm run build) or set VMSTEP_INIT`);
    const fh = await (0,external_node_fs_promises_namespaceObject.open)(opts.outPath, 'wx');
    let ok = false;
    try {
        const writer = new Ext4Writer(fh, opts.maxContentBytes);
        const tree = new FsTree();
        let entries = 0;
        const maxEntries = opts.maxEntries ?? 4_000_000;
        // Registry layers download (three at a time) while earlier ones are applied;
        // a failed prefetch is retried, and reported, by the layer's open().
        void prefetchAll(image, 3);
        for (const [i, layer] of image.layers.entries()) {
            opts.onLayer?.(i, image.layers.length, layer.digest);
            const label = `layer ${i + 1} of ${image.layers.length} (${layer.digest})`;
            tree.beginLayer(i, label);
            try {
                const { stream } = await decompressedLayer(await layer.open());
                await readTar(stream, (e) => {
                    // Each entry costs memory in the tree: bound it like the content size.
                    if (++entries > maxEntries)
                        tree.fail(e.path, `more than ${maxEntries} entries in the image; is it a hostile archive?`);
                    return applyEntry(tree, writer, e);
                });
            }
            catch (e) {
                if (e instanceof RootfsError || e instanceof ImageError)
                    throw e;
                if (e instanceof TarFormatError)
                    throw new RootfsError(`${label}: not a valid tar stream: ${e.message}`);
                throw new RootfsError(`${label}: cannot be read: ${e.message}`);
            }
        }
        // The init goes in last so that no image can replace or shadow it.
        tree.beginLayer(image.layers.length, 'vmstep guest init');
        tree.root.children.delete('.vmstep');
        tree.put('.vmstep', newInode('dir', { mode: 0o755 }));
        const init = newInode('file', { mode: 0o755, size: initStat.size });
        tree.put('.vmstep/init', init);
        const { firstBlock, sink } = writer.beginFile(initStat.size, GUEST_INIT_PATH);
        init.firstBlock = firstBlock;
        for await (const chunk of (0,external_node_fs_namespaceObject.createReadStream)(opts.initPath))
            await sink(chunk);
        const result = await writer.finish(tree, opts);
        ok = true;
        return result;
    }
    finally {
        await fh.close();
        if (!ok)
            await (0,external_node_fs_promises_namespaceObject.rm)(opts.outPath, { force: true });
    }
}
async function prefetchAll(image, parallel) {
    const queue = image.layers.filter((l) => l.prefetch);
    const worker = async () => {
        for (let l = queue.shift(); l; l = queue.shift())
            await l.prefetch().catch(() => { });
    };
    await Promise.all(Array.from({ length: parallel }, worker));
}
function applyEntry(tree, writer, e) {
    if (tree.applyWhiteout(e.path))
        return null;
    if (e.uid > maxUid || e.gid > maxUid)
        tree.fail(e.path, `owner ${e.uid}:${e.gid} does not fit in 32 bits`);
    const common = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, mtimeNsec: e.mtimeNsec, xattrs: e.xattrs };
    switch (e.type) {
        case 'hardlink':
            tree.link(e.path, e.linkpath);
            return null;
        case 'dir':
            tree.put(e.path, newInode('dir', common));
            return null;
        case 'symlink': {
            const target = Buffer.from(e.linkpath, 'latin1');
            if (target.length === 0 || target.length >= 4096)
                tree.fail(e.path, 'symbolic link target is empty or longer than 4095 bytes');
            tree.put(e.path, newInode('symlink', { ...common, symlinkTarget: target }));
            return null;
        }
        case 'char':
        case 'block':
            if (e.devmajor >= 4096 || e.devminor >= 2 ** 20)
                tree.fail(e.path, `device number ${e.devmajor}:${e.devminor} is out of range`);
            tree.put(e.path, newInode(e.type, { ...common, devmajor: e.devmajor, devminor: e.devminor }));
            return null;
        case 'fifo':
            tree.put(e.path, newInode('fifo', common));
            return null;
        case 'file': {
            const ino = newInode('file', { ...common, size: e.size });
            tree.put(e.path, ino); // checks the path before any byte is written
            if (e.size === 0)
                return null;
            const { firstBlock, sink } = writer.beginFile(e.size, e.path);
            ino.firstBlock = firstBlock;
            return sink;
        }
    }
}

;// CONCATENATED MODULE: ./src/rootfs/lock.ts
// A lock file per cache entry, so that concurrent runs on one host build an
// entry once: created with O_EXCL, holding the owner's pid. A lock whose
// owner is gone (crashed, killed) is taken over; a live owner is waited for.


function processAlive(pid) {
    if (!Number.isInteger(pid) || pid <= 0)
        return false;
    try {
        process.kill(pid, 0);
        return true;
    }
    catch (e) {
        return e.code === 'EPERM';
    }
}
async function acquireLock(path, opts = {}) {
    const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
    for (let delay = 20;; delay = Math.min(delay * 2, 500)) {
        try {
            const fh = await (0,external_node_fs_promises_namespaceObject.open)(path, 'wx');
            await fh.writeFile(String(process.pid));
            await fh.close();
            return { release: () => (0,external_node_fs_promises_namespaceObject.rm)(path, { force: true }) };
        }
        catch (e) {
            if (e.code !== 'EEXIST')
                throw e;
        }
        const owner = Number((await (0,external_node_fs_promises_namespaceObject.readFile)(path, 'utf8').catch(() => '')).trim());
        const st = await (0,external_node_fs_promises_namespaceObject.stat)(path).catch(() => null);
        // An empty lock younger than a second is one being written right now.
        const young = st ? Date.now() - st.mtimeMs < 1000 : false;
        if (st && !(owner === 0 && young) && !processAlive(owner)) {
            await (0,external_node_fs_promises_namespaceObject.rm)(path, { force: true });
            continue;
        }
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for process ${owner} to finish ${opts.what ?? 'its work'} (lock ${path}); if no vmstep is running, remove that file`);
        await (0,external_node_timers_promises_namespaceObject.setTimeout)(delay);
    }
}

;// CONCATENATED MODULE: ./src/rootfs/cache.ts
// The root filesystem cache: one ext4 per (image digest, builder version,
// guest init digest), built once and never modified afterwards; every run
// gets its own writable copy. Layout under <cache>/:
//   rootfs/<key>/rootfs.ext4, meta.json   finished entries (appear by atomic rename)
//   rootfs/<key>/spares/*.ext4            ready copies, claimed by rename (warm runs)
//   rootfs/<key>.lock                      held while <key> is being built
//   rootfs/.tmp-<pid>-*                    builds in progress (swept when their process is gone)
//   runs/<pid>-*/disk.ext4                 per-run copies, removed by release()
//   blobs/sha256/<hex>                     layer blobs (see ../image/blob-cache.ts)










const cache_run = (0,external_node_util_namespaceObject.promisify)(external_node_child_process_namespaceObject.execFile);
const initDigests = new Map();
async function fileDigest(path) {
    const st = await (0,external_node_fs_promises_namespaceObject.stat)(path).catch(() => null);
    if (!st?.isFile())
        throw new RootfsError(`guest init ${path} does not exist or is not a file; build it (npm run build) or set VMSTEP_INIT`);
    const hit = initDigests.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size)
        return hit.digest;
    const h = (0,external_node_crypto_namespaceObject.createHash)('sha256');
    for await (const c of (0,external_node_fs_namespaceObject.createReadStream)(path))
        h.update(c);
    const digest = `sha256:${h.digest('hex')}`;
    initDigests.set(path, { mtimeMs: st.mtimeMs, size: st.size, digest });
    return digest;
}
async function allocatedBytes(path) {
    const st = await (0,external_node_fs_promises_namespaceObject.stat)(path).catch(() => null);
    if (!st)
        return 0;
    if (!st.isDirectory())
        return st.blocks * 512;
    let total = 0;
    for (const name of await (0,external_node_fs_promises_namespaceObject.readdir)(path).catch(() => []))
        total += await allocatedBytes((0,external_node_path_namespaceObject.join)(path, name));
    return total;
}
class cache_RootfsCache {
    opts;
    root;
    background = new Set();
    constructor(root = defaultCacheDir(), opts = {}) {
        this.opts = opts;
        this.root = root;
    }
    get rootfsDir() {
        return (0,external_node_path_namespaceObject.join)(this.root, 'rootfs');
    }
    /** The cache key: what the ext4 content depends on, and nothing else. */
    async key(image, initPath) {
        const initDigest = await fileDigest(initPath);
        return (0,external_node_crypto_namespaceObject.createHash)('sha256').update(`${image.digest}\n${BUILDER_VERSION}\n${initDigest}`).digest('hex').slice(0, 40);
    }
    /** Base image for `image` (building it when absent) plus a writable copy for one run. */
    async prepare(image, opts) {
        const key = await this.key(image, opts.initPath);
        const dir = (0,external_node_path_namespaceObject.join)(this.rootfsDir, key);
        const basePath = (0,external_node_path_namespaceObject.join)(dir, 'rootfs.ext4');
        let cached = true;
        if (!(await (0,external_node_fs_promises_namespaceObject.stat)(basePath).catch(() => null))) {
            cached = false;
            await this.build(image, key, opts);
        }
        void (0,external_node_fs_promises_namespaceObject.utimes)((0,external_node_path_namespaceObject.join)(dir, 'meta.json'), new Date(), new Date()).catch(() => { });
        const runDir = (0,external_node_path_namespaceObject.join)(this.root, 'runs', `${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`);
        await (0,external_node_fs_promises_namespaceObject.mkdir)(runDir, { recursive: true });
        const runDiskPath = (0,external_node_path_namespaceObject.join)(runDir, 'disk.ext4');
        let copy;
        try {
            copy = await this.copyOut(dir, basePath, runDiskPath);
        }
        catch (e) {
            await (0,external_node_fs_promises_namespaceObject.rm)(runDir, { recursive: true, force: true });
            // The entry may have been pruned between the check and the copy: build again once.
            if (e.code === 'ENOENT' && cached)
                return this.prepare(image, opts);
            throw e;
        }
        if (opts.diskBytes) {
            const have = (await (0,external_node_fs_promises_namespaceObject.stat)(runDiskPath)).size;
            if (opts.diskBytes > have)
                await this.grow(runDiskPath, opts.diskBytes, runDir);
        }
        // The next run's spare is copied when this run ends, off both runs' critical paths.
        const refill = this.opts.spares !== false && copy !== 'reflink';
        const release = async () => {
            await (0,external_node_fs_promises_namespaceObject.rm)(runDir, { recursive: true, force: true });
            if (refill)
                this.refillSpare(dir, basePath);
        };
        return { basePath, runDiskPath, cached, copy, release };
    }
    /** Waits for background work (refilling spare copies); call before the process exits. */
    async settle() {
        while (this.background.size)
            await Promise.allSettled([...this.background]);
    }
    async copyOut(dir, basePath, dest) {
        if (this.opts.spares !== false) {
            const sparesDir = (0,external_node_path_namespaceObject.join)(dir, 'spares');
            for (const name of await (0,external_node_fs_promises_namespaceObject.readdir)(sparesDir).catch(() => [])) {
                if (!name.endsWith('.ext4'))
                    continue;
                try {
                    await (0,external_node_fs_promises_namespaceObject.rename)((0,external_node_path_namespaceObject.join)(sparesDir, name), dest); // atomic claim: one run per spare
                    return 'spare';
                }
                catch {
                    /* another run took it */
                }
            }
        }
        return copyImage(basePath, dest);
    }
    /**
     * Keeps one ready copy beside the base so the next run only renames it
     * (a full copy of a few hundred MB takes far longer than the 5 ms a warm
     * start may cost when the filesystem cannot reflink).
     */
    refillSpare(dir, basePath) {
        const p = (async () => {
            const sparesDir = (0,external_node_path_namespaceObject.join)(dir, 'spares');
            await (0,external_node_fs_promises_namespaceObject.mkdir)(sparesDir, { recursive: true });
            if ((await (0,external_node_fs_promises_namespaceObject.readdir)(sparesDir)).some((n) => n.endsWith('.ext4')))
                return;
            const tmp = (0,external_node_path_namespaceObject.join)(sparesDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
            try {
                await copyImage(basePath, tmp);
                await (0,external_node_fs_promises_namespaceObject.rename)(tmp, (0,external_node_path_namespaceObject.join)(sparesDir, `${process.pid}-${Date.now()}.ext4`));
            }
            catch {
                await (0,external_node_fs_promises_namespaceObject.rm)(tmp, { force: true });
            }
        })();
        this.background.add(p);
        void p.finally(() => this.background.delete(p));
    }
    async grow(path, bytes, runDir) {
        const blocks = Math.floor(bytes / 4096);
        try {
            await cache_run('resize2fs', ['-f', path, `${blocks}`], { timeout: 5 * 60_000 });
        }
        catch (e) {
            await (0,external_node_fs_promises_namespaceObject.rm)(runDir, { recursive: true, force: true });
            const err = e;
            if (err.code === 'ENOENT')
                throw new RootfsError('growing the run disk needs resize2fs (Debian/Ubuntu package e2fsprogs); install it or leave the disk size at its default');
            throw new RootfsError(`resize2fs could not grow the run disk to ${bytes} bytes: ${(err.stderr ?? err.message).trim()}`);
        }
    }
    async build(image, key, opts) {
        await (0,external_node_fs_promises_namespaceObject.mkdir)(this.rootfsDir, { recursive: true });
        const lock = await acquireLock((0,external_node_path_namespaceObject.join)(this.rootfsDir, `${key}.lock`), { what: `building the root filesystem of ${image.reference}` });
        try {
            const dir = (0,external_node_path_namespaceObject.join)(this.rootfsDir, key);
            if (await (0,external_node_fs_promises_namespaceObject.stat)((0,external_node_path_namespaceObject.join)(dir, 'rootfs.ext4')).catch(() => null))
                return; // another run built it meanwhile
            await this.sweep();
            const tmp = (0,external_node_path_namespaceObject.join)(this.rootfsDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
            await (0,external_node_fs_promises_namespaceObject.mkdir)(tmp);
            try {
                const out = (0,external_node_path_namespaceObject.join)(tmp, 'rootfs.ext4');
                const result = await buildRootfsImage(image, { initPath: opts.initPath, outPath: out, ...(opts.onLayer ? { onLayer: opts.onLayer } : {}) });
                const meta = { reference: image.reference, imageDigest: image.digest, builderVersion: BUILDER_VERSION, initDigest: await fileDigest(opts.initPath), bytes: result.bytes, created: new Date().toISOString() };
                await (0,external_node_fs_promises_namespaceObject.writeFile)((0,external_node_path_namespaceObject.join)(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
                await (0,external_node_fs_promises_namespaceObject.rename)(tmp, dir);
            }
            finally {
                await (0,external_node_fs_promises_namespaceObject.rm)(tmp, { recursive: true, force: true });
            }
        }
        finally {
            await lock.release();
        }
    }
    /** Removes leftovers of builds and runs whose process is gone. */
    async sweep() {
        for (const name of await (0,external_node_fs_promises_namespaceObject.readdir)(this.rootfsDir).catch(() => [])) {
            const m = /^\.tmp-(\d+)-/.exec(name);
            if (m && !processAlive(Number(m[1])))
                await (0,external_node_fs_promises_namespaceObject.rm)((0,external_node_path_namespaceObject.join)(this.rootfsDir, name), { recursive: true, force: true });
        }
        const runs = (0,external_node_path_namespaceObject.join)(this.root, 'runs');
        for (const name of await (0,external_node_fs_promises_namespaceObject.readdir)(runs).catch(() => [])) {
            const m = /^(\d+)-/.exec(name);
            if (m && !processAlive(Number(m[1])))
                await (0,external_node_fs_promises_namespaceObject.rm)((0,external_node_path_namespaceObject.join)(runs, name), { recursive: true, force: true });
        }
    }
    /** What the cache holds: root filesystems and layer blobs, most recently used first. */
    async list() {
        const out = [];
        for (const key of await (0,external_node_fs_promises_namespaceObject.readdir)(this.rootfsDir).catch(() => [])) {
            if (key.startsWith('.') || key.endsWith('.lock'))
                continue;
            const dir = (0,external_node_path_namespaceObject.join)(this.rootfsDir, key);
            const metaPath = (0,external_node_path_namespaceObject.join)(dir, 'meta.json');
            const st = await (0,external_node_fs_promises_namespaceObject.stat)(metaPath).catch(() => null);
            if (!st)
                continue;
            const meta = JSON.parse(await (0,external_node_fs_promises_namespaceObject.readFile)(metaPath, 'utf8').catch(() => '{}'));
            out.push({ kind: 'rootfs', key, name: meta.reference ?? '?', diskBytes: await allocatedBytes(dir), lastUsed: st.mtime });
        }
        const blobDir = (0,external_node_path_namespaceObject.join)(this.root, 'blobs', 'sha256');
        for (const hex of await (0,external_node_fs_promises_namespaceObject.readdir)(blobDir).catch(() => [])) {
            if (!/^[0-9a-f]{64}$/.test(hex))
                continue;
            const st = await (0,external_node_fs_promises_namespaceObject.stat)((0,external_node_path_namespaceObject.join)(blobDir, hex)).catch(() => null);
            if (st)
                out.push({ kind: 'blob', key: hex, name: `sha256:${hex}`, diskBytes: st.blocks * 512, lastUsed: st.mtime });
        }
        return out.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
    }
    /** Deletes least recently used entries until the cache holds at most `maxBytes`; returns what was removed. */
    async prune(maxBytes = 0) {
        await this.sweep();
        const entries = await this.list();
        let total = entries.reduce((n, e) => n + e.diskBytes, 0);
        const removed = [];
        for (const e of [...entries].reverse()) {
            if (total <= maxBytes)
                break;
            if (e.kind === 'rootfs') {
                // Rename first so no run ever sees a half-deleted entry; runs holding a copy keep theirs.
                const gone = (0,external_node_path_namespaceObject.join)(this.rootfsDir, `.tmp-${process.pid}-prune-${e.key}`);
                if (!(await (0,external_node_fs_promises_namespaceObject.rename)((0,external_node_path_namespaceObject.join)(this.rootfsDir, e.key), gone).then(() => true, () => false)))
                    continue;
                await (0,external_node_fs_promises_namespaceObject.rm)(gone, { recursive: true, force: true });
            }
            else {
                await (0,external_node_fs_promises_namespaceObject.rm)((0,external_node_path_namespaceObject.join)(this.root, 'blobs', 'sha256', e.key), { force: true });
            }
            total -= e.diskBytes;
            removed.push(e);
        }
        return removed;
    }
}
/**
 * Copies an image file: a reflink where the filesystem shares blocks (btrfs,
 * XFS: instant), else `cp --sparse=always` so the free space stays holes.
 */
async function copyImage(src, dest) {
    try {
        await (0,external_node_fs_promises_namespaceObject.copyFile)(src, dest, external_node_fs_namespaceObject.constants.COPYFILE_EXCL | external_node_fs_namespaceObject.constants.COPYFILE_FICLONE_FORCE);
        return 'reflink';
    }
    catch (e) {
        const code = e.code;
        if (code === 'ENOENT' || code === 'EEXIST')
            throw e;
    }
    try {
        await cache_run('cp', ['--reflink=auto', '--sparse=always', '--', src, dest], { timeout: 10 * 60_000 });
    }
    catch (e) {
        await (0,external_node_fs_promises_namespaceObject.rm)(dest, { force: true });
        if (!(await (0,external_node_fs_promises_namespaceObject.stat)(src).catch(() => null)))
            throw Object.assign(new Error(`${src} vanished`), { code: 'ENOENT' });
        throw new RootfsError(`copying the root filesystem for this run failed: ${(e.stderr ?? e.message).trim()}`);
    }
    return 'copy';
}

;// CONCATENATED MODULE: ./src/rootfs/index.ts
// Root filesystems: image -> cached ext4 -> per-run writable copy.




;// CONCATENATED MODULE: external "node:url"
const external_node_url_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:url");
;// CONCATENATED MODULE: ./src/engine/assets.ts
// The runtime assets shipped in dist/ beside the JS: the guest kernel and
// guest init. Each can be overridden for development (VMSTEP_KERNEL,
// VMSTEP_INIT). The guest kernel: --kernel / the `kernel` input, else
// $VMSTEP_KERNEL, else the gzip'd vmlinux shipped in dist/. A gzip'd kernel is unpacked once into
// the cache, under the hash of its bytes, so every later run boots straight
// from the cached ELF and two versions of vmstep never share a file.







const BUNDLED_KERNEL = 'vmlinux.gz';
const BUNDLED_INIT = 'vmstep-init';
/**
 * Directories that may hold the runtime assets: the directory of the running
 * entry script (dist/ when installed or run as an action), then dist/ of the
 * source tree (development and tests).
 */
function assetDirs() {
    const dirs = [];
    const entry = process.argv[1];
    if (entry) {
        try {
            dirs.push((0,external_node_path_namespaceObject.dirname)((0,external_node_fs_namespaceObject.realpathSync)(entry)));
        }
        catch {
            // An entry that is not a file (node -e): nothing to look at.
        }
    }
    const here = (0,external_node_path_namespaceObject.dirname)((0,external_node_url_namespaceObject.fileURLToPath)(import.meta.url));
    dirs.push(here, (0,external_node_path_namespaceObject.join)(here, '..', '..', 'dist'));
    return [...new Set(dirs)].filter((d) => (0,external_node_fs_namespaceObject.existsSync)(d));
}
function isGzip(path) {
    const fd = (0,external_node_fs_namespaceObject.openSync)(path, 'r');
    try {
        const head = Buffer.alloc(2);
        return (0,external_node_fs_namespaceObject.readSync)(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
    }
    finally {
        (0,external_node_fs_namespaceObject.closeSync)(fd);
    }
}
/** An uncompressed kernel path: the given one, or its unpacked copy in the cache. */
function kernelPath(explicit, cacheDir) {
    const chosen = explicit ?? (process.env.VMSTEP_KERNEL || null) ?? assetDirs().map((d) => (0,external_node_path_namespaceObject.join)(d, BUNDLED_KERNEL)).find((p) => (0,external_node_fs_namespaceObject.existsSync)(p)) ?? null;
    if (chosen === null) {
        throw new errors_VmstepError(`no guest kernel: ${BUNDLED_KERNEL} is not next to vmstep (looked in ${assetDirs().join(', ')})`, 'reinstall vmstep, run `npm run build` in a source checkout, or pass --kernel PATH (VMSTEP_KERNEL=PATH)');
    }
    if (!(0,external_node_fs_namespaceObject.existsSync)(chosen)) {
        throw new errors_VmstepError(`guest kernel ${chosen} does not exist`, 'check --kernel / the kernel input / VMSTEP_KERNEL');
    }
    if (!isGzip(chosen))
        return chosen;
    const gz = (0,external_node_fs_namespaceObject.readFileSync)(chosen);
    const hash = (0,external_node_crypto_namespaceObject.createHash)('sha256').update(gz).digest('hex').slice(0, 32);
    const dir = (0,external_node_path_namespaceObject.join)(cacheDir ?? defaultCacheDir(), 'kernel', hash);
    const out = (0,external_node_path_namespaceObject.join)(dir, 'vmlinux');
    if ((0,external_node_fs_namespaceObject.existsSync)(out))
        return out;
    let elf;
    try {
        elf = (0,external_node_zlib_namespaceObject.gunzipSync)(gz);
    }
    catch (err) {
        throw new errors_VmstepError(`guest kernel ${chosen} is not a valid gzip file (${err.message})`, 'rebuild it (npm run build) or pass an uncompressed vmlinux', { cause: err });
    }
    (0,external_node_fs_namespaceObject.mkdirSync)(dir, { recursive: true });
    // Unpacked under a temporary name and renamed, so a concurrent run never boots half a kernel.
    const tmp = `${out}.tmp-${process.pid}`;
    (0,external_node_fs_namespaceObject.writeFileSync)(tmp, elf);
    (0,external_node_fs_namespaceObject.renameSync)(tmp, out);
    return out;
}
/** The static guest init binary that the root filesystem carries at /.vmstep/init. */
function initPath() {
    const chosen = process.env.VMSTEP_INIT || assetDirs().map((d) => (0,external_node_path_namespaceObject.join)(d, BUNDLED_INIT)).find((p) => (0,external_node_fs_namespaceObject.existsSync)(p));
    if (!chosen) {
        throw new errors_VmstepError(`no guest init: ${BUNDLED_INIT} is not next to vmstep (looked in ${assetDirs().join(', ')})`, 'reinstall vmstep, run `npm run build` in a source checkout, or set VMSTEP_INIT=PATH');
    }
    return chosen;
}

;// CONCATENATED MODULE: ./src/engine/console.ts
// Follows the guest's serial console log as the VMM appends to it, for
// --debug: the console goes to vmstep's stderr while the guest runs, not
// only after it ends (a hung boot is exactly when it is needed).

const POLL_MS = 50;
class ConsoleFollower {
    path;
    onChunk;
    fd = null;
    offset = 0;
    timer;
    buf = Buffer.alloc(64 * 1024);
    constructor(path, onChunk) {
        this.path = path;
        this.onChunk = onChunk;
        this.timer = setInterval(() => {
            try {
                this.poll();
            }
            catch {
                // A console that cannot be read is not worth failing the run for.
            }
        }, POLL_MS);
        this.timer.unref();
    }
    poll() {
        if (this.fd === null) {
            try {
                this.fd = (0,external_node_fs_namespaceObject.openSync)(this.path, 'r');
            }
            catch {
                return; // not created yet
            }
        }
        for (;;) {
            const n = (0,external_node_fs_namespaceObject.readSync)(this.fd, this.buf, 0, this.buf.length, this.offset);
            if (n <= 0)
                return;
            this.offset += n;
            this.onChunk(Buffer.from(this.buf.subarray(0, n)));
        }
    }
    /** Reads what is left and stops. */
    stop() {
        clearInterval(this.timer);
        try {
            this.poll();
        }
        finally {
            if (this.fd !== null)
                (0,external_node_fs_namespaceObject.closeSync)(this.fd);
            this.fd = null;
        }
    }
}

;// CONCATENATED MODULE: ./src/vm/assets.ts
// Where the native parts are: $VMSTEP_VMM / $VMSTEP_ADDON when set
// (development, tests), else next to the running bundle (dist/), else the
// source tree's dist/.



function candidateDirs() {
    const dirs = [];
    const entry = process.argv[1];
    if (entry) {
        try {
            dirs.push((0,external_node_path_namespaceObject.dirname)((0,external_node_fs_namespaceObject.realpathSync)(entry)));
        }
        catch {
            // `node -e`: no entry file.
        }
    }
    const here = (0,external_node_path_namespaceObject.dirname)((0,external_node_url_namespaceObject.fileURLToPath)(import.meta.url));
    dirs.push(here, (0,external_node_path_namespaceObject.join)(here, '..', '..', 'dist'));
    return [...new Set(dirs)];
}
function find(envVar, file) {
    const fromEnv = process.env[envVar];
    if (fromEnv) {
        if (!(0,external_node_fs_namespaceObject.existsSync)(fromEnv))
            throw new Error(`${envVar}=${fromEnv} does not exist: unset it or point it at a built ${file} (native/build.sh OUT_DIR)`);
        return fromEnv;
    }
    const dirs = candidateDirs();
    const found = dirs.map((d) => (0,external_node_path_namespaceObject.join)(d, file)).find((p) => (0,external_node_fs_namespaceObject.existsSync)(p));
    if (!found) {
        throw new Error(`${file} not found (looked in ${dirs.join(', ')}): run 'npm run build', or set ${envVar} to a built ${file}`);
    }
    return found;
}
/** The VMM executable. */
const vmmPath = () => find('VMSTEP_VMM', 'vmstep-vmm');
/** The node addon. */
const addonPath = () => find('VMSTEP_ADDON', 'vmstep.node');

;// CONCATENATED MODULE: ./src/vm/probe.ts
// Can this host run vmstep's guests? The VMM's probe opens /dev/kvm, checks
// the API and capabilities, and boots a tiny guest that runs the FPU state
// instructions Linux needs at boot (see native/src/kvm/probe.h): a KVM that
// cannot emulate them (kvm_pvm) runs tiny guests but not Linux.



let addon = null;
/** The native addon, loaded once. Throws with the fix when it is missing or broken. */
function loadAddon() {
    if (addon)
        return addon;
    const path = addonPath();
    try {
        addon = /* createRequire() */ undefined(path);
    }
    catch (err) {
        throw new Error(`cannot load the vmstep addon ${path}: ${err.message}; rebuild it (npm run build)`, { cause: err });
    }
    return addon;
}
/**
 * Probes /dev/kvm (or `devicePath`). Uses the addon in-process; where the
 * addon cannot be loaded, asks the VMM executable (`vmstep-vmm --probe`).
 */
function probeKvm(devicePath = '/dev/kvm') {
    let viaAddon = null;
    try {
        viaAddon = loadAddon();
    }
    catch {
        viaAddon = null;
    }
    if (viaAddon) {
        const p = viaAddon.probeKvm(devicePath);
        return { available: p.available, canRunLinux: p.canRunLinux, reason: p.reason, module: p.module };
    }
    if (devicePath !== '/dev/kvm')
        throw new Error('probing a device other than /dev/kvm needs the addon');
    const res = (0,external_node_child_process_namespaceObject.spawnSync)(vmmPath(), ['--probe'], { encoding: 'utf8', timeout: 10_000 });
    const line = res.stdout?.trim().split('\n').pop();
    if (!line)
        throw new Error(`vmstep-vmm --probe printed nothing (${res.error?.message ?? `exit ${res.status}`}): ${res.stderr?.trim() ?? ''}`);
    const p = JSON.parse(line);
    return { available: p.available, canRunLinux: p.canRunLinux, reason: p.reason, module: p.module ?? '' };
}

;// CONCATENATED MODULE: ./src/vm/cmdline.ts
// The guest kernel command line, in one place. The base is Firecracker's
// (fast boot, reboot through the i8042 so that a guest's reboot() ends the
// VM, no PCI probing), plus our root disk and guest init. The VMM appends
// the virtio_mmio.device= entries for the devices it creates.
//
// The serial console: with `debug` the kernel logs everything to it (every
// byte is a VM exit, so this costs boot time); otherwise it stays, but
// prints only emergencies (loglevel=1), so that a panic still reaches the
// VMM's console ring buffer and the caller gets its last lines.
const BASE_CMDLINE = [
    'reboot=k',
    'panic=1',
    'nomodule',
    'i8042.noaux',
    'i8042.nomux',
    'i8042.dumbkbd',
    'swiotlb=noforce',
    'pci=off',
    'root=/dev/vda',
    'rw',
    'init=/.vmstep/init',
];
const CONSOLE_DEBUG = ['8250.nr_uarts=1', 'console=ttyS0'];
const CONSOLE_QUIET = ['8250.nr_uarts=1', 'console=ttyS0', 'quiet', 'loglevel=1'];
/** The full command line: base, console settings, then the caller's extra arguments. */
function kernelCmdline(options) {
    const parts = [...BASE_CMDLINE, ...(options.debug ? CONSOLE_DEBUG : CONSOLE_QUIET)];
    const extra = options.extra?.trim();
    if (extra)
        parts.push(extra);
    return parts.join(' ');
}

;// CONCATENATED MODULE: ./src/vm/launch.ts
// Starting a guest: vmstep-vmm runs it in its own process (jailed once set
// up; never inside Node). The VMM reports on fd 3, one JSON object per line:
// {"event":"ready"} when the guest is about to run, then
// {"event":"exit","reason":...,"detail":...,"consoleTail":...} last.
// launchVm resolves at "ready" (or rejects with the VMM's own explanation
// when set-up fails), and `exited` always resolves with why the VM ended,
// also when the VMM itself died.




const EXIT_REASONS = ['poweroff', 'reset', 'triple-fault', 'panic', 'timeout', 'killed', 'error'];
/** How long the VMM gets to stop after SIGTERM, and beyond its own timeout, before SIGKILL. */
const GRACE_MS = 3000;
const STDERR_KEEP = 4096;
/** vmstep-vmm's argv for these options (status on fd 3). */
function vmmArgs(o) {
    const args = ['--kernel', o.kernelPath, '--vcpus', String(o.vcpus), '--memory-mib', String(o.memoryMiB)];
    for (const d of o.disks)
        args.push(d.readOnly ? '--disk-ro' : '--disk', d.path);
    args.push('--cmdline', kernelCmdline({ debug: o.debug, extra: o.cmdline }));
    if (o.vsockUdsPath)
        args.push('--vsock-uds', o.vsockUdsPath);
    if (o.consoleLogPath)
        args.push('--console-log', o.consoleLogPath);
    if (o.timeoutMs > 0)
        args.push('--timeout-ms', String(Math.ceil(o.timeoutMs)));
    if (o.pinCpus && o.pinCpus.length > 0)
        args.push('--pin-cpus', o.pinCpus.join(','));
    args.push('--status-fd', '3');
    return args;
}
/** One status line from the VMM, or null when it is not one we know. */
function parseStatusLine(line) {
    let v;
    try {
        v = JSON.parse(line);
    }
    catch {
        return null;
    }
    if (typeof v !== 'object' || v === null)
        return null;
    const o = v;
    if (o.event === 'ready') {
        const pinned = Array.isArray(o.pinnedCpus) && o.pinnedCpus.every((c) => Number.isInteger(c)) ? { cpus: o.pinnedCpus } : null;
        const pinning = pinned ?? (typeof o.pinError === 'string' ? { error: o.pinError } : null);
        return { event: 'ready', ...(typeof o.cmdline === 'string' ? { cmdline: o.cmdline } : {}), ...(pinning ? { pinning } : {}) };
    }
    if (o.event === 'exit' && EXIT_REASONS.includes(o.reason)) {
        return {
            event: 'exit',
            reason: o.reason,
            detail: typeof o.detail === 'string' ? o.detail : '',
            consoleTail: typeof o.consoleTail === 'string' ? o.consoleTail : '',
        };
    }
    return null;
}
function validate(o) {
    if (!Number.isInteger(o.vcpus) || o.vcpus < 1 || o.vcpus > 32)
        throw new Error(`vcpus must be an integer from 1 to 32, got ${o.vcpus}`);
    if (!Number.isInteger(o.memoryMiB) || o.memoryMiB < 16)
        throw new Error(`memoryMiB must be an integer of at least 16, got ${o.memoryMiB}`);
    if (o.disks.length > 15)
        throw new Error(`at most 15 disks, got ${o.disks.length}`);
}
async function launchVm(options) {
    validate(options);
    const vmm = options.vmmPath ?? vmmPath();
    const child = (0,external_node_child_process_namespaceObject.spawn)(vmm, vmmArgs(options), { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const status = child.stdio[3];
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d) => {
        stderr = (stderr + d).slice(-STDERR_KEEP);
    });
    let exitLine = null;
    let killedByUs = false;
    let timedOut = false;
    let onReady = null;
    let pinning;
    let started = false;
    let buffered = '';
    status.setEncoding('utf8');
    status.on('data', (d) => {
        buffered += d;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
            const msg = parseStatusLine(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
            if (msg?.event === 'ready') {
                started = true;
                pinning = msg.pinning;
                onReady?.();
            }
            else if (msg?.event === 'exit')
                exitLine = { reason: msg.reason, detail: msg.detail, consoleTail: msg.consoleTail };
        }
    });
    // Swallow errors on the pipes: the process's exit is what counts.
    status.on('error', () => { });
    const timers = [];
    const exited = new Promise((resolve) => {
        const finish = (code, signal) => {
            for (const t of timers)
                clearTimeout(t);
            // The VMM created the socket (it refuses to start when the path
            // exists) but, jailed, cannot remove it: that is our job.
            if (options.vsockUdsPath && started)
                (0,external_node_fs_namespaceObject.rmSync)(options.vsockUdsPath, { force: true });
            if (exitLine)
                return resolve(exitLine);
            if (timedOut)
                return resolve({ reason: 'timeout', detail: `the VM ran past its timeout of ${options.timeoutMs} ms and the VMM was killed`, consoleTail: '' });
            if (killedByUs)
                return resolve({ reason: 'killed', detail: `the VMM was stopped (${signal ?? `exit ${code}`})`, consoleTail: '' });
            const why = stderr.trim();
            if (signal === 'SIGSYS') {
                return resolve({ reason: 'error', detail: `the VMM was killed by its seccomp jail (SIGSYS): a system call it may not make; this is a vmstep bug, please report it${why ? `: ${why}` : ''}`, consoleTail: '' });
            }
            resolve({ reason: 'error', detail: `the VMM ended without a report (${signal ? `signal ${signal}` : `exit status ${code}`})${why ? `: ${why}` : ''}`, consoleTail: '' });
        };
        child.on('close', finish);
        child.on('error', (err) => {
            exitLine ??= { reason: 'error', detail: `cannot start the VMM ${vmm}: ${err.message}`, consoleTail: '' };
            finish(null, null);
        });
    });
    const kill = () => {
        if (child.exitCode !== null || child.signalCode !== null)
            return;
        killedByUs = true;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
        t.unref();
        timers.push(t);
    };
    // The VMM enforces the timeout itself; this is the backstop that always
    // ends the VM, even if the VMM stopped responding.
    if (options.timeoutMs > 0) {
        const t = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
        }, options.timeoutMs + GRACE_MS);
        t.unref();
        timers.push(t);
    }
    await new Promise((resolve, reject) => {
        onReady = resolve;
        void exited.then((exit) => reject(new Error(`the VM did not start: ${exit.detail}`)));
    });
    if (child.pid === undefined)
        throw new Error(`cannot start the VMM ${vmm}`);
    return { pid: child.pid, exited, kill, ...(pinning ? { pinning } : {}) };
}

;// CONCATENATED MODULE: ./src/vm/index.ts
// The VM, host side (issue 3): probe the host's KVM, launch a guest in the
// jailed VMM process, learn why it ended.





;// CONCATENATED MODULE: ./src/engine/vm-port.ts


;// CONCATENATED MODULE: ./src/engine/kvm-check.ts
// Before the first VM on a host: can its KVM boot an unmodified Linux
// kernel? Some cannot (kvm_pvm, the software hypervisor of some sandboxes,
// faults on the FPU set-up; a guest there never reaches init), and a run
// there must end at once with the reason, not at its timeout. The VMM's
// probe boots a tiny guest (a few ms, tens on slow hosts), so a positive
// answer is remembered for the rest of the host's boot; a negative one is
// asked again each time (it is on a failing path anyway, and the host may
// have been fixed).




function bootId() {
    try {
        return (0,external_node_fs_namespaceObject.readFileSync)('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    }
    catch {
        return '';
    }
}
function checkKvm(cacheDir, probe = () => probeKvm()) {
    const id = bootId();
    const file = (0,external_node_path_namespaceObject.join)(cacheDir, 'kvm-probe.json');
    if (id) {
        try {
            const cached = JSON.parse((0,external_node_fs_namespaceObject.readFileSync)(file, 'utf8'));
            if (cached.bootId === id && cached.canRunLinux === true)
                return;
        }
        catch {
            // No record yet: probe.
        }
    }
    let p;
    try {
        p = probe();
    }
    catch {
        // No addon and no VMM to probe with: launching will say what is missing.
        return;
    }
    if (!p.available || !p.canRunLinux) {
        // The VMM's reason already names the cause and the fix, in its own words.
        const generic = p.available ? "this host's KVM cannot boot a Linux guest" : '/dev/kvm is not usable';
        throw new errors_VmstepError(p.reason.trim() || generic, 'see `vmstep doctor` for the rest of this host');
    }
    if (!id)
        return;
    try {
        (0,external_node_fs_namespaceObject.mkdirSync)(cacheDir, { recursive: true });
        const tmp = `${file}.tmp-${process.pid}`;
        (0,external_node_fs_namespaceObject.writeFileSync)(tmp, JSON.stringify({ bootId: id, canRunLinux: true, module: p.module }));
        (0,external_node_fs_namespaceObject.renameSync)(tmp, file);
    }
    catch {
        // A read-only cache only costs a probe per run.
    }
}

;// CONCATENATED MODULE: ./src/engine/leftovers.ts
// Cleaning up after a run whose process died: a cancelled GitHub job kills
// the action's Node process, which may leave the VMM process running and the
// scratch directory (a writable disk image of the whole root filesystem) on
// disk. The run records what it holds (RunResources); a later process (the
// action's post step) reads that record and releases it here.
//
// The record comes from a file, so it is checked before it is acted on: a PID
// is signalled only when it is still the same process (same start time) and
// a directory is removed only when it is a vmstep scratch directory.




const SCRATCH_PREFIX = 'vmstep-run-';
function createScratchDir(root) {
    return (0,external_node_fs_namespaceObject.mkdtempSync)((0,external_node_path_namespaceObject.join)(root ?? (0,external_node_os_namespaceObject.tmpdir)(), SCRATCH_PREFIX));
}
/** A process's start time in clock ticks since boot (/proc/PID/stat field 22), or null when it is gone. */
function processStartTicks(pid) {
    let stat;
    try {
        stat = (0,external_node_fs_namespaceObject.readFileSync)(`/proc/${pid}/stat`, 'utf8');
    }
    catch {
        return null;
    }
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so field 22 is fields[19].
    const ticks = Number(fields[19]);
    if (fields[0] === 'Z')
        return null; // a zombie holds nothing
    return Number.isFinite(ticks) ? ticks : null;
}
async function releaseResources(res) {
    const report = { killedPid: null, removedDir: null, skipped: [] };
    const pid = res.vmmPid;
    if (typeof pid === 'number' && Number.isInteger(pid) && pid > 1) {
        const ticks = processStartTicks(pid);
        if (ticks === null) {
            // Already gone: the normal case after a run that ended by itself.
        }
        else if (res.vmmStartTicks !== undefined && ticks !== res.vmmStartTicks) {
            report.skipped.push(`PID ${pid} now belongs to another process; not signalled`);
        }
        else {
            try {
                process.kill(pid, 'SIGKILL');
                report.killedPid = pid;
                await waitGone(pid, ticks, 5000);
            }
            catch (err) {
                const code = err.code;
                if (code !== 'ESRCH')
                    report.skipped.push(`could not stop the VMM (PID ${pid}): ${code ?? err.message}`);
            }
        }
    }
    const dir = res.scratchDir;
    if (typeof dir === 'string' && dir !== '') {
        if (!basename(dir).startsWith(SCRATCH_PREFIX)) {
            report.skipped.push(`${dir} is not a vmstep scratch directory; not removed`);
        }
        else if (exists(dir)) {
            rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
            report.removedDir = dir;
        }
    }
    // The run's writable disk copy lives in the cache (runs/<pid>-*), named
    // after the process that made it; the rootfs module removes those whose
    // process is gone.
    if (typeof res.cacheDir === 'string' && res.cacheDir !== '') {
        await new RootfsCache(res.cacheDir).sweep().catch((err) => report.skipped.push(`could not sweep ${res.cacheDir}: ${err.message}`));
    }
    return report;
}
function exists(path) {
    try {
        statSync(path);
        return true;
    }
    catch {
        return false;
    }
}
async function waitGone(pid, ticks, ms) {
    const end = Date.now() + ms;
    while (Date.now() < end && processStartTicks(pid) === ticks)
        await new Promise((r) => setTimeout(r, 20));
}
/** Parses a resources record read from a file; null when it is not one. */
function parseResources(text) {
    try {
        const v = JSON.parse(text);
        if (typeof v !== 'object' || v === null || typeof v.scratchDir !== 'string')
            return null;
        const out = { scratchDir: v.scratchDir };
        if (typeof v.vmmPid === 'number')
            out.vmmPid = v.vmmPid;
        if (typeof v.vmmStartTicks === 'number')
            out.vmmStartTicks = v.vmmStartTicks;
        if (typeof v.cacheDir === 'string')
            out.cacheDir = v.cacheDir;
        return out;
    }
    catch {
        return null;
    }
}

;// CONCATENATED MODULE: ./src/engine/shell.ts
// Shell-style words without a shell: the action's `args` input is written the
// way people write a command line (quotes group, backslashes escape), but
// nothing is expanded: no variables, globs or substitutions, so what the
// workflow says is exactly what the command gets. And the reverse, for
// showing an argv to a person.

function splitShellWords(text, what) {
    const words = [];
    let word = '';
    let inWord = false;
    let quote = null;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quote === "'") {
            if (c === "'")
                quote = null;
            else
                word += c;
            continue;
        }
        if (quote === '"') {
            if (c === '"')
                quote = null;
            else if (c === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]))
                word += text[++i] === '\n' ? '' : text[i];
            else
                word += c;
            continue;
        }
        if (c === "'" || c === '"') {
            quote = c;
            inWord = true;
        }
        else if (c === '\\' && i + 1 < text.length) {
            const next = text[++i];
            if (next !== '\n') {
                word += next;
                inWord = true;
            }
        }
        else if (/\s/.test(c)) {
            if (inWord)
                words.push(word);
            word = '';
            inWord = false;
        }
        else {
            word += c;
            inWord = true;
        }
    }
    if (quote)
        throw new VmstepError(`${what} has an unclosed ${quote === '"' ? 'double' : 'single'} quote`, `close the quote, or escape it with a backslash`);
    if (inWord)
        words.push(word);
    return words;
}
/** An argv as a person would type it: sh -c 'echo "hi"' */
function shellQuote(argv) {
    return argv.map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

;// CONCATENATED MODULE: ./src/engine/bench-pinning.ts
// Which host CPUs a benchmark's vCPUs get to themselves. A vCPU thread that
// the host scheduler moves between cores loses its caches and lands on
// whatever core is free, so the same code measures differently run to run.
// Pinning each vCPU thread to a core of its own removes that. A core is only
// "dedicated" if something else is left for the rest: CPU 0 (which takes most
// interrupts) and its SMT siblings stay with the host, Node and the VMM's
// event loop; SMT siblings of a chosen core are skipped, as they share its
// execution units. Too few cores left: no pinning, and the reason says why.

/** Parses a kernel CPU list such as "0-3,8,10-11". */
function parseCpuList(text) {
    const out = [];
    for (const part of text.trim().split(',')) {
        if (part === '')
            continue;
        const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
        if (!m)
            return [];
        const lo = Number(m[1]);
        const hi = m[2] !== undefined ? Number(m[2]) : lo;
        if (hi < lo || hi - lo > 4096)
            return [];
        for (let c = lo; c <= hi; c++)
            out.push(c);
    }
    return out;
}
function readText(path) {
    try {
        return (0,external_node_fs_namespaceObject.readFileSync)(path, 'utf8').trim();
    }
    catch {
        return null;
    }
}
/** This host, from /proc/self/status and sysfs (under `root`, for tests). */
function hostTopology(root = '') {
    const status = readText(`${root}/proc/self/status`) ?? '';
    const allowed = parseCpuList(/^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '');
    return {
        allowed,
        coreOf: (cpu) => {
            const base = `${root}/sys/devices/system/cpu/cpu${cpu}/topology`;
            return `${readText(`${base}/physical_package_id`) ?? '0'}:${readText(`${base}/core_id`) ?? `cpu${cpu}`}`;
        },
    };
}
function chooseVcpuCpus(vcpus, topology = hostTopology()) {
    const allowed = [...topology.allowed].sort((a, b) => a - b);
    if (allowed.length === 0)
        return { cpus: null, reason: 'the CPUs this process may use could not be read' };
    // The host keeps the core of its first allowed CPU (CPU 0 on most hosts) with all of its siblings.
    const hostCore = topology.coreOf(allowed[0]);
    const seen = new Set([hostCore]);
    const candidates = [];
    // Highest-numbered first: low CPUs are where the host's own work tends to land.
    for (const cpu of [...allowed].reverse()) {
        const core = topology.coreOf(cpu);
        if (seen.has(core))
            continue;
        seen.add(core);
        candidates.push(cpu);
    }
    if (candidates.length < vcpus) {
        return {
            cpus: null,
            reason: `${vcpus} vCPU${vcpus === 1 ? '' : 's'} need ${vcpus + 1} physical cores (one stays with the host), and this process may use ${seen.size}`,
        };
    }
    return { cpus: candidates.slice(0, vcpus).sort((a, b) => a - b) };
}

;// CONCATENATED MODULE: ./src/engine/units.ts
// Sizes and durations as people write them on a command line or in a
// workflow file. One parser for both faces, so `--memory 2G` and
// `memory: 2G` mean the same and fail with the same words.

// Powers of 1024 for every unit, as docker does for --memory: "512m",
// "512M", "512MB" and "512MiB" are all 512 * 2^20 bytes.
const SIZE_UNITS = {
    '': 1,
    k: 2 ** 10,
    m: 2 ** 20,
    g: 2 ** 30,
    t: 2 ** 40,
};
/**
 * Parses a size such as `512M`, `2G`, `1.5GiB`, `64m` or `1073741824` into
 * bytes. `what` names the option in the error (`--memory`, `memory`).
 */
function parseSize(input, what) {
    if (typeof input === 'number') {
        if (!Number.isFinite(input) || input <= 0)
            throw badSize(String(input), what);
        return Math.floor(input);
    }
    const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(input);
    if (!m)
        throw badSize(input, what);
    const unit = m[2].toLowerCase();
    const u = /^(?:b?|([kmgt])(?:i?b)?)$/.exec(unit);
    if (!u)
        throw badSize(input, what);
    const scale = SIZE_UNITS[u[1] ?? ''];
    const bytes = Math.round(Number(m[1]) * scale);
    if (!Number.isSafeInteger(bytes) || bytes <= 0)
        throw badSize(input, what);
    return bytes;
}
function badSize(input, what) {
    return new errors_VmstepError(`${what} "${input}" is not a size`, 'write a positive number with a unit, such as 512M, 2G or 1.5GiB (units are powers of 1024: K, M, G, T)');
}
const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/**
 * Parses a duration into milliseconds: a bare number is seconds (`30`,
 * `1.5`), or units may be combined (`500ms`, `90s`, `5m`, `1h30m`).
 */
function parseDuration(input, what) {
    if (typeof input === 'number') {
        if (!Number.isFinite(input) || input < 0)
            throw badDuration(String(input), what);
        return Math.round(input * 1000);
    }
    const s = input.trim();
    if (/^\d+(?:\.\d+)?$/.test(s))
        return Math.round(Number(s) * 1000);
    const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    let total = 0;
    let consumed = 0;
    for (let m = part.exec(s); m; m = part.exec(s)) {
        total += Number(m[1]) * DURATION_UNITS[m[2]];
        consumed = part.lastIndex;
    }
    if (s === '' || consumed !== s.length)
        throw badDuration(input, what);
    return Math.round(total);
}
function badDuration(input, what) {
    return new errors_VmstepError(`${what} "${input}" is not a duration`, 'write seconds (30, 1.5) or a number with units (500ms, 90s, 5m, 1h30m); 0 means no limit');
}
/** 1536 -> "1.5 KiB"; for people, never parsed back. */
function formatBytes(bytes) {
    if (bytes < 1024)
        return `${bytes} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = bytes / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return `${v.toFixed(digits).replace(/\.0+$|(\.\d*?)0+$/, '$1')} ${units[i]}`;
}
/**
 * 1234 -> "1.23 s", 87 -> "87 ms", 25000 -> "25 s", 300000 -> "5 min"; for
 * people, never parsed back. No trailing zeros: a limit the user wrote as 25
 * reads back as "25 s", not "25.00 s".
 */
function formatMs(ms) {
    if (ms < 1000)
        return `${Math.round(ms)} ms`;
    if (ms < 60_000)
        return `${(ms / 1000).toFixed(2).replace(/\.?0+$/, '')} s`;
    const m = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return s === 0 ? `${m} min` : `${m} min ${s} s`;
}

;// CONCATENATED MODULE: ./src/engine/run.ts
// One run, end to end: image -> root filesystem -> VM -> guest init -> result.
// This is the only module that knows all the pieces; the CLI and the action
// call runImage() and render what it reports. Every path out of here (the
// command's exit, a timeout, a crash of the VM, a cancellation, an error in
// any step) releases what the run took: the VMM process, the listening
// socket, the writable disk copy and the scratch directory.
















/** How long a guest that finished gets to power off by itself before its VMM is killed. */
const POWEROFF_GRACE_MS = 5000;
/** How long to wait for the VM's exit reason after the guest connection broke (it names the crash). */
const CRASH_REPORT_GRACE_MS = 1000;
/** The run was cancelled (Ctrl-C, a cancelled job). */
class RunCancelledError extends errors_VmstepError {
    name = 'RunCancelledError';
    constructor() {
        super('the run was cancelled', '');
    }
}
async function runImage(options, events = {}, control = {}) {
    const started = performance.now();
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const scratchDir = createScratchDir(options.scratchRoot);
    const resources = { scratchDir, cacheDir };
    const report = (r) => quietly(() => events.resources?.(r && { ...r }));
    const cleanups = [() => (0,external_node_fs_namespaceObject.rmSync)(scratchDir, { recursive: true, force: true })];
    report(resources);
    let result;
    try {
        result = await runSteps(options, events, control, { scratchDir, cacheDir, resources, report, cleanups });
    }
    finally {
        for (const cleanup of cleanups.reverse()) {
            try {
                await cleanup();
            }
            catch (err) {
                quietly(() => events.warning?.(`cleaning up after the run: ${err.message}`));
            }
        }
        report(null);
    }
    result.timings.totalMs = performance.now() - started;
    return result;
}
async function runSteps(options, events, control, scope) {
    const signal = control.signal;
    const checkCancelled = () => {
        if (signal?.aborted)
            throw new RunCancelledError();
    };
    const phase = phaseTimer(events);
    const vsockUdsPath = (0,external_node_path_namespaceObject.join)(scope.scratchDir, 'vsock');
    // sun_path holds 108 bytes; the guest's socket is the longest name used.
    if (Buffer.byteLength(`${vsockUdsPath}_1024`) > 107) {
        throw new errors_VmstepError(`the scratch directory ${scope.scratchDir} is too deep for a Unix socket path (at most 107 bytes)`, 'set TMPDIR to a shorter directory, such as /tmp');
    }
    // Assets first: a missing kernel or guest init should not cost a download.
    const kernel = kernelPath(options.kernel, scope.cacheDir);
    const init = initPath();
    // A mistyped local image path is reported as such, even on a host that could not run it.
    checkImageReference(options.image);
    // Nor should a KVM that cannot boot Linux cost a download. (A stand-in launcher, in tests, needs none.)
    if (!control.launchVm)
        checkKvm(scope.cacheDir);
    checkCancelled();
    phase.start('image', options.image);
    let image;
    try {
        image = await resolveImage(options.image, {
            cacheDir: scope.cacheDir,
            ...(options.credentials ? { credentials: { username: options.credentials.username, password: options.credentials.password } } : {}),
            ...(signal ? { signal } : {}),
            onProgress: downloadReporter(events),
        });
    }
    catch (err) {
        checkCancelled();
        throw err;
    }
    const imageMs = phase.end('image', `${image.reference} ${image.digest}`);
    const spec = buildSpec(image.config, options);
    checkCancelled();
    phase.start('rootfs', image.reference);
    const rootfsCache = new cache_RootfsCache(scope.cacheDir);
    const prepared = await rootfsCache.prepare(image, {
        initPath: init,
        ...(options.diskBytes !== null ? { diskBytes: options.diskBytes } : {}),
        onLayer: (i, n, digest) => quietly(() => events.progress?.(`unpacking layer ${i + 1}/${n} ${digest.slice(0, 19)}`)),
    });
    // Cleanups run last-in first-out: release (which starts refilling the spare
    // copy) before settle (which waits for it), so that no copy is still being
    // written when the run returns, nor during the next run's measurement.
    scope.cleanups.push(() => rootfsCache.settle(), () => prepared.release());
    const rootfsMs = phase.end('rootfs', prepared.cached ? `cached (${prepared.copy})` : 'built');
    checkCancelled();
    if (options.vcpus > (0,external_node_os_namespaceObject.availableParallelism)()) {
        quietly(() => events.warning?.(`${options.vcpus} vCPUs on a host with ${(0,external_node_os_namespaceObject.availableParallelism)()} CPUs: vCPUs will share cores, and timings will be noisy`));
    }
    phase.start('boot', `${options.vcpus} vCPU${options.vcpus === 1 ? '' : 's'}, ${formatBytes(options.memoryMiB * 2 ** 20)}`);
    const listener = await listenForGuest(vsockUdsPath);
    scope.cleanups.push(() => listener.close());
    const consoleLogPath = (0,external_node_path_namespaceObject.join)(scope.scratchDir, 'console.log');
    let follower = null;
    if (options.debug && events.console) {
        follower = new ConsoleFollower(consoleLogPath, (chunk) => quietly(() => events.console?.(chunk)));
        scope.cleanups.push(() => follower?.stop());
    }
    const launch = control.launchVm ?? launchVm;
    const pinChoice = options.pinVcpus ? chooseVcpuCpus(options.vcpus) : null;
    const bootStarted = performance.now();
    let vm;
    try {
        vm = await launch({
            kernelPath: kernel,
            disks: [{ path: prepared.runDiskPath, readOnly: false }],
            vcpus: options.vcpus,
            memoryMiB: options.memoryMiB,
            cmdline: options.kernelArgs.join(' '),
            vsockUdsPath,
            consoleLogPath,
            debug: options.debug,
            // The engine keeps the clock itself (it must also tell the guest's
            // command apart from its boot); the VMM's own limit is a backstop.
            timeoutMs: options.timeoutMs > 0 ? options.timeoutMs + 30_000 : 0,
            ...(pinChoice?.cpus ? { pinCpus: pinChoice.cpus } : {}),
        });
    }
    catch (err) {
        throw new errors_VmstepError(`${err.message}${kvmExplanation()}`, 'run `vmstep doctor` to check this host', { cause: err });
    }
    const vcpuPinning = pinChoice ? pinningReport(pinChoice, vm) : undefined;
    scope.resources.vmmPid = vm.pid;
    const ticks = processStartTicks(vm.pid);
    if (ticks !== null)
        scope.resources.vmmStartTicks = ticks;
    scope.report(scope.resources);
    scope.cleanups.push(() => stopVm(vm));
    // From here the time limit runs: it covers boot, command and outputs.
    const stop = stopConditions(vm, options.timeoutMs, signal);
    scope.cleanups.push(() => stop.dispose());
    const connected = await Promise.race([listener.accept().then((socket) => ({ kind: 'connected', socket })), stop.promise]);
    if (connected.kind !== 'connected') {
        if (connected.kind !== 'vm-exit')
            vm.kill();
        if (connected.kind === 'timeout')
            return timedOutResult(image, spec, options, { imageMs, rootfsMs, bootMs: performance.now() - bootStarted });
        if (connected.kind === 'cancelled')
            throw new RunCancelledError();
        throw vmStoppedError(connected.exit, 'before guest init connected');
    }
    const bootMs = phase.end('boot', `VMM pid ${vm.pid}`);
    phase.start('command', shellQuote(spec.argv));
    const files = [];
    const issues = [];
    const session = startGuestSession(connected.socket, spec, {
        ...(options.outputs.length > 0 ? { outputDir: options.outputDir } : {}),
        onFile: (f) => files.push({ guestPath: f.guestPath, hostPath: f.hostPath, bytes: f.size }),
        onOutputIssue: (i) => {
            issues.push({ request: i.request, path: i.path, reason: i.reason, message: i.message });
            quietly(() => events.warning?.(`output ${i.request || i.path}: ${i.message}`));
        },
    });
    if (options.outputs.length > 0)
        (0,external_node_fs_namespaceObject.mkdirSync)(options.outputDir, { recursive: true });
    const stdoutSink = sink(session.stdout, options.logDir && (0,external_node_path_namespaceObject.join)(options.logDir, 'stdout.txt'), (c) => events.stdout?.(c));
    const stderrSink = sink(session.stderr, options.logDir && (0,external_node_path_namespaceObject.join)(options.logDir, 'stderr.txt'), (c) => events.stderr?.(c));
    const commandStarted = performance.now();
    const settled = session.result.then((r) => ({ kind: 'done', r }), (err) => ({ kind: 'failed', err }));
    let outcome = await Promise.race([settled, stop.promise]);
    // Guest init powers off right after its last message: the VMM's exit can
    // overtake the end of the result still in the socket. Let it arrive.
    if (outcome.kind === 'vm-exit' && outcome.exit.reason === 'poweroff') {
        outcome = (await Promise.race([settled, delay(CRASH_REPORT_GRACE_MS).then(() => null)])) ?? outcome;
    }
    if (outcome.kind !== 'done')
        session.abort(new Error('the run was stopped'));
    // A time limit or a cancellation ends the VM at once: the command gets no say.
    if (outcome.kind === 'timeout' || outcome.kind === 'cancelled')
        vm.kill();
    // A run that did not finish has nothing more to deliver; a consumer that
    // stopped reading (a closed pipe) must not keep us waiting for the streams.
    if (outcome.kind !== 'done') {
        session.stdout.destroy();
        session.stderr.destroy();
    }
    // The streams end with the session either way; wait until every byte reached the consumer and the files.
    const [stdoutBytes, stderrBytes] = await Promise.all([stdoutSink.done, stderrSink.done]);
    if (outcome.kind === 'timeout') {
        const r = timedOutResult(image, spec, options, { imageMs, rootfsMs, bootMs });
        r.timings.commandMs = performance.now() - commandStarted;
        Object.assign(r, { stdoutBytes, stderrBytes, outputs: files, outputIssues: issues, stdoutFile: stdoutSink.path, stderrFile: stderrSink.path });
        phase.end('command', 'timed out');
        return r;
    }
    if (outcome.kind === 'cancelled')
        throw new RunCancelledError();
    if (outcome.kind === 'vm-exit')
        throw vmStoppedError(outcome.exit, 'while the command ran');
    if (outcome.kind === 'failed') {
        // A broken connection usually means the VM died: its exit names the cause better than the socket.
        const exit = await Promise.race([vm.exited, delay(CRASH_REPORT_GRACE_MS).then(() => null)]);
        if (exit && exit.reason !== 'poweroff')
            throw vmStoppedError(exit, 'while the command ran');
        throw sessionError(outcome.err);
    }
    const r = outcome.r;
    const guestCommandNs = r.timings.commandEndNs > r.timings.commandStartNs && r.timings.commandStartNs > 0 ? r.timings.commandEndNs - r.timings.commandStartNs : null;
    const commandMs = guestCommandNs !== null ? guestCommandNs / 1e6 : performance.now() - commandStarted;
    phase.end('command', `exit ${r.exit.code}`);
    if (r.exit.error)
        quietly(() => events.warning?.(r.exit.error));
    return {
        exitCode: r.exit.code,
        signal: r.exit.signalName,
        timedOut: false,
        image: { reference: image.reference, digest: image.digest },
        command: spec.argv,
        outputs: files,
        outputIssues: issues,
        timings: { imageMs, rootfsMs, bootMs, commandMs, totalMs: 0 },
        stdoutFile: stdoutSink.path,
        stderrFile: stderrSink.path,
        stdoutBytes,
        stderrBytes,
        outputDir: options.outputDir,
        ...(vcpuPinning ? { vcpuPinning } : {}),
    };
}
/** What became of the pinning asked for: the VMM says what it did; a launcher that says nothing pinned nothing. */
function pinningReport(choice, vm) {
    if (choice.cpus === null)
        return { pinned: false, cpus: [], reason: choice.reason };
    if (vm.pinning && 'cpus' in vm.pinning)
        return { pinned: true, cpus: vm.pinning.cpus, reason: '' };
    if (vm.pinning)
        return { pinned: false, cpus: [], reason: `the VMM could not pin its vCPU threads: ${vm.pinning.error}` };
    return { pinned: false, cpus: [], reason: 'the VM launcher does not pin vCPU threads' };
}
/** The run spec from the image's config and the user's overrides (docker run semantics, src/guest/command.ts). */
function buildSpec(config, options) {
    try {
        return runSpecFromImage({ Entrypoint: config.entrypoint, Cmd: config.cmd, Env: config.env, WorkingDir: config.workingDir, User: config.user }, {
            ...(options.entrypoint !== null ? { entrypoint: options.entrypoint } : {}),
            cmd: options.command,
            env: options.env,
            ...(options.workdir !== null ? { workdir: options.workdir } : {}),
            ...(options.user !== null ? { user: options.user } : {}),
            outputs: options.outputs,
            privileged: options.privileged,
        });
    }
    catch (err) {
        const message = err.message;
        // The guest module's words already say what is wrong; add where a command goes, unless they say it.
        const fix = /no command/.test(message) && !/give a command/.test(message) ? 'give a COMMAND after the image (the `run` or `args` input in the action)' : '';
        throw new errors_VmstepError(message, fix, { cause: err });
    }
}
function timedOutResult(image, spec, options, t) {
    return {
        exitCode: EXIT_TIMEOUT,
        signal: null,
        timedOut: true,
        image: { reference: image.reference, digest: image.digest },
        command: spec.argv,
        outputs: [],
        outputIssues: [],
        timings: { ...t, commandMs: 0, totalMs: 0 },
        stdoutFile: null,
        stderrFile: null,
        stdoutBytes: 0,
        stderrBytes: 0,
        outputDir: options.outputDir,
    };
}
/** Resolves with the first of: the time limit, a cancellation, the VM's exit. */
function stopConditions(vm, timeoutMs, signal) {
    let timer;
    let onAbort;
    const promise = new Promise((resolve) => {
        if (timeoutMs > 0)
            timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
        if (signal) {
            onAbort = () => resolve({ kind: 'cancelled' });
            if (signal.aborted)
                onAbort();
            else
                signal.addEventListener('abort', onAbort, { once: true });
        }
        vm.exited.then((exit) => resolve({ kind: 'vm-exit', exit }), (err) => resolve({ kind: 'vm-exit', exit: { reason: 'error', detail: err.message, consoleTail: '' } }));
    });
    return {
        promise,
        dispose() {
            clearTimeout(timer);
            if (onAbort)
                signal?.removeEventListener('abort', onAbort);
        },
    };
}
/** Waits for a clean power-off, then makes sure the VMM is gone. */
async function stopVm(vm) {
    const exited = await Promise.race([vm.exited.then(() => true, () => true), delay(POWEROFF_GRACE_MS).then(() => false)]);
    if (!exited) {
        vm.kill();
        await Promise.race([vm.exited.catch(() => { }), delay(POWEROFF_GRACE_MS)]);
    }
}
/**
 * Why this host's KVM may be the cause, asked only after a VM failed (the
 * probe boots a tiny guest: free of cost on the normal path). Empty when the
 * probe finds nothing wrong or cannot run.
 */
function kvmExplanation() {
    try {
        const p = probeKvm();
        return p.available && p.canRunLinux ? '' : ` (this host's KVM: ${p.reason})`;
    }
    catch {
        return '';
    }
}
function vmStoppedError(exit, when) {
    const last = exit.consoleTail
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .slice(-1)[0];
    const kvm = exit.reason === 'error' || exit.reason === 'triple-fault' ? kvmExplanation() : '';
    const detail = `${exit.reason}${exit.detail ? `: ${exit.detail}` : ''}${last ? `; console: ${last}` : ''}${kvm}`;
    const fix = exit.reason === 'panic'
        ? 'the guest kernel panicked: run again with --debug to see its console; give it more --memory if it ran out'
        : exit.reason === 'error'
            ? 'run `vmstep doctor` to check this host, and again with --debug to see the guest console'
            : 'run again with --debug to see the guest console';
    return new errors_VmstepError(`the VM stopped ${when} (${detail})`, fix);
}
function sessionError(err) {
    if (err instanceof errors_VmstepError)
        return err;
    if (err instanceof GuestError) {
        const fixes = {
            user: 'check --user / the user input against the image (its /etc/passwd and /etc/group)',
            workdir: 'check --workdir / the workdir input',
            spec: 'this vmstep and its guest init disagree: reinstall vmstep',
            hello: 'this vmstep and its guest init disagree: reinstall vmstep',
        };
        return new errors_VmstepError(err.message, fixes[err.stage] ?? 'run again with --debug to see the guest console', { cause: err });
    }
    return new errors_VmstepError(err?.message ?? String(err), 'run again with --debug to see the guest console', { cause: err });
}
/** Reads a guest stream to its end, into the live callback and (optionally) a file; resolves with the byte count. */
function sink(stream, path, live) {
    let bytes = 0;
    let file = null;
    if (path) {
        (0,external_node_fs_namespaceObject.mkdirSync)((0,external_node_path_namespaceObject.join)(path, '..'), { recursive: true });
        file = (0,external_node_fs_namespaceObject.createWriteStream)(path);
    }
    // A slow consumer or disk holds the guest (the session stops reading the
    // socket while the stream is paused), never host memory.
    let holds = 0;
    const hold = () => {
        if (holds++ === 0)
            stream.pause();
    };
    const release = () => {
        if (--holds === 0)
            stream.resume();
    };
    stream.on('data', (chunk) => {
        bytes += chunk.length;
        let pending;
        try {
            pending = live(chunk);
        }
        catch {
            pending = undefined;
        }
        if (pending instanceof Promise) {
            hold();
            pending.catch(() => { }).finally(release);
        }
        if (file && !file.write(chunk)) {
            hold();
            file.once('drain', release);
        }
    });
    const done = (async () => {
        await (0,promises_namespaceObject.finished)(stream).catch(() => { });
        if (file) {
            file.end();
            await (0,promises_namespaceObject.finished)(file);
        }
        return bytes;
    })();
    return { path: path || null, done };
}
function phaseTimer(events) {
    const starts = new Map();
    return {
        start(p, detail) {
            starts.set(p, performance.now());
            quietly(() => events.phaseStart?.(p, detail));
        },
        end(p, detail) {
            const ms = performance.now() - (starts.get(p) ?? performance.now());
            quietly(() => events.phaseEnd?.(p, ms, detail));
            return ms;
        },
    };
}
/** One progress line per finished layer download (registries), not one per chunk. */
function downloadReporter(events) {
    return (e) => {
        if (e.done)
            quietly(() => events.progress?.(`downloaded ${e.digest.slice(0, 19)} (${formatBytes(e.total)})`));
    };
}
function delay(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
/** Callbacks belong to the faces; one that throws must not break the run. */
function quietly(fn) {
    try {
        fn();
    }
    catch {
        // ignored on purpose: see above
    }
}

;// CONCATENATED MODULE: ./src/engine/bench.ts
// Benchmark mode: the same run, many times, each in a fresh VM from the
// cached root filesystem, then statistics and a verdict against a baseline.
// With a baseline image the two arms alternate (A B A B ...) so that drift on
// the host lands on both; with a baseline file the earlier run's samples are
// the baseline. Every measured run records the command's wall time as the
// guest measured it, plus the metrics its metrics file holds. The faces (CLI,
// action) render what this returns; the files it writes are the same for both.





const ARM_TITLE = { baseline: 'baseline', head: 'head' };
async function runBench(head, settings, events = {}, control = {}) {
    const engine = control.runImage ?? runImage;
    const warnings = [];
    const warn = (message) => {
        if (warnings.includes(message))
            return;
        warnings.push(message);
        bench_quietly(() => events.warning?.(message));
    };
    // A baseline file is read before the first VM: a bad one should not cost the runs.
    const fileBaseline = settings.baseline?.kind === 'file' ? readBaselineFile(settings.baseline.path) : null;
    const arms = settings.baseline?.kind === 'image' ? ['baseline', 'head'] : ['head'];
    const schedule = interleavedSchedule({ repeat: settings.repeat, warmup: settings.warmup, arms });
    (0,external_node_fs_namespaceObject.rmSync)((0,external_node_path_namespaceObject.join)(settings.resultsDir, 'runs'), { recursive: true, force: true });
    (0,external_node_fs_namespaceObject.mkdirSync)(settings.resultsDir, { recursive: true });
    const measured = { baseline: [], head: [] };
    const images = {};
    const runs = [];
    for (const [i, planned] of schedule.entries()) {
        if (control.signal?.aborted)
            break; // runImage below says so with its own error
        const dir = (0,external_node_path_namespaceObject.join)(settings.resultsDir, 'runs', `${planned.arm}-${planned.warmup ? 'warmup-' : ''}${planned.index + 1}`);
        const options = runOptionsFor(head, settings, planned.arm, dir);
        bench_quietly(() => events.runStart?.(planned, i + 1, schedule.length));
        const result = await engine(options, events.run ?? {}, control);
        bench_quietly(() => events.runEnd?.(planned, result));
        const what = `${ARM_TITLE[planned.arm]} ${planned.warmup ? 'warm-up ' : ''}run ${planned.index + 1}`;
        checkRunSucceeded(result, what, options);
        images[planned.arm] ??= result.image;
        const values = [wallTimeValue(result.timings.commandMs)];
        if (settings.metricsFile !== null) {
            const parsed = readMetrics(result, settings, what);
            for (const w of parsed.warnings)
                warn(w);
            values.push(...parsed.metrics);
        }
        runs.push({ arm: planned.arm, index: planned.index, warmup: planned.warmup, wallMs: result.timings.commandMs, metrics: values.length - 1, pinning: result.vcpuPinning ?? null, dir });
        if (!planned.warmup)
            measured[planned.arm].push(values);
    }
    const collect = (arm) => {
        try {
            const c = collectSeries(measured[arm], ARM_TITLE[arm]);
            for (const w of c.warnings)
                warn(w);
            return c.series;
        }
        catch (err) {
            throw new errors_VmstepError(err.message, 'make the benchmark report the same metrics, in the same units, in every run', { cause: err });
        }
    };
    const headSeries = collect('head');
    const headArm = { label: images.head?.reference ?? head.image, digest: images.head?.digest ?? null, series: headSeries };
    let baseline = null;
    if (settings.baseline?.kind === 'image') {
        baseline = { label: images.baseline?.reference ?? settings.baseline.image, digest: images.baseline?.digest ?? null, series: collect('baseline') };
    }
    else if (fileBaseline && settings.baseline?.kind === 'file') {
        baseline = { label: fileBaseline.context.image ?? (0,external_node_path_namespaceObject.basename)(settings.baseline.path), digest: fileBaseline.context.digest ?? null, series: fileBaseline.metrics };
    }
    let comparison;
    try {
        comparison = compareSeries(baseline?.series ?? [], headSeries, { test: settings.test, thresholdPercent: settings.thresholdPercent });
    }
    catch (err) {
        throw new errors_VmstepError(err.message, 'check the test and threshold settings', { cause: err });
    }
    const verdict = overallVerdict(comparison, baseline !== null);
    const labels = { baselineLabel: baseline?.label ?? '', headLabel: headArm.label };
    const title = 'vmstep benchmark';
    const markdown = renderMarkdownReport(comparison, { title, ...labels, warnings });
    const svg = renderSvgChart(comparison, { title, ...labels });
    const pinning = pinningOf(runs.filter((r) => !r.warmup));
    // Whether the vCPUs had cores of their own travels with the samples: a baseline measured otherwise is worth knowing about.
    const facts = { image: headArm.label, ...(headArm.digest ? { digest: headArm.digest } : {}), vcpuPinning: pinning.pinned ? `host CPU ${pinning.cpus.join(', ')}` : `none: ${pinning.reason}` };
    const files = writeFiles(settings.resultsDir, {
        results: serializeResultFile(createResultFile(headSeries, { ...facts, ...control.context })),
        bmf: `${JSON.stringify(toBencherMetricFormat(headSeries), null, 2)}\n`,
        ...splitGab(headSeries),
        report: renderMarkdownReport(comparison, { title, ...labels, warnings, chartMarkdown: `${renderTextChart(comparison)}\n\n_Every run as an image: chart.svg, beside this report._` }),
        chart: svg,
    });
    return {
        settings,
        head: headArm,
        baseline,
        comparison,
        verdict,
        regressed: comparison.regressed,
        regressionMessage: regressionMessage(comparison),
        runs,
        warnings,
        pinning,
        files,
        markdown,
        svg,
    };
}
/** The run of one arm: the head's options, the baseline's image, bench kernel arguments, its own directory. */
function runOptionsFor(head, settings, arm, dir) {
    const image = arm === 'baseline' && settings.baseline?.kind === 'image' ? settings.baseline.image : head.image;
    const outputs = settings.metricsFile !== null && !head.outputs.includes(settings.metricsFile) ? [...head.outputs, settings.metricsFile] : head.outputs;
    const kernelArgs = [...head.kernelArgs, ...BENCH_KERNEL_ARGS.filter((a) => !head.kernelArgs.includes(a))];
    return { ...head, image, outputs, kernelArgs, outputDir: (0,external_node_path_namespaceObject.join)(dir, 'output'), logDir: dir, pinVcpus: true };
}
function checkRunSucceeded(result, what, options) {
    const where = result.stderrFile ? `: its stderr is in ${result.stderrFile}` : '';
    if (result.timedOut) {
        throw new errors_VmstepError(`the ${what} ran past the time limit and was stopped`, `raise the timeout, or make the benchmark shorter${where}`);
    }
    if (result.exitCode !== 0) {
        const signal = result.signal ? ` (${result.signal})` : '';
        throw new errors_VmstepError(`the ${what} of ${options.image} exited with ${result.exitCode}${signal}`, `a benchmark must succeed to be measured${where}`);
    }
}
/** The metrics file of one run: found among its returned files, bounded, parsed. */
function readMetrics(result, settings, what) {
    const wanted = settings.metricsFile;
    const relative = wanted.startsWith('/') ? null : `/${external_node_path_namespaceObject.posix.normalize(wanted)}`;
    const file = result.outputs.find((o) => o.guestPath === external_node_path_namespaceObject.posix.normalize(wanted) || (relative !== null && o.guestPath.endsWith(relative)));
    if (!file) {
        const issue = result.outputIssues.find((i) => i.request === wanted);
        throw new errors_VmstepError(`the ${what} wrote no metrics file ${wanted}${issue ? ` (${issue.message})` : ''}`, 'make the benchmark write it in every run, or correct the metrics-file path (relative paths start at the working directory)');
    }
    const size = (0,external_node_fs_namespaceObject.statSync)(file.hostPath).size;
    if (size > MAX_METRICS_FILE_BYTES) {
        throw new errors_VmstepError(`the ${what} wrote a metrics file ${wanted} of ${size} bytes, over the ${MAX_METRICS_FILE_BYTES}-byte limit`, 'write only the results into it');
    }
    try {
        return parseMetricsFile((0,external_node_fs_namespaceObject.readFileSync)(file.hostPath), { format: settings.metricsFormat, source: wanted });
    }
    catch (err) {
        if (err instanceof MetricsFileError)
            throw new errors_VmstepError(`${what}: ${err.message}`, 'fix what the benchmark writes, or set the metrics format', { cause: err });
        throw err;
    }
}
function readBaselineFile(path) {
    let bytes;
    try {
        bytes = (0,external_node_fs_namespaceObject.readFileSync)(path);
    }
    catch (err) {
        const code = err.code ?? err.message;
        throw new errors_VmstepError(`cannot read the baseline file ${path} (${code})`, 'point it at the results.json an earlier vmstep bench run wrote (for example restored with actions/cache), or leave it unset', {
            cause: err,
        });
    }
    try {
        return parseResultFile(bytes, path);
    }
    catch (err) {
        if (err instanceof ResultFileError)
            throw new errors_VmstepError(err.message, '', { cause: err });
        throw err;
    }
}
function overallVerdict(c, hasBaseline) {
    if (!hasBaseline)
        return 'no-baseline';
    if (c.counts.regression > 0)
        return 'regression';
    if (c.counts.improvement > 0)
        return 'improvement';
    if (c.counts.inconclusive > 0)
        return 'inconclusive';
    return 'no-change';
}
function splitGab(series) {
    const gab = toGithubActionBenchmark(series);
    return { smallerIsBetter: `${JSON.stringify(gab.smallerIsBetter, null, 2)}\n`, biggerIsBetter: `${JSON.stringify(gab.biggerIsBetter, null, 2)}\n` };
}
const FILE_NAMES = {
    results: 'results.json',
    bmf: 'bmf.json',
    smallerIsBetter: 'github-action-benchmark-smaller.json',
    biggerIsBetter: 'github-action-benchmark-bigger.json',
    report: 'report.md',
    chart: 'chart.svg',
};
function writeFiles(dir, contents) {
    const files = {};
    for (const key of Object.keys(FILE_NAMES)) {
        files[key] = (0,external_node_path_namespaceObject.join)(dir, FILE_NAMES[key]);
        (0,external_node_fs_namespaceObject.writeFileSync)(files[key], contents[key]);
    }
    return files;
}
/** Pinned only when every measured run had its vCPUs on the same host CPUs: anything else measured apples and oranges. */
function pinningOf(runs) {
    const first = runs[0]?.pinning;
    if (!first)
        return { pinned: false, cpus: [], reason: 'no measured run reported its vCPU placement' };
    const unpinned = runs.find((r) => !r.pinning?.pinned);
    if (unpinned)
        return { pinned: false, cpus: [], reason: unpinned.pinning?.reason || 'a run was not pinned' };
    const same = runs.every((r) => r.pinning.cpus.join(',') === first.cpus.join(','));
    return same ? first : { pinned: false, cpus: [], reason: 'the runs were pinned to different host CPUs' };
}
function bench_quietly(fn) {
    try {
        fn();
    }
    catch {
        // Callbacks belong to the faces; one that throws must not break the benchmark.
    }
}

;// CONCATENATED MODULE: ./src/engine/env.ts
// Environment variables for the command, with docker run's semantics:
// `NAME=value` sets (the value is taken literally, quotes included),
// a bare `NAME` passes the host's value through when the host has one, and
// in files blank lines and lines starting with `#` are skipped. The action's
// multi-line `env` input is read with the same rules as `--env-file`.


/** One `-e` argument (or one line); returns `NAME=value`, or null when a bare NAME is unset on the host. */
function parseEnvAssignment(text, where, hostEnv = process.env) {
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    checkName(name, text, where);
    if (eq >= 0)
        return text;
    const value = hostEnv[name];
    return value === undefined ? null : `${name}=${value}`;
}
function checkName(name, text, where) {
    if (name === '') {
        throw new errors_VmstepError(`${where}: "${text}" has no variable name`, 'write NAME=value');
    }
    if (/\s/.test(name)) {
        throw new errors_VmstepError(`${where}: variable name "${name}" contains whitespace`, 'write NAME=value with no spaces around the name');
    }
    if (name.includes('\0') || text.includes('\0')) {
        throw new errors_VmstepError(`${where}: "${name}" contains a NUL byte`, 'remove the NUL byte; environment strings cannot hold one');
    }
}
/** Lines of an env file or of the action's `env` input. */
function parseEnvLines(text, where, hostEnv = process.env) {
    const out = [];
    const lines = text.split(/\r?\n/);
    lines.forEach((raw, i) => {
        const line = raw.replace(/^\s+/, '');
        if (line === '' || line.startsWith('#'))
            return;
        const set = parseEnvAssignment(line, `${where} line ${i + 1}`, hostEnv);
        if (set !== null)
            out.push(set);
    });
    return out;
}
function readEnvFile(path, hostEnv = process.env) {
    let text;
    try {
        text = (0,external_node_fs_namespaceObject.readFileSync)(path, 'utf8');
    }
    catch (err) {
        const code = err.code;
        throw new errors_VmstepError(`cannot read env file ${path} (${code ?? err.message})`, code === 'ENOENT' ? 'check the path given to --env-file' : 'make the file readable by this user');
    }
    return parseEnvLines(text, path, hostEnv);
}

;// CONCATENATED MODULE: ./src/engine/validate.ts
// Turns a RunInput (what the user wrote) into RunOptions (typed, checked,
// defaulted). Every refusal names the option the way the user's face spells
// it (`--memory` on the command line, input `memory` in a workflow) and says
// how to fix it, so both faces share one set of rules and one set of words.







const LIMITS = {
    /** The VMM describes CPUs in an MP table; beyond 32 nobody benchmarks in a microVM. */
    maxVcpus: 32,
    minMemoryMiB: 32,
    defaultMemoryMiB: 1024,
    /** The root disk must hold the image plus ext4's own metadata. */
    minDiskBytes: 16 * 2 ** 20,
};
const CLI_NAMES = {
    image: 'IMAGE',
    entrypoint: '--entrypoint',
    command: 'COMMAND',
    env: '--env',
    envFiles: '--env-file',
    workdir: '--workdir',
    user: '--user',
    vcpus: '--vcpus',
    memory: '--memory',
    disk: '--disk',
    timeout: '--timeout',
    outputs: '--output',
    outputDir: '--output-dir',
    kernel: '--kernel',
    registryUsername: 'registry user name',
    registryPassword: 'registry password',
};
const ACTION_NAMES = {
    image: 'input "image"',
    entrypoint: 'input "entrypoint"',
    command: 'input "args"',
    env: 'input "env"',
    envFiles: 'env file',
    workdir: 'input "workdir"',
    user: 'input "user"',
    vcpus: 'input "vcpus"',
    memory: 'input "memory"',
    disk: 'input "disk"',
    timeout: 'input "timeout"',
    outputs: 'input "outputs"',
    outputDir: 'output directory',
    kernel: 'input "kernel"',
    registryUsername: 'input "registry-username"',
    registryPassword: 'input "registry-password"',
};
function validateRunInput(input, ctx) {
    const names = ctx.style === 'cli' ? CLI_NAMES : ACTION_NAMES;
    const name = (k) => names[k] ?? k;
    const cwd = ctx.cwd ?? process.cwd();
    const hostEnv = ctx.hostEnv ?? process.env;
    const hostCpus = ctx.hostCpus ?? (0,external_node_os_namespaceObject.availableParallelism)();
    const hostMemory = ctx.hostMemoryBytes ?? (0,external_node_os_namespaceObject.totalmem)();
    const image = (input.image ?? '').trim();
    if (image === '') {
        throw new errors_VmstepError(`no image given (${name('image')})`, ctx.style === 'cli' ? 'usage: vmstep run [OPTIONS] IMAGE [COMMAND [ARG...]]' : 'set the "image" input, e.g. image: alpine:3.20');
    }
    try {
        parseReference(image);
    }
    catch (err) {
        if (err instanceof ImageError)
            throw new errors_VmstepError(err.message, '', { cause: err });
        throw err;
    }
    const entrypoint = input.entrypoint === undefined ? null : checkStrings(input.entrypoint, name('entrypoint'));
    const command = checkStrings(input.command ?? [], name('command'));
    const env = [];
    for (const file of input.envFiles ?? [])
        env.push(...readEnvFile((0,external_node_path_namespaceObject.resolve)(cwd, file), hostEnv));
    for (const e of input.env ?? []) {
        const set = parseEnvAssignment(e, name('env'), hostEnv);
        if (set !== null)
            env.push(set);
    }
    const workdir = optionalString(input.workdir);
    if (workdir !== null && !workdir.startsWith('/')) {
        throw new errors_VmstepError(`${name('workdir')} "${workdir}" is not an absolute path`, 'give an absolute guest path such as /work');
    }
    const user = optionalString(input.user);
    if (user !== null && !/^[^:\s]+(?::[^:\s]+)?$/.test(user)) {
        throw new errors_VmstepError(`${name('user')} "${user}" is not a user`, 'write NAME, UID, NAME:GROUP or UID:GID');
    }
    const vcpus = parseVcpus(input.vcpus, name('vcpus'), hostCpus);
    const memoryMiB = parseMemory(input.memory, name('memory'), hostMemory);
    let diskBytes = null;
    if (validate_present(input.disk)) {
        diskBytes = parseSize(input.disk, name('disk'));
        if (diskBytes < LIMITS.minDiskBytes) {
            throw new errors_VmstepError(`${name('disk')} ${formatBytes(diskBytes)} is too small`, `give at least ${formatBytes(LIMITS.minDiskBytes)}, or leave it unset to size the disk from the image`);
        }
    }
    const timeoutMs = validate_present(input.timeout) ? parseDuration(input.timeout, name('timeout')) : 0;
    const outputs = checkStrings(input.outputs ?? [], name('outputs')).filter((o) => o.trim() !== '');
    let kernel = null;
    if (validate_present(input.kernel)) {
        kernel = (0,external_node_path_namespaceObject.resolve)(cwd, String(input.kernel));
        checkReadableFile(kernel, name('kernel'), 'give the path of an uncompressed x86-64 vmlinux (or a .gz of one) built from kernel/guest.config');
    }
    const username = optionalString(input.registryUsername);
    const password = input.registryPassword ? input.registryPassword : null;
    if ((username === null) !== (password === null)) {
        const missing = username === null ? name('registryUsername') : name('registryPassword');
        throw new errors_VmstepError(`registry credentials are incomplete: ${missing} is missing`, 'give both the registry user name and the password (or token), or neither for anonymous pulls');
    }
    return {
        image,
        entrypoint,
        command,
        env,
        workdir,
        user,
        vcpus,
        memoryMiB,
        diskBytes,
        timeoutMs,
        outputs,
        outputDir: (0,external_node_path_namespaceObject.resolve)(cwd, optionalString(input.outputDir) ?? 'vmstep-output'),
        logDir: validate_present(input.logDir) ? (0,external_node_path_namespaceObject.resolve)(cwd, String(input.logDir)) : null,
        kernel,
        kernelArgs: checkKernelArgs(input.kernelArgs ?? []),
        privileged: Boolean(input.privileged),
        debug: Boolean(input.debug),
        credentials: username !== null && password !== null ? { username, password } : null,
        cacheDir: validate_present(input.cacheDir) ? (0,external_node_path_namespaceObject.resolve)(cwd, String(input.cacheDir)) : null,
        scratchRoot: validate_present(input.scratchRoot) ? (0,external_node_path_namespaceObject.resolve)(cwd, String(input.scratchRoot)) : null,
    };
}
function validate_present(v) {
    return v !== undefined && String(v).trim() !== '';
}
function optionalString(v) {
    return v === undefined || v.trim() === '' ? null : v.trim();
}
function checkStrings(values, what) {
    for (const v of values) {
        if (v.includes('\0'))
            throw new errors_VmstepError(`${what} contains a NUL byte`, 'remove it: a command line cannot hold NUL bytes');
    }
    return values;
}
function parseVcpus(v, what, hostCpus) {
    if (!validate_present(v))
        return Math.max(1, Math.min(2, hostCpus));
    const s = String(v).trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < 1 || n > LIMITS.maxVcpus) {
        throw new errors_VmstepError(`${what} "${s}" is not a vCPU count`, `give a whole number from 1 to ${LIMITS.maxVcpus}`);
    }
    return n;
}
function parseMemory(v, what, hostMemory) {
    if (!validate_present(v))
        return Math.min(LIMITS.defaultMemoryMiB, Math.max(LIMITS.minMemoryMiB, Math.floor(hostMemory / 2 / 2 ** 20)));
    const bytes = parseSize(v, what);
    // Guest RAM is mapped in whole MiB; a fraction is rounded up so the user gets at least what they asked for.
    const mib = Math.ceil(bytes / 2 ** 20);
    if (mib < LIMITS.minMemoryMiB) {
        const hint = /^\s*\d+\s*$/.test(String(v)) ? ` (a bare number is bytes: did you mean ${String(v).trim()}M?)` : '';
        throw new errors_VmstepError(`${what} ${formatBytes(bytes)} is too small${hint}`, `give at least ${LIMITS.minMemoryMiB}M`);
    }
    if (mib * 2 ** 20 > hostMemory) {
        throw new errors_VmstepError(`${what} ${formatBytes(mib * 2 ** 20)} is more than this host's ${formatBytes(hostMemory)} of memory`, 'give less memory to the VM');
    }
    return mib;
}
function checkReadableFile(path, what, fix) {
    let isFile = false;
    try {
        isFile = (0,external_node_fs_namespaceObject.statSync)(path).isFile();
        (0,external_node_fs_namespaceObject.accessSync)(path, external_node_fs_namespaceObject.constants.R_OK);
    }
    catch (err) {
        const code = err.code;
        throw new errors_VmstepError(`${what} ${path} cannot be read (${code ?? err.message})`, fix);
    }
    if (!isFile)
        throw new errors_VmstepError(`${what} ${path} is not a file`, fix);
}
function checkKernelArgs(args) {
    for (const a of args) {
        // One argument per entry: the VMM joins them with spaces into the command line.
        if (a === '' || /[\s\0]/.test(a))
            throw new errors_VmstepError(`guest kernel argument "${a}" is empty or holds whitespace`, 'give one argument per entry, such as nokaslr or transparent_hugepage=never');
    }
    return args;
}

;// CONCATENATED MODULE: ./src/cli/args.ts
// A small option parser with docker's rules, because `vmstep run` must stop
// reading options at the image: in `vmstep run alpine ls -la`, `-la` belongs
// to ls. (node:util parseArgs cannot stop at the first positional.) The same
// table drives the parser and the --help text, so they never disagree.

function unknownOption(arg, ctx) {
    return new errors_VmstepError(`unknown option ${arg} for "${ctx.command}"`, `see "${ctx.command} --help"${ctx.stopAtPositional ? '; options go before the image' : ''}`);
}
function parseCommandLine(argv, specs, ctx) {
    const values = {};
    const positionals = [];
    const byLong = new Map(specs.map((s) => [s.long, s]));
    const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short, s]));
    const set = (spec, value) => {
        if (spec.repeatable) {
            const list = values[spec.key] ?? [];
            list.push(value);
            values[spec.key] = list;
        }
        else {
            values[spec.key] = value;
        }
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--') {
            positionals.push(...argv.slice(i + 1));
            break;
        }
        if (arg === '-' || !arg.startsWith('-')) {
            if (ctx.stopAtPositional) {
                positionals.push(...argv.slice(i));
                break;
            }
            positionals.push(arg);
            continue;
        }
        const takeValue = (spec, shown) => {
            const next = argv[i + 1];
            if (next === undefined)
                throw new errors_VmstepError(`option ${shown} needs a value (${spec.value})`, `write ${shown} ${spec.value}; see "${ctx.command} --help"`);
            i++;
            return next;
        };
        if (arg.startsWith('--')) {
            const eq = arg.indexOf('=');
            const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
            const spec = byLong.get(name);
            if (!spec)
                throw unknownOption(eq < 0 ? arg : arg.slice(0, eq), ctx);
            if (spec.value === undefined) {
                if (eq >= 0)
                    throw new errors_VmstepError(`option --${name} takes no value`, `write --${name} alone`);
                set(spec, true);
            }
            else {
                set(spec, eq >= 0 ? arg.slice(eq + 1) : takeValue(spec, `--${name}`));
            }
            continue;
        }
        // Short options: "-e K=V", "-eK=V", and bundled flags such as "-qd".
        for (let j = 1; j < arg.length; j++) {
            const letter = arg[j];
            const spec = byShort.get(letter);
            if (!spec)
                throw unknownOption(`-${letter}`, ctx);
            if (spec.value === undefined) {
                set(spec, true);
                continue;
            }
            const rest = arg.slice(j + 1);
            set(spec, rest !== '' ? rest.replace(/^=/, '') : takeValue(spec, `-${letter}`));
            break;
        }
    }
    return { values, positionals };
}
/** The options part of a --help text. */
function formatOptions(specs) {
    const rows = specs
        .filter((s) => !s.hidden)
        .map((s) => {
        const names = `${s.short ? `-${s.short}, ` : '    '}--${s.long}${s.value ? ` ${s.value}` : ''}`;
        return [names, s.help];
    });
    const width = Math.max(...rows.map(([n]) => n.length)) + 2;
    return rows.map(([n, h]) => `  ${n.padEnd(width)}${h}`).join('\n');
}
function stringValue(values, key) {
    const v = values[key];
    return typeof v === 'string' ? v : undefined;
}
function listValue(values, key) {
    const v = values[key];
    return Array.isArray(v) ? v : [];
}

;// CONCATENATED MODULE: ./src/engine/result.ts
// The result file (`--result FILE` on the command line, the `result` output
// of the action): one JSON document per run, stable field names, so that
// scripts and the benchmark mode can read it. Version it when a field's
// meaning changes.


const RESULT_SCHEMA_VERSION = 1;
function resultDocument(result, version) {
    const t = result.timings;
    return {
        vmstep: { version, schema: RESULT_SCHEMA_VERSION },
        exitCode: result.exitCode,
        signal: result.signal,
        timedOut: result.timedOut,
        image: { reference: result.image.reference, digest: result.image.digest },
        command: result.command,
        outputs: result.outputs.map((o) => ({ guestPath: o.guestPath, hostPath: o.hostPath, bytes: o.bytes })),
        outputIssues: result.outputIssues.map((i) => ({ request: i.request, path: i.path, reason: i.reason, message: i.message })),
        outputDir: result.outputDir,
        stdout: { file: result.stdoutFile, bytes: result.stdoutBytes },
        stderr: { file: result.stderrFile, bytes: result.stderrBytes },
        timings: {
            imageMs: ms(t.imageMs),
            rootfsMs: ms(t.rootfsMs),
            bootMs: ms(t.bootMs),
            commandMs: ms(t.commandMs),
            totalMs: ms(t.totalMs),
        },
    };
}
/** Milliseconds with microsecond resolution: enough for a 1 ms command, without float noise. */
function ms(v) {
    return Math.round(v * 1000) / 1000;
}
function writeResultFile(path, result, version) {
    (0,external_node_fs_namespaceObject.mkdirSync)((0,external_node_path_namespaceObject.dirname)(path), { recursive: true });
    (0,external_node_fs_namespaceObject.writeFileSync)(path, `${JSON.stringify(resultDocument(result, version), null, 2)}\n`);
}

;// CONCATENATED MODULE: ./src/engine/streams.ts
// Writing guest output to a consumer's stream without buffering it in
// memory: a slow consumer holds the guest instead (see RunEvents.stdout).
/** Writes a chunk; resolves when the stream can take more. */
function writeWithBackpressure(stream, chunk) {
    if (stream.write(chunk))
        return;
    return drained(stream);
}
/** Resolves when a stream drains, or can never drain (error, close). */
function drained(stream) {
    return new Promise((resolve) => {
        const done = () => {
            stream.off('drain', done);
            stream.off('error', done);
            stream.off('close', done);
            resolve();
        };
        stream.on('drain', done);
        stream.on('error', done);
        stream.on('close', done);
    });
}

;// CONCATENATED MODULE: ./src/cli/io.ts
// What a CLI command touches, passed in so tests can drive main() with
// captured streams, their own environment, and a stand-in for the engine.


function defaultIo(signal) {
    return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), runImage: runImage, ...(signal ? { signal } : {}) };
}
const PHASE_LABEL = {
    image: 'image',
    rootfs: 'rootfs',
    boot: 'boot',
    command: 'command',
    outputs: 'outputs',
};
/** "vmstep: image   docker.io/library/alpine:3.20 sha256:… (812 ms)" */
function phaseLine(phase, ms, detail) {
    return `vmstep: ${PHASE_LABEL[phase].padEnd(7)} ${detail} (${formatMs(ms)})\n`;
}

;// CONCATENATED MODULE: ./src/cli/run.ts
// `vmstep run [OPTIONS] IMAGE [COMMAND [ARG...]]`: docker run, in a microVM.
// Guest stdout and stderr go to vmstep's stdout and stderr as they arrive;
// vmstep's own lines (phases, the final status) go to stderr and --quiet
// silences them; the exit status is the command's.










/** 128 + SIGPIPE, what a shell reports for a writer whose reader went away. */
const EXIT_BROKEN_PIPE = 141;
const RUN_OPTIONS = [
    { key: 'entrypoint', long: 'entrypoint', value: 'CMD', help: "Replace the image's ENTRYPOINT (and drop its CMD); \"\" clears it" },
    { key: 'env', long: 'env', short: 'e', value: 'K=V', repeatable: true, help: 'Set a variable (repeatable); a bare K passes the host value' },
    { key: 'envFile', long: 'env-file', value: 'FILE', repeatable: true, help: 'Read variables from a file of K=V lines (repeatable)' },
    { key: 'workdir', long: 'workdir', short: 'w', value: 'DIR', help: 'Working directory in the guest (absolute)' },
    { key: 'user', long: 'user', short: 'u', value: 'USER', help: 'User to run as: NAME, UID, NAME:GROUP or UID:GID' },
    { key: 'vcpus', long: 'vcpus', value: 'N', help: 'Number of vCPUs (default 2, at most the host has)' },
    { key: 'memory', long: 'memory', short: 'm', value: 'SIZE', help: 'Guest memory, e.g. 512M, 2G (default 1G)' },
    { key: 'disk', long: 'disk', value: 'SIZE', help: 'Size of the writable root disk (default: the image plus headroom)' },
    { key: 'timeout', long: 'timeout', value: 'SECONDS', help: 'Stop the VM after this long (30, 90s, 5m); exit status 124' },
    { key: 'output', long: 'output', value: 'GUEST_PATH', repeatable: true, help: 'Bring back a file, directory or glob after the run (repeatable)' },
    { key: 'outputDir', long: 'output-dir', value: 'HOST_DIR', help: 'Where returned files land (default ./vmstep-output)' },
    { key: 'result', long: 'result', value: 'FILE', help: 'Write the run result as JSON to FILE' },
    { key: 'kernel', long: 'kernel', value: 'PATH', help: 'Boot this guest kernel (vmlinux or vmlinux.gz) instead of the bundled one' },
    { key: 'privileged', long: 'privileged', help: 'Keep capabilities and skip the seccomp filter in the guest' },
    { key: 'debug', long: 'debug', help: "Show the guest's serial console on stderr" },
    { key: 'quiet', long: 'quiet', short: 'q', help: "Print only the command's output" },
    { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
    // docker run habits that mean nothing here: every run is a fresh VM that is always removed.
    { key: 'rm', long: 'rm', help: '', hidden: true },
];
const RUN_HELP = `Usage: vmstep run [OPTIONS] IMAGE [COMMAND [ARG...]]

Run a command in a new microVM from an image. As with docker run, a COMMAND
replaces the image's CMD and keeps its ENTRYPOINT, and options go before
IMAGE: everything after it belongs to the command.

IMAGE is a registry reference (alpine:3.20, ghcr.io/owner/app:tag,
name@sha256:...), oci:DIR[:TAG], oci-archive:FILE[:TAG],
docker-archive:FILE[:NAME] or docker-daemon:NAME[:TAG].

Options:
${formatOptions(RUN_OPTIONS)}

Examples:
  vmstep run alpine:3.20 uname -a
  vmstep run -e N=1000 --timeout 5m --output /work/results.json bench:latest
  vmstep run --entrypoint sh alpine:3.20 -c 'ls -la /'
`;
/** The run the options of RUN_OPTIONS describe (`vmstep bench` takes the same). */
function runInputFrom(values, positionals, io) {
    const [image, ...command] = positionals;
    const entrypoint = stringValue(values, 'entrypoint');
    const input = {
        image: image ?? '',
        command,
        env: listValue(values, 'env'),
        envFiles: listValue(values, 'envFile'),
        outputs: listValue(values, 'output'),
        privileged: Boolean(values.privileged),
        debug: Boolean(values.debug),
    };
    // docker: --entrypoint "" clears the entrypoint; any other value is one program name.
    if (entrypoint !== undefined)
        input.entrypoint = entrypoint === '' ? [] : [entrypoint];
    for (const key of ['workdir', 'user', 'vcpus', 'memory', 'disk', 'timeout', 'outputDir', 'kernel']) {
        const v = stringValue(values, key);
        if (v !== undefined)
            input[key] = v;
    }
    if (io.env.VMSTEP_REGISTRY_USERNAME)
        input.registryUsername = io.env.VMSTEP_REGISTRY_USERNAME;
    if (io.env.VMSTEP_REGISTRY_PASSWORD)
        input.registryPassword = io.env.VMSTEP_REGISTRY_PASSWORD;
    if (io.env.VMSTEP_CACHE)
        input.cacheDir = io.env.VMSTEP_CACHE;
    return input;
}
async function runCommand(argv, io) {
    const { values, positionals } = parseCommandLine(argv, RUN_OPTIONS, { command: 'vmstep run', stopAtPositional: true });
    if (values.help) {
        io.stdout.write(RUN_HELP);
        return 0;
    }
    const quiet = Boolean(values.quiet);
    const options = validateRunInput(runInputFrom(values, positionals, io), { style: 'cli', cwd: io.cwd, hostEnv: io.env });
    const resultPath = stringValue(values, 'result');
    // Guest stderr and the guest console may stop mid-line (a cancelled run
    // always does); vmstep's own lines then start on a line of their own.
    let stderrMidLine = false;
    const guestStderr = (chunk) => {
        if (chunk.length > 0)
            stderrMidLine = !(typeof chunk === 'string' ? chunk.endsWith('\n') : chunk[chunk.length - 1] === 0x0a);
    };
    const ownLine = (line) => {
        io.stderr.write(stderrMidLine ? `\n${line}` : line);
        stderrMidLine = false;
    };
    const note = (line) => {
        if (!quiet)
            ownLine(line);
    };
    // When whatever reads our stdout goes away (`vmstep run img yes | head`),
    // stop the run as a shell pipeline would stop a writer: SIGPIPE's status.
    const stop = new AbortController();
    let brokenPipe = false;
    const onStdoutError = (err) => {
        if (err.code !== 'EPIPE')
            return;
        brokenPipe = true;
        stop.abort();
    };
    io.stdout.on('error', onStdoutError);
    const onCancel = () => stop.abort();
    io.signal?.addEventListener('abort', onCancel, { once: true });
    if (io.signal?.aborted)
        stop.abort();
    let result;
    try {
        result = await io.runImage(options, {
            phaseEnd: (phase, ms, detail) => {
                if (phase !== 'command')
                    note(phaseLine(phase, ms, detail));
            },
            progress: (message) => note(`vmstep:         ${message}\n`),
            stdout: (chunk) => (brokenPipe ? undefined : writeWithBackpressure(io.stdout, chunk)),
            stderr: (chunk) => (guestStderr(chunk), writeWithBackpressure(io.stderr, chunk)),
            console: (chunk) => (guestStderr(chunk), void io.stderr.write(chunk)),
            warning: (message) => ownLine(`vmstep: warning: ${message}\n`),
        }, { signal: stop.signal });
    }
    catch (err) {
        if (brokenPipe && err instanceof RunCancelledError)
            return EXIT_BROKEN_PIPE;
        if (err instanceof RunCancelledError) {
            ownLine('vmstep: cancelled; the VM was stopped\n');
            return 130;
        }
        throw err;
    }
    finally {
        io.stdout.off('error', onStdoutError);
        io.signal?.removeEventListener('abort', onCancel);
    }
    if (resultPath)
        writeResultFile((0,external_node_path_namespaceObject.resolve)(io.cwd, resultPath), result, VMSTEP_VERSION);
    if (result.timedOut) {
        // Said even with --quiet: without it, 124 looks like the command's own status.
        ownLine(`vmstep: the command ran past the time limit of ${formatMs(options.timeoutMs)} and the VM was stopped (exit status ${EXIT_TIMEOUT})\n`);
    }
    else {
        const signal = result.signal ? `, killed by ${result.signal}` : '';
        note(`vmstep: exit ${result.exitCode}${signal}; command ${formatMs(result.timings.commandMs)}, boot ${formatMs(result.timings.bootMs)}, total ${formatMs(result.timings.totalMs)}\n`);
    }
    if (result.outputs.length > 0) {
        const bytes = result.outputs.reduce((n, o) => n + o.bytes, 0);
        note(`vmstep: ${result.outputs.length} file${result.outputs.length === 1 ? '' : 's'} (${formatBytes(bytes)}) in ${result.outputDir}\n`);
    }
    return result.exitCode;
}

;// CONCATENATED MODULE: ./src/cli/bench.ts
// `vmstep bench [OPTIONS] IMAGE [COMMAND [ARG...]]`: the run, repeated in
// fresh VMs, compared against a baseline. The report (markdown) goes to
// stdout, so that `vmstep bench ... > report.md` makes a PR comment; progress
// goes to stderr. Each run's stdout and stderr are kept as files in the
// results directory rather than printed: twenty runs of the same output help
// nobody. Exit status 1 on a regression with --fail-on-regression.







/** Exit status for a regression under --fail-on-regression (vmstep itself worked: not 125). */
const EXIT_REGRESSION = 1;
const BENCH_ONLY = [
    { key: 'repeat', long: 'repeat', short: 'n', value: 'N', help: 'Measured runs per image, each in a fresh VM (default 10)' },
    { key: 'warmup', long: 'warmup', value: 'N', help: 'Runs per image before those, discarded (default 1)' },
    { key: 'baselineImage', long: 'baseline-image', value: 'IMAGE', help: 'Run this image too, interleaved (A B A B ...), as the baseline' },
    { key: 'baselineFile', long: 'baseline-file', value: 'FILE', help: "Compare against an earlier run's results.json" },
    { key: 'metricsFile', long: 'metrics-file', value: 'GUEST_PATH', help: 'A metrics file the benchmark writes in every run' },
    { key: 'metricsFormat', long: 'metrics-format', value: 'FORMAT', help: 'auto, bmf, customSmallerIsBetter, customBiggerIsBetter or hyperfine' },
    { key: 'test', long: 'test', value: 'TEST', help: 'percentage, t-test or mann-whitney (default mann-whitney)' },
    { key: 'threshold', long: 'threshold', value: 'PERCENT', help: 'Smallest change that counts (default 5%)' },
    { key: 'failOnRegression', long: 'fail-on-regression', help: 'Exit with status 1 on a significant regression beyond the threshold' },
    { key: 'resultsDir', long: 'results-dir', value: 'DIR', help: 'Where results, report, chart and every run\'s files go (default ./vmstep-bench)' },
];
// The run's options, less those that name a single run's files.
const BENCH_OPTIONS = [...BENCH_ONLY, ...RUN_OPTIONS.filter((o) => o.key !== 'outputDir' && o.key !== 'result')];
const BENCH_HELP = `Usage: vmstep bench [OPTIONS] IMAGE [COMMAND [ARG...]]

Run a command many times, each in a fresh microVM from the cached image, and
report the statistics of its wall time (measured in the guest) and of the
metrics in --metrics-file. With --baseline-image or --baseline-file, compare
and give a verdict per metric. Options go before IMAGE, as with vmstep run.

The report (markdown) goes to stdout. The results directory holds
results.json (the next run's --baseline-file), bmf.json (Bencher),
github-action-benchmark-{smaller,bigger}.json, report.md, chart.svg and
each run's stdout, stderr and returned files under runs/.

Options:
${formatOptions(BENCH_OPTIONS)}

Exit status: 0; 1 on a regression with --fail-on-regression; 125 when vmstep
itself or a benchmark run failed.

Examples:
  vmstep bench -n 20 --baseline-image bench:main bench:pr
  vmstep bench --metrics-file /work/bmf.json --baseline-file main.json bench:pr
  vmstep bench --test t-test --threshold 3 --fail-on-regression bench:pr ./run.sh
`;
async function benchCommand(argv, io) {
    const { values, positionals } = parseCommandLine(argv, BENCH_OPTIONS, { command: 'vmstep bench', stopAtPositional: true });
    if (values.help) {
        io.stdout.write(BENCH_HELP);
        return 0;
    }
    const quiet = Boolean(values.quiet);
    const note = (line) => {
        if (!quiet)
            io.stderr.write(line);
    };
    const head = validateRunInput(runInputFrom(values, positionals, io), { style: 'cli', cwd: io.cwd, hostEnv: io.env });
    const input = { failOnRegression: Boolean(values.failOnRegression) };
    for (const key of ['repeat', 'warmup', 'baselineImage', 'baselineFile', 'metricsFile', 'metricsFormat', 'test', 'threshold', 'resultsDir']) {
        const v = stringValue(values, key);
        if (v !== undefined)
            input[key] = v;
    }
    const settings = validateBenchInput(input, { style: 'cli', cwd: io.cwd });
    let result;
    try {
        result = await runBench(head, settings, {
            runStart: (run, position, total) => note(`vmstep: run ${position}/${total}: ${run.arm}${run.warmup ? ' (warm-up)' : ''} ... `),
            runEnd: (_run, r) => note(`${formatMs(r.timings.commandMs)}\n`),
            run: {
                console: (chunk) => void io.stderr.write(chunk),
                warning: (message) => note(`\nvmstep: warning: ${message}\n`),
            },
            warning: (message) => io.stderr.write(`vmstep: warning: ${message}\n`),
        }, { runImage: io.runImage, ...(io.signal ? { signal: io.signal } : {}) });
    }
    catch (err) {
        if (err instanceof RunCancelledError) {
            io.stderr.write('vmstep: cancelled; the VM was stopped\n');
            return 130;
        }
        note('\n');
        throw err;
    }
    io.stdout.write(result.markdown);
    const pin = result.pinning.pinned ? `vCPUs pinned to host CPU ${result.pinning.cpus.join(', ')}` : `vCPUs not pinned (${result.pinning.reason})`;
    note(`vmstep: ${pin}\nvmstep: results in ${settings.resultsDir} (results.json, bmf.json, report.md, chart.svg)\n`);
    if (result.regressed && settings.failOnRegression) {
        io.stderr.write(`vmstep: ${result.regressionMessage}\n`);
        return EXIT_REGRESSION;
    }
    if (result.regressed)
        note(`vmstep: ${result.regressionMessage} (not failing: no --fail-on-regression)\n`);
    return 0;
}

;// CONCATENATED MODULE: ./src/engine/cache.ts
// `vmstep cache ls|prune`: what the cache holds and making it smaller. Root
// filesystems and layer blobs belong to the rootfs module (RootfsCache knows
// which files are in use and how to remove them safely); the unpacked guest
// kernels under kernel/ are the engine's own. The developer build cache
// (build/) is never touched here.



function kernelEntries(root) {
    const dir = (0,external_node_path_namespaceObject.join)(root, 'kernel');
    let names = [];
    try {
        names = (0,external_node_fs_namespaceObject.readdirSync)(dir);
    }
    catch {
        return [];
    }
    return names.flatMap((name) => {
        try {
            const st = (0,external_node_fs_namespaceObject.statSync)((0,external_node_path_namespaceObject.join)(dir, name, 'vmlinux'));
            return [{ kind: 'kernel', name, bytes: st.blocks * 512, lastUsed: st.atime > st.mtime ? st.atime : st.mtime, path: (0,external_node_path_namespaceObject.join)(dir, name) }];
        }
        catch {
            return [];
        }
    });
}
async function listCache(root) {
    const rootfs = await new cache_RootfsCache(root).list();
    const items = rootfs.map((e) => ({ kind: e.kind, name: e.name, bytes: e.diskBytes, lastUsed: e.lastUsed }));
    items.push(...kernelEntries(root).map(({ path: _path, ...item }) => item));
    return items.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}
/**
 * With maxBytes, removes the least recently used root filesystems and blobs
 * until they fit in it (the kernel, needed by every run, stays). Without,
 * removes everything, kernels included: the next run unpacks and builds again.
 */
async function pruneCache(root, maxBytes) {
    const cache = new cache_RootfsCache(root);
    const removed = (await cache.prune(maxBytes ?? 0)).map((e) => ({ kind: e.kind, name: e.name, bytes: e.diskBytes, lastUsed: e.lastUsed }));
    if (maxBytes === null) {
        for (const k of kernelEntries(root)) {
            (0,external_node_fs_namespaceObject.rmSync)(k.path, { recursive: true, force: true });
            const { path: _path, ...item } = k;
            removed.push(item);
        }
    }
    const kept = await listCache(root);
    return { removed, freedBytes: removed.reduce((n, e) => n + e.bytes, 0), keptBytes: kept.reduce((n, e) => n + e.bytes, 0) };
}

;// CONCATENATED MODULE: ./src/cli/cache.ts
// `vmstep cache ls` and `vmstep cache prune [--max-size SIZE]`.





const LS_OPTIONS = [
    { key: 'json', long: 'json', help: 'Print the entries as JSON' },
    { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];
const PRUNE_OPTIONS = [
    { key: 'maxSize', long: 'max-size', value: 'SIZE', help: 'Keep the most recently used entries up to SIZE (e.g. 10G); without it, remove everything' },
    { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];
const CACHE_HELP = `Usage: vmstep cache ls [--json]
       vmstep cache prune [--max-size SIZE]

The cache ($VMSTEP_CACHE, default ~/.cache/vmstep) holds layer blobs, root
filesystems built from images, and the unpacked guest kernel.

ls options:
${formatOptions(LS_OPTIONS)}

prune options:
${formatOptions(PRUNE_OPTIONS)}
`;
async function cacheCommand(argv, io) {
    const [sub, ...rest] = argv;
    const root = io.env.VMSTEP_CACHE || defaultCacheDir();
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
        io.stdout.write(CACHE_HELP);
        return sub === undefined ? 125 : 0;
    }
    if (sub === 'ls') {
        const { values } = parseCommandLine(rest, LS_OPTIONS, { command: 'vmstep cache ls', stopAtPositional: false });
        if (values.help) {
            io.stdout.write(CACHE_HELP);
            return 0;
        }
        const items = await listCache(root);
        if (values.json) {
            io.stdout.write(`${JSON.stringify({ root, entries: items.map((i) => ({ ...i, lastUsed: i.lastUsed.toISOString() })) }, null, 2)}\n`);
            return 0;
        }
        const rows = items.map((i) => [i.kind, formatBytes(i.bytes), i.lastUsed.toISOString().slice(0, 16).replace('T', ' '), i.name]);
        const header = ['KIND', 'SIZE', 'LAST USED', 'NAME'];
        const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
        for (const r of [header, ...rows])
            io.stdout.write(`${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')}\n`);
        io.stdout.write(`${items.length} entries, ${formatBytes(items.reduce((n, i) => n + i.bytes, 0))} in ${root}\n`);
        return 0;
    }
    if (sub === 'prune') {
        const { values, positionals } = parseCommandLine(rest, PRUNE_OPTIONS, { command: 'vmstep cache prune', stopAtPositional: false });
        if (values.help) {
            io.stdout.write(CACHE_HELP);
            return 0;
        }
        if (positionals.length > 0)
            throw new errors_VmstepError(`"vmstep cache prune" takes no arguments, got "${positionals[0]}"`, 'usage: vmstep cache prune [--max-size SIZE]');
        const max = stringValue(values, 'maxSize');
        const report = await pruneCache(root, max === undefined ? null : parseSize(max, '--max-size'));
        io.stdout.write(`removed ${report.removed.length} entries (${formatBytes(report.freedBytes)}); ${formatBytes(report.keptBytes)} left in ${root}\n`);
        return 0;
    }
    throw new errors_VmstepError(`unknown cache command "${sub}"`, 'use "vmstep cache ls" or "vmstep cache prune"');
}

;// CONCATENATED MODULE: ./src/engine/doctor.ts
// `vmstep doctor`: can this host run vmstep, and will its numbers be quiet?
// Each check reads the host as it is (files under /dev, /proc and /sys, the
// PATH) and, when something is wrong, says the exact command that fixes it.
// `root` lets tests point the checks at a fake tree of those files.






const UDEV_FIX = "echo 'KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0666\", OPTIONS+=\"static_node=kvm\"' | sudo tee /etc/udev/rules.d/99-kvm4all.rules && sudo udevadm control --reload-rules && sudo udevadm trigger --name-match=kvm";
function read(path) {
    try {
        return (0,external_node_fs_namespaceObject.readFileSync)(path, 'utf8').trim();
    }
    catch {
        return null;
    }
}
/** The name of the user this process runs as (not $USER, which sudo and su may keep). */
function currentUserName() {
    try {
        return (0,external_node_os_namespaceObject.userInfo)().username;
    }
    catch {
        return process.env.USER || 'USER';
    }
}
function runDoctor(opts = {}) {
    const root = opts.root ?? '';
    const checks = [];
    const user = opts.user ?? currentUserName();
    const kvm = (0,external_node_path_namespaceObject.join)(root || '/', 'dev', 'kvm');
    // 1. /dev/kvm: present, readable and writable, able to run an unmodified kernel.
    let kvmOpen = false;
    if (!(0,external_node_fs_namespaceObject.existsSync)(kvm)) {
        const cpuFlags = read((0,external_node_path_namespaceObject.join)(root || '/', 'proc', 'cpuinfo'))?.match(/^flags\s*:(.*)$/m)?.[1] ?? '';
        const vendor = /\bsvm\b/.test(cpuFlags) ? 'kvm_amd' : 'kvm_intel';
        checks.push({
            name: '/dev/kvm',
            status: 'fail',
            detail: 'absent: this host offers no KVM',
            fix: /\b(vmx|svm)\b/.test(cpuFlags)
                ? `load the KVM module: sudo modprobe ${vendor}`
                : 'run on bare metal or on a VM with nested virtualisation enabled (the CPU shows no vmx/svm flag)',
        });
    }
    else {
        try {
            (0,external_node_fs_namespaceObject.accessSync)(kvm, external_node_fs_namespaceObject.constants.R_OK | external_node_fs_namespaceObject.constants.W_OK);
            (0,external_node_fs_namespaceObject.closeSync)((0,external_node_fs_namespaceObject.openSync)(kvm, 'r+'));
            kvmOpen = true;
            checks.push({ name: '/dev/kvm', status: 'ok', detail: 'present, readable and writable by this user' });
        }
        catch (err) {
            const code = err.code;
            const denied = code === 'EACCES' || code === 'EPERM';
            checks.push({
                name: '/dev/kvm',
                status: 'fail',
                detail: denied ? `present, but this user cannot open it (${code})` : `present, but opening it fails (${code ?? err.message})`,
                fix: denied
                    ? `add the user to the kvm group: sudo usermod -aG kvm ${user} (then log in again or restart the runner); on GitHub-hosted runners: ${UDEV_FIX}`
                    : 'check that the KVM module is loaded (lsmod | grep kvm; sudo modprobe kvm_intel or kvm_amd) and see dmesg for why it failed',
            });
        }
    }
    if (kvmOpen)
        checks.push(kvmCapability(root, opts.probeKvm ?? (() => probeKvm(kvm))));
    // 2. e2fsprogs: the root filesystem builder and the tests use its tools.
    const pathDirs = (opts.pathEnv ?? process.env.PATH ?? '').split(external_node_path_namespaceObject.delimiter).concat(['/sbin', '/usr/sbin']);
    const mke2fs = pathDirs.map((d) => (0,external_node_path_namespaceObject.join)(d, 'mke2fs')).find((p) => (0,external_node_fs_namespaceObject.existsSync)(p));
    checks.push(mke2fs
        ? { name: 'e2fsprogs', status: 'ok', detail: `mke2fs at ${mke2fs}` }
        : { name: 'e2fsprogs', status: 'fail', detail: 'mke2fs not found', fix: 'sudo apt-get install -y e2fsprogs' });
    // 3. CPUs: a vCPU pinned to a core shares it with nothing only when there are cores to spare.
    const cpus = opts.cpus ?? (0,external_node_os_namespaceObject.availableParallelism)();
    checks.push(cpus >= 3
        ? { name: 'CPUs', status: 'ok', detail: `${cpus} available` }
        : { name: 'CPUs', status: 'warn', detail: `${cpus} available: vCPUs share cores with vmstep and the runner`, fix: 'use a runner with at least 4 cores for benchmarks, and --vcpus 1 or 2' });
    // 4. cgroup v2: the unified hierarchy is what lets a run get cores of its own.
    checks.push((0,external_node_fs_namespaceObject.existsSync)((0,external_node_path_namespaceObject.join)(root || '/', 'sys', 'fs', 'cgroup', 'cgroup.controllers'))
        ? { name: 'cgroup v2', status: 'ok', detail: 'unified hierarchy mounted' }
        : { name: 'cgroup v2', status: 'warn', detail: 'not mounted (cgroup v1 or none)', fix: 'boot with systemd.unified_cgroup_hierarchy=1 (the default on Debian 11+, Ubuntu 21.10+)' });
    checks.push(...noiseChecks(root), pinningCheck(root));
    if (opts.cacheDir)
        checks.push(cacheCheck(opts.cacheDir));
    return checks;
}
function kvmCapability(root, probe) {
    let p;
    let note = '';
    try {
        p = probe();
    }
    catch (err) {
        // Without the VMM (a broken install), judge from what the kernel shows, and say so.
        note = `; judged from CPU flags, the VMM's probe could not run: ${err.message}`;
        const flags = read((0,external_node_path_namespaceObject.join)(root || '/', 'proc', 'cpuinfo'))?.match(/^flags\s*:(.*)$/m)?.[1] ?? '';
        if ((0,external_node_fs_namespaceObject.existsSync)((0,external_node_path_namespaceObject.join)(root || '/', 'sys', 'module', 'kvm_pvm'))) {
            p = { available: true, canRunLinux: false, reason: 'this /dev/kvm is kvm_pvm, a software hypervisor that cannot run an unmodified kernel' };
        }
        else if (/\b(vmx|svm)\b/.test(flags)) {
            p = { available: true, canRunLinux: true, reason: 'hardware virtualisation (vmx/svm)' };
        }
        else {
            p = { available: true, canRunLinux: false, reason: 'the CPU shows no vmx or svm flag' };
        }
    }
    p = { ...p, reason: p.reason + note };
    if (p.available && p.canRunLinux)
        return { name: 'KVM guests', status: 'ok', detail: `can run an unmodified Linux guest (${p.reason})` };
    return {
        name: 'KVM guests',
        status: 'fail',
        detail: `cannot run an unmodified Linux guest: ${p.reason}`,
        fix: 'run on a host with hardware virtualisation: bare metal, a cloud VM with nested virtualisation, or a GitHub-hosted Linux runner with KVM enabled',
    };
}
/** Settings that make benchmark numbers wander: frequency scaling, SMT siblings, turbo. */
function noiseChecks(root) {
    const sys = (0,external_node_path_namespaceObject.join)(root || '/', 'sys', 'devices', 'system', 'cpu');
    const out = [];
    let governors = [];
    try {
        governors = (0,external_node_fs_namespaceObject.readdirSync)(sys)
            .filter((n) => /^cpu\d+$/.test(n))
            .map((n) => read((0,external_node_path_namespaceObject.join)(sys, n, 'cpufreq', 'scaling_governor')))
            .filter((g) => g !== null);
    }
    catch {
        // No /sys/devices/system/cpu: nothing to say.
    }
    const slow = [...new Set(governors.filter((g) => g !== 'performance'))];
    if (governors.length === 0) {
        out.push({ name: 'CPU governor', status: 'ok', detail: 'no frequency scaling exposed (typical inside a VM)' });
    }
    else if (slow.length === 0) {
        out.push({ name: 'CPU governor', status: 'ok', detail: 'performance on every CPU' });
    }
    else {
        out.push({
            name: 'CPU governor',
            status: 'warn',
            detail: `${slow.join(', ')} (the frequency changes with load, adding noise)`,
            fix: 'echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor',
        });
    }
    const smt = read((0,external_node_path_namespaceObject.join)(sys, 'smt', 'control'));
    if (smt === 'on') {
        out.push({
            name: 'SMT',
            status: 'warn',
            detail: 'on (sibling hyperthreads share a core and disturb each other)',
            fix: 'echo off | sudo tee /sys/devices/system/cpu/smt/control',
        });
    }
    else {
        out.push({ name: 'SMT', status: 'ok', detail: smt ?? 'not reported' });
    }
    const noTurbo = read((0,external_node_path_namespaceObject.join)(sys, 'intel_pstate', 'no_turbo'));
    const boost = read((0,external_node_path_namespaceObject.join)(sys, 'cpufreq', 'boost'));
    if (noTurbo === '0') {
        out.push({ name: 'turbo', status: 'warn', detail: 'on (clock speed depends on temperature and load)', fix: 'echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo' });
    }
    else if (boost === '1') {
        out.push({ name: 'turbo', status: 'warn', detail: 'boost on (clock speed depends on temperature and load)', fix: 'echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost' });
    }
    else {
        out.push({ name: 'turbo', status: 'ok', detail: noTurbo === '1' || boost === '0' ? 'off' : 'not reported' });
    }
    return out;
}
/** Whether `vmstep bench` can give each vCPU a core of its own (bench-pinning.ts), at the default 2 vCPUs and at 1. */
function pinningCheck(root) {
    const topology = hostTopology(root);
    const two = chooseVcpuCpus(2, topology);
    if (two.cpus)
        return { name: 'vCPU pinning', status: 'ok', detail: `benchmark runs pin 2 vCPUs to host CPUs ${two.cpus.join(', ')} (the first core stays with the host)` };
    const one = chooseVcpuCpus(1, topology);
    return {
        name: 'vCPU pinning',
        status: 'warn',
        detail: `2 vCPUs cannot be pinned: ${two.reason}${one.cpus ? `; 1 vCPU can, to host CPU ${one.cpus[0]}` : ''}`,
        fix: one.cpus
            ? 'benchmark with --vcpus 1 (action input vcpus: 1), or on a runner with at least 3 physical cores'
            : 'benchmark on a runner with at least 2 physical cores (vmstep bench then pins the vCPU to one of its own)',
    };
}
function cacheCheck(dir) {
    try {
        (0,external_node_fs_namespaceObject.mkdirSync)(dir, { recursive: true });
        (0,external_node_fs_namespaceObject.accessSync)(dir, external_node_fs_namespaceObject.constants.W_OK);
        const fs = (0,external_node_fs_namespaceObject.statfsSync)(dir);
        const free = fs.bavail * fs.bsize;
        if (free < 2 * 2 ** 30) {
            return { name: 'cache', status: 'warn', detail: `${dir}: only ${formatBytes(free)} free`, fix: 'free disk space or run: vmstep cache prune --max-size 2G' };
        }
        return { name: 'cache', status: 'ok', detail: `${dir} (${formatBytes(free)} free)` };
    }
    catch (err) {
        return { name: 'cache', status: 'fail', detail: `${dir} is not writable (${err.code ?? err.message})`, fix: 'set VMSTEP_CACHE to a writable directory' };
    }
}

;// CONCATENATED MODULE: ./src/cli/doctor.ts
// `vmstep doctor`: prints each check with its fix; exit status 1 when any
// check failed (vmstep cannot run here), 0 otherwise (warnings are advice).



const DOCTOR_OPTIONS = [
    { key: 'json', long: 'json', help: 'Print the checks as JSON' },
    { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];
const DOCTOR_HELP = `Usage: vmstep doctor [--json]

Check that this host can run vmstep (/dev/kvm present, usable by this user and
able to run an unmodified Linux guest; e2fsprogs) and how noisy its
benchmark numbers will be (CPU count, cgroup v2, CPU governor, SMT, turbo,
whether benchmark vCPUs get host cores of their own).
Each problem comes with the command that fixes it. Exit status 1 when
vmstep cannot run here.

Options:
${formatOptions(DOCTOR_OPTIONS)}
`;
const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
async function doctorCommand(argv, io, probe) {
    const { values } = parseCommandLine(argv, DOCTOR_OPTIONS, { command: 'vmstep doctor', stopAtPositional: false });
    if (values.help) {
        io.stdout.write(DOCTOR_HELP);
        return 0;
    }
    const checks = runDoctor({ cacheDir: io.env.VMSTEP_CACHE || defaultCacheDir(), ...(io.env.PATH ? { pathEnv: io.env.PATH } : {}), ...probe });
    const failed = checks.some((c) => c.status === 'fail');
    if (values.json) {
        io.stdout.write(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
        return failed ? 1 : 0;
    }
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
        io.stdout.write(`${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}\n`);
        if (c.fix && c.status !== 'ok')
            io.stdout.write(`      ${' '.repeat(width)}  fix: ${c.fix}\n`);
    }
    const warns = checks.filter((c) => c.status === 'warn').length;
    io.stdout.write(failed ? '\nvmstep cannot run on this host until the failures above are fixed.\n' : `\nvmstep can run here${warns ? `; ${warns} warning${warns === 1 ? '' : 's'} about benchmark noise above` : ''}.\n`);
    return failed ? 1 : 0;
}

;// CONCATENATED MODULE: ./src/cli/help.ts
// The top-level help; each command prints its own from its option table.
const MAIN_HELP = `Usage: vmstep COMMAND [OPTIONS]

Run an OCI image's command in a KVM microVM, with docker run's semantics.

Commands:
  run      Run a command in a new microVM from an image
  bench    Run it many times and compare against a baseline (statistics, verdict)
  pull     Download an image and build its root filesystem into the cache
  cache    List (ls) or shrink (prune) the image and root filesystem cache
  doctor   Check this host: KVM, tools, CPUs, cgroups, benchmark noise

Options:
  -h, --help      Show this help (or "vmstep COMMAND --help" for a command)
  -v, --version   Print the version

Exit status of "vmstep run": the command's own; 124 when --timeout ended it;
125 when vmstep itself failed (with one line saying why and how to fix it).

Environment:
  VMSTEP_CACHE                cache directory (default ~/.cache/vmstep)
  VMSTEP_REGISTRY_USERNAME    registry user name (else: docker login's credentials)
  VMSTEP_REGISTRY_PASSWORD    registry password or token
  VMSTEP_KERNEL, VMSTEP_INIT  guest kernel and guest init to use instead of the bundled ones
`;

;// CONCATENATED MODULE: ./src/engine/pull.ts
// `vmstep pull`: resolve an image, download its layers and build its root
// filesystem into the cache, so that the next run starts from a warm cache
// (the benchmark workflow's "set-up" step, kept out of the timed run).



async function pullImage(image, opts = {}) {
    const cacheDir = opts.cacheDir ?? defaultCacheDir();
    const init = initPath();
    const t0 = performance.now();
    const resolved = await resolveImage(image, {
        cacheDir,
        ...(opts.credentials ? { credentials: { ...opts.credentials } } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (e) => {
            if (e.done)
                opts.progress?.(`downloaded ${e.digest.slice(0, 19)}`);
        },
    });
    const t1 = performance.now();
    const cache = new cache_RootfsCache(cacheDir, { spares: false });
    const prepared = await cache.prepare(resolved, {
        initPath: init,
        onLayer: (i, n, digest) => opts.progress?.(`unpacking layer ${i + 1}/${n} ${digest.slice(0, 19)}`),
    });
    await prepared.release();
    return { reference: resolved.reference, digest: resolved.digest, layers: resolved.layers.length, cached: prepared.cached, imageMs: t1 - t0, rootfsMs: performance.now() - t1 };
}

;// CONCATENATED MODULE: ./src/cli/pull.ts
// `vmstep pull IMAGE`: warm the cache without running anything.




const PULL_OPTIONS = [
    { key: 'quiet', long: 'quiet', short: 'q', help: 'Print only the digest' },
    { key: 'help', long: 'help', short: 'h', help: 'Show this help' },
];
const PULL_HELP = `Usage: vmstep pull [OPTIONS] IMAGE

Download an image and build its root filesystem into the cache, so that the
next "vmstep run" of it starts at once. Prints the image's digest.

Options:
${formatOptions(PULL_OPTIONS)}
`;
async function pullCommand(argv, io) {
    const { values, positionals } = parseCommandLine(argv, PULL_OPTIONS, { command: 'vmstep pull', stopAtPositional: false });
    if (values.help) {
        io.stdout.write(PULL_HELP);
        return 0;
    }
    if (positionals.length !== 1) {
        throw new errors_VmstepError(positionals.length === 0 ? 'no image given' : `"vmstep pull" takes one image, got ${positionals.length}`, 'usage: vmstep pull IMAGE');
    }
    const quiet = Boolean(values.quiet);
    const username = io.env.VMSTEP_REGISTRY_USERNAME;
    const password = io.env.VMSTEP_REGISTRY_PASSWORD;
    const r = await pullImage(positionals[0], {
        cacheDir: io.env.VMSTEP_CACHE || null,
        credentials: username && password ? { username, password } : null,
        ...(io.signal ? { signal: io.signal } : {}),
        progress: (m) => {
            if (!quiet)
                io.stderr.write(`vmstep: ${m}\n`);
        },
    });
    if (!quiet) {
        io.stderr.write(`vmstep: ${r.reference}: ${r.layers} layer${r.layers === 1 ? '' : 's'} (${formatMs(r.imageMs)}), root filesystem ${r.cached ? 'already cached' : 'built'} (${formatMs(r.rootfsMs)})\n`);
    }
    io.stdout.write(`${r.digest}\n`);
    return 0;
}

;// CONCATENATED MODULE: ./src/cli/main.ts
// The vmstep command line: dispatches to a command and turns any failure of
// vmstep itself into one line on stderr and exit status 125.









const COMMANDS = {
    run: runCommand,
    bench: benchCommand,
    pull: pullCommand,
    cache: cacheCommand,
    doctor: doctorCommand,
};
async function main(argv, io = defaultIo()) {
    const [first, ...rest] = argv;
    try {
        if (first === undefined) {
            io.stderr.write(MAIN_HELP);
            return EXIT_VMSTEP_FAILED;
        }
        if (first === '--help' || first === '-h') {
            io.stdout.write(MAIN_HELP);
            return 0;
        }
        if (first === '--version' || first === '-v' || first === 'version') {
            io.stdout.write(`vmstep ${VMSTEP_VERSION}\n`);
            return 0;
        }
        if (first === 'help') {
            const cmd = rest[0];
            if (cmd && COMMANDS[cmd])
                return COMMANDS[cmd](['--help'], io);
            io.stdout.write(MAIN_HELP);
            return 0;
        }
        const command = COMMANDS[first];
        if (!command) {
            throw first.startsWith('-')
                ? new errors_VmstepError(`unknown option ${first}`, 'options go after the command: vmstep run [OPTIONS] IMAGE; see "vmstep --help"')
                : new errors_VmstepError(`unknown command "${first}"`, 'the commands are run, bench, pull, cache and doctor; see "vmstep --help"');
        }
        return await command(rest, io);
    }
    catch (err) {
        io.stderr.write(`vmstep: error: ${describeFailure(err)}\n`);
        if (io.env.VMSTEP_TRACE && err instanceof Error && err.stack)
            io.stderr.write(`${err.stack}\n`);
        return EXIT_VMSTEP_FAILED;
    }
}
/** The process entry (src/cli.ts): Ctrl-C or SIGTERM cancels the run and stops the VM; a second Ctrl-C exits at once. */
async function cliEntry(argv) {
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (sig) => {
        if (++signals > 1)
            process.exit(sig === 'SIGINT' ? 130 : 143);
        controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // `vmstep doctor | head`: a reader that goes away is not a crash (run
    // listens for it too, and stops the VM). Left installed: the error may
    // arrive after main() returned.
    const onStdoutError = (err) => {
        if (err.code !== 'EPIPE')
            throw err;
    };
    process.stdout.on('error', onStdoutError);
    try {
        return await main(argv, defaultIo(controller.signal));
    }
    finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
    }
}

;// CONCATENATED MODULE: ./src/cli.ts
// The vmstep command line: everything lives in cli/main.ts. (No top-level
// await: the entries must bundle the same whether or not ncc type-checks.)

void cliEntry(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});

