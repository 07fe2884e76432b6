// Guest init in service mode for the tests: test mode on Unix sockets (the
// boot connection on `<dir>/vsock_1024`, sessions on `<dir>/exec`), with
// the real host side (startService, connectSession).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSession, type ExecEndpoint } from '../../src/session/connect.js';
import { listenForGuest } from '../../src/session/listener.js';
import type { ServeSpec } from '../../src/session/messages.js';
import { startService, type ServiceSession } from '../../src/session/service.js';
import { spawnTestModeInit } from './guest-init.js';

export interface TestService {
  service: ServiceSession;
  endpoint: ExecEndpoint;
  /** Opens a session connection to this guest init. */
  connect(): ReturnType<typeof connectSession>;
  /** Guest init's own exit and console output. */
  exited: ReturnType<typeof spawnTestModeInit>['exited'];
  /** A scratch directory that goes with the service. */
  dir: string;
  cleanup(): Promise<void>;
}

export async function startTestService(
  spec: ServeSpec = { env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
  /** More of guest init's test-mode environment (VMSTEP_INIT_ETC, VMSTEP_INIT_LINK_SOCKET). */
  env: NodeJS.ProcessEnv = {},
): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-service-test-'));
  const listener = await listenForGuest(join(dir, 'vsock'));
  const endpoint: ExecEndpoint = { kind: 'unix', path: join(dir, 'exec') };
  const init = spawnTestModeInit(listener.path, { ...env, VMSTEP_INIT_EXEC_SOCKET: endpoint.path });
  const boot = await Promise.race([
    listener.accept(),
    init.exited.then((e) => Promise.reject(new Error(`guest init exited before connecting: ${e.code} ${e.output}`))),
  ]);
  await listener.close();
  const service = startService(boot, spec);
  return {
    service,
    endpoint,
    connect: () => connectSession(endpoint),
    exited: init.exited,
    dir,
    async cleanup() {
      if (init.child.exitCode === null && init.child.signalCode === null) init.child.kill('SIGKILL');
      await init.exited;
      boot.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
