// Which host CPUs a benchmark's vCPUs get to themselves. A vCPU thread that
// the host scheduler moves between cores loses its caches and lands on
// whatever core is free, so the same code measures differently run to run.
// Pinning each vCPU thread to a core of its own removes that. A core is only
// "dedicated" if something else is left for the rest: CPU 0 (which takes most
// interrupts) and its SMT siblings stay with the host, Node and the VMM's
// event loop; SMT siblings of a chosen core are skipped, as they share its
// execution units. Too few cores left: no pinning, and the reason says why.
import { readFileSync } from 'node:fs';

export type CpuChoice = { cpus: number[] } | { cpus: null; reason: string };

export interface HostTopology {
  /** CPUs this process may run on. */
  allowed: number[];
  /** Physical core of each CPU ("package:core"); CPUs on one core are SMT siblings. */
  coreOf(cpu: number): string;
}

/** Parses a kernel CPU list such as "0-3,8,10-11". */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return [];
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || hi - lo > 4096) return [];
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** This host, from /proc/self/status and sysfs (under `root`, for tests). */
export function hostTopology(root = ''): HostTopology {
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

export function chooseVcpuCpus(vcpus: number, topology: HostTopology = hostTopology()): CpuChoice {
  const allowed = [...topology.allowed].sort((a, b) => a - b);
  if (allowed.length === 0) return { cpus: null, reason: 'the CPUs this process may use could not be read' };
  // The host keeps the core of its first allowed CPU (CPU 0 on most hosts) with all of its siblings.
  const hostCore = topology.coreOf(allowed[0]!);
  const seen = new Set<string>([hostCore]);
  const candidates: number[] = [];
  // Highest-numbered first: low CPUs are where the host's own work tends to land.
  for (const cpu of [...allowed].reverse()) {
    const core = topology.coreOf(cpu);
    if (seen.has(core)) continue;
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
