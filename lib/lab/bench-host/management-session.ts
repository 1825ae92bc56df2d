// Which NIC and address an SSH management session arrives on, asked of the machine itself: sshd puts
// "client-ip client-port server-ip server-port" in SSH_CONNECTION, and the route back to the client
// names the NIC. A data NIC must be neither — whatever name or address the profile used to reach the
// machine (a hostname, a NAT address), this is what the machine really sees.
import { lookup } from 'node:dns/promises';

/** Runs argv on the machine; stdout as text, exit code 0 on success. */
export type RemoteRun = (argv: readonly string[]) => Promise<{ code: number | null; stdout: string }>;

export interface ManagementSession {
  /** The machine's address the session arrived at. */
  serverAddress: string;
  /** The NIC the machine sends its replies to us by. */
  nic?: string;
}

/** Parse SSH_CONNECTION ("client port server port"); undefined when it is not that. */
export function parseSshConnection(text: string): { client: string; server: string } | undefined {
  const [client, clientPort, server, serverPort, ...rest] = text.trim().split(/\s+/);
  if (!client || !server || rest.length > 0 || !/^\d+$/.test(clientPort ?? '') || !/^\d+$/.test(serverPort ?? '')) return undefined;
  return { client, server };
}

/** The session this runner's commands arrive by, or undefined when they do not come over SSH (a local shell). */
export async function managementSession(runOn: RemoteRun): Promise<ManagementSession | undefined> {
  const env = await runOn(['printenv', 'SSH_CONNECTION']);
  const session = env.code === 0 ? parseSshConnection(env.stdout) : undefined;
  if (!session) return undefined;
  const route = await runOn(['ip', '-j', 'route', 'get', session.client]);
  let nic: string | undefined;
  try {
    nic = (JSON.parse(route.stdout || '[]') as { dev?: string }[])[0]?.dev;
  } catch {
    // no JSON route: the address check still applies
  }
  return { serverAddress: session.server, ...(nic ? { nic } : {}) };
}

/** Every address a profile's host name or address stands for here (a literal address stands for itself). */
export async function addressesOf(hostOrAddress: string): Promise<string[]> {
  try {
    return [...new Set([hostOrAddress, ...(await lookup(hostOrAddress, { all: true })).map((a) => a.address)])];
  } catch {
    return [hostOrAddress];
  }
}
