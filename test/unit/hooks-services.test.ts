// Service containers in the runner plugin: what the runner sends for a
// service (ports:, contextName) becomes published ports, links and the
// response's service contexts.
import { describe, expect, it } from 'vitest';
import { parsePortMapping, serviceContexts, serviceLinks, serviceVmName } from '../../src/hooks/services.js';

describe('a service port mapping', () => {
  it("takes docker's forms: HOST:CONTAINER, IP:HOST:CONTAINER, CONTAINER alone (a free host port), /tcp", () => {
    expect(parsePortMapping('6379:6379', 'redis')).toEqual({ hostIp: '127.0.0.1', hostPort: 6379, guestPort: 6379 });
    expect(parsePortMapping('0.0.0.0:8080:80/tcp', 'web')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, guestPort: 80 });
    expect(parsePortMapping('5432', 'postgres')).toEqual({ hostIp: '127.0.0.1', hostPort: 0, guestPort: 5432 });
  });

  it('refuses UDP and what is not a port, naming the service', () => {
    expect(() => parsePortMapping('53:53/udp', 'dns')).toThrow(/service dns: .* is UDP/);
    expect(() => parsePortMapping('redis', 'redis')).toThrow(/service redis: the port mapping "redis" is not/);
    expect(() => parsePortMapping('1:70000', 'x')).toThrow(/is not \[HOST_IP:\]/);
  });
});

describe('started services', () => {
  const started = [
    { id: 'a'.repeat(12), ports: [{ hostIp: '127.0.0.1', hostPort: 40000, guestPort: 6379 }], link: { name: 'redis', vm: 'a'.repeat(12), ports: [6379], address: '127.0.0.2' } },
    { id: 'b'.repeat(12), ports: [], link: { name: 'idle', vm: 'b'.repeat(12), ports: [], address: '127.0.0.3' } },
  ];

  it('answer the runner with their ids and ports, in the order asked', () => {
    expect(serviceContexts(started)).toEqual([
      { id: 'a'.repeat(12), network: 'vmstep', ports: { 6379: '40000' } },
      { id: 'b'.repeat(12), network: 'vmstep', ports: {} },
    ]);
  });

  it('are linked into the job by name only when they have ports', () => {
    expect(serviceLinks(started).map((l) => l.name)).toEqual(['redis']);
  });

  it('get VM names under the job\'s prefix, so cleanup_job finds them', () => {
    expect(serviceVmName('0123456789abcdef', 1, 'my db')).toBe('gha-0123456789abcdef-svc1-my_db');
  });
});
