// Unit tests run the engine with stand-in VMs, many files at once and beside
// other checkouts' tests on the same host: each file reserves from a pool of
// its own, so that none is refused for capacity that real VMs do not use.
// (The e2e tier runs real VMs and shares the host's pool, as vmstep does.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'vmstep-capacity-'));
process.env.VMSTEP_CAPACITY_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
