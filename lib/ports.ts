import { createServer } from 'node:net';

/**
 * A port a process is about to listen on, with the variables that move it. Every process checks
 * its ports before it starts anything slow (a database, the sandboxes' generated history), so a
 * port another program holds is reported at once, naming the variable to change, instead of
 * after a minute of start-up as a bare EADDRINUSE.
 */
export interface PortClaim {
  /** The variable that sets the port, e.g. GATEWAY_PORT. */
  variable: string;
  port: number;
  host: string;
  /** The variable that sets the interface, e.g. HOST. */
  hostVariable: string;
}

/** The one-line problem for a claim that cannot be listened on (README.md, Configuration: exit status 2). */
export function portProblem(claim: PortClaim, code: string | undefined): string {
  if (code === 'EADDRINUSE') {
    return `${claim.variable}: port ${claim.port} on ${claim.host} is already in use (by another program, or by this platform already running); set ${claim.variable} to a free port (0: any free port)`;
  }
  if (code === 'EACCES') {
    return `${claim.variable}: not allowed to listen on port ${claim.port} on ${claim.host} (ports below 1024 need privileges); set ${claim.variable} to a port from 1024 to 65535`;
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `${claim.hostVariable}: cannot listen on ${JSON.stringify(claim.host)} (not an address of this machine); set ${claim.hostVariable} to one of its interfaces, e.g. 127.0.0.1 or 0.0.0.0`;
  }
  return `${claim.variable}: cannot listen on port ${claim.port} on ${claim.host} (${code ?? 'unknown error'})`;
}

/** Whether two claims ask for the same port on overlapping interfaces (0.0.0.0 and :: overlap with every one). */
function overlaps(a: PortClaim, b: PortClaim): boolean {
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';
  return a.port === b.port && (a.host === b.host || wildcard(a.host) || wildcard(b.host));
}

function tryListen(claim: PortClaim): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'unknown error'));
    // exclusive: the probe must not share a handle with a listener of this process (cluster semantics).
    probe.listen({ port: claim.port, host: claim.host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/**
 * One problem line per claim that cannot be listened on: taken by another program, privileged,
 * on an interface this machine does not have, or asked for twice by this process. Port 0 (any
 * free port) is never a problem. Takes milliseconds: each port is bound and released at once.
 */
export async function portProblems(claims: readonly PortClaim[]): Promise<string[]> {
  const problems: string[] = [];
  const fixed = claims.filter((c) => c.port !== 0);
  const distinct: PortClaim[] = [];
  fixed.forEach((claim, i) => {
    const earlier = fixed.slice(0, i).find((other) => overlaps(other, claim));
    if (earlier)
      problems.push(`${claim.variable}: port ${claim.port} is also ${earlier.variable}; give each its own port`);
    else distinct.push(claim);
  });
  const results = await Promise.all(distinct.map(async (claim) => ({ claim, code: await tryListen(claim) })));
  for (const { claim, code } of results) if (code) problems.push(portProblem(claim, code));
  return [...new Set(problems)];
}

/** The claim a failed listen() was for (its error carries the port), to name its variable. */
export function claimOf(err: unknown, claims: readonly PortClaim[]): PortClaim | undefined {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code === undefined || typeof e.port !== 'number') return undefined;
  return claims.find((c) => c.port === e.port);
}
