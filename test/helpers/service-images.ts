// A Debian-based service image for the ports and services end-to-end tests,
// written from code (no Docker) out of Debian's packages on this host:
// redis-server and redis-cli from the redis-server/redis-tools packages in
// apt's cache (with libjemalloc2 and liblzf1), PostgreSQL 15 (server and
// psql) as installed, bash and busybox as in the job image, and the
// libraries ldd finds for each. One image serves as redis, postgres, the
// HTTP server (busybox httpd) and the client; it exposes redis's and
// postgres's ports, as their own images do.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOciLayout, type BuiltImage } from '../fixtures/oci-images.js';
import type { FixtureEntry } from '../fixtures/tar-writer.js';
import { busyboxApplets, dirsOf, USERS } from './debian-job-image.js';

const DEBS = ['redis-server', 'redis-tools', 'libjemalloc2', 'liblzf1'];
const PG = '/usr/lib/postgresql/15';

/** Debian's package file: from apt's cache where it is there, else downloaded once (`apt-get download`, no root needed) into vmstep's test cache. */
function findDeb(name: string): string {
  const pick = (dir: string) => (existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(`${name}_`) && f.endsWith('_amd64.deb')) : undefined);
  const aptCache = '/var/cache/apt/archives';
  const cached = pick(aptCache);
  if (cached) return join(aptCache, cached);
  const own = join(process.env.VMSTEP_CACHE ?? join(homedir(), '.cache', 'vmstep'), 'test', 'debs');
  mkdirSync(own, { recursive: true });
  if (!pick(own)) execFileSync('apt-get', ['download', '-q', name], { cwd: own, stdio: ['ignore', 'ignore', 'inherit'] });
  const got = pick(own);
  if (!got) throw new Error(`the service image needs Debian's ${name} package: apt-get download ${name} found none (is apt's package list up to date? run apt-get update)`);
  return join(own, got);
}

function libsOf(binary: string, extraLibDir: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: extraLibDir } });
  return [...out.matchAll(/(\/\S+\.so[.\d]*)\s+\(0x/g)].map((m) => m[1]!);
}

/** Every file, link and directory under host path `from`, placed at `to` in the image. */
function tree(from: string, to = from): FixtureEntry[] {
  const out: FixtureEntry[] = [{ path: `${to.slice(1)}/`, type: 'dir' }];
  for (const name of readdirSync(from)) {
    const p = join(from, name);
    const q = join(to, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...tree(p, q));
    else if (st.isSymbolicLink()) out.push({ path: q.slice(1), type: 'symlink', linkname: readlinkSync(p) });
    else if (st.isFile()) out.push({ path: q.slice(1), content: readFileSync(p), mode: st.mode & 0o7777 });
  }
  return out;
}

export function writeServiceImage(dir: string): BuiltImage {
  if (!existsSync(`${PG}/bin/postgres`)) throw new Error(`the service image needs PostgreSQL 15 at ${PG}: apt-get install postgresql-15`);
  const x = mkdtempSync(join(tmpdir(), 'vmstep-debs-'));
  for (const d of DEBS) execFileSync('dpkg-deb', ['-x', findDeb(d), x]);
  const xlib = join(x, 'usr/lib/x86_64-linux-gnu');
  const redis = join(x, 'usr/bin/redis-check-rdb');
  const pgBins = ['postgres', 'initdb', 'pg_ctl', 'psql', 'pg_isready'].map((b) => `${PG}/bin/${b}`);
  const libs = new Set<string>();
  for (const b of ['/bin/bash', redis, join(x, 'usr/bin/redis-cli'), ...pgBins]) for (const l of libsOf(b, xlib)) libs.add(l);
  const files: FixtureEntry[] = [
    { path: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
    { path: 'bin/bash', content: readFileSync('/bin/bash'), mode: 0o755 },
    { path: 'bin/sh', type: 'symlink', linkname: 'bash' },
    { path: 'etc/debian_version', content: readFileSync('/etc/debian_version') },
    { path: 'usr/bin/redis-server', content: readFileSync(redis), mode: 0o755 },
    { path: 'usr/bin/redis-cli', content: readFileSync(join(x, 'usr/bin/redis-cli')), mode: 0o755 },
    { path: 'usr/share/zoneinfo/UTC', content: readFileSync('/usr/share/zoneinfo/UTC') },
    ...[...libs].map((l): FixtureEntry => ({ path: l.replace(x, '').slice(1), content: readFileSync(realpathSync(l)), mode: 0o755 })),
  ];
  const users: FixtureEntry[] = [
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/bash\npostgres:x:101:101:PostgreSQL:/var/lib/postgresql:/bin/bash\n' },
    { path: 'etc/group', content: 'root:x:0:\npostgres:x:101:\n' },
    { path: 'var/lib/postgresql/', type: 'dir', mode: 0o700, uid: 101, gid: 101 },
    { path: 'var/run/postgresql/', type: 'dir', mode: 0o2775, uid: 101, gid: 101 },
    { path: 'etc/nsswitch.conf', content: 'hosts: files dns\n' },
    { path: 'www/', type: 'dir' },
    { path: 'www/index.html', content: 'hello from the guest\n' },
  ];
  const pg = [...tree(PG), ...tree('/usr/share/postgresql/15')];
  const all = [...files, ...pg];
  const entries = [
    ...dirsOf([...all.map((f) => f.path.replace(/\/$/, '')), 'usr/bin/x', 'var/run/x', 'root/x']),
    ...files,
    ...pg,
    ...busyboxApplets(new Set(['sh', 'bash'])),
    ...USERS.filter((u) => u.path === 'tmp/'),
    ...users,
  ];
  mkdirSync(dir, { recursive: true });
  // EXPOSE as the redis and postgres images do: the runner plugin links a service without ports: on these.
  const config = { Env: [`PATH=${PG}/bin:/usr/local/bin:/usr/bin:/bin`, 'TZ=UTC'], Cmd: ['/bin/bash'], ExposedPorts: { '6379/tcp': {}, '5432/tcp': {} } };
  // Uncompressed: inside the emulated KVM host compressing this layer took the
  // test worker's thread for over a minute, long enough for vitest to time
  // out its own calls.
  return writeOciLayout(dir, { layers: [{ entries, compression: 'none' }], config }, { tag: 'latest' });
}

/**
 * writeServiceImage in a process of its own: the build is synchronous and,
 * under full emulation, long enough to hold a test worker's thread past
 * vitest's own call timeout (which fails the run even when every test
 * passes). esbuild bundles this module for plain Node.js first.
 */
export async function buildServiceImage(dir: string): Promise<void> {
  // Imported here, not at the top: the bundle this builds runs from a scratch directory where esbuild cannot be resolved.
  const { build } = await import('esbuild');
  const scratch = mkdtempSync(join(tmpdir(), 'vmstep-service-image-'));
  const entry = join(scratch, 'build.mjs');
  await build({
    stdin: { contents: `import { writeServiceImage } from './service-images.ts';\nwriteServiceImage(process.argv[2]);\n`, resolveDir: dirname(fileURLToPath(import.meta.url)), loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: entry,
    external: ['esbuild'],
    logLevel: 'error',
  });
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [entry, dir], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('close', resolve);
    child.on('error', () => resolve(null));
  }).finally(() => rmSync(scratch, { recursive: true, force: true }));
  if (code !== 0) throw new Error(`building the service image failed (exit ${code})`);
}
