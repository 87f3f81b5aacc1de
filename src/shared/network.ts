import { networkInterfaces } from 'node:os';

/**
 * The host names a person or device on the network would use to reach a listener bound to `bindHost`:
 * this machine's LAN addresses (then 127.0.0.1) when bound to all interfaces, else the bound address.
 */
export function reachableHosts(bindHost: string): string[] {
  if (bindHost !== '0.0.0.0' && bindHost !== '::')
    return [bindHost.includes(':') ? `[${bindHost}]` : bindHost];
  const lan = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
  return [...lan, '127.0.0.1'];
}
