/**
 * Which topics each device connection of the embedded broker may use (issue 5: "restricts each client to
 * its own gateway's topics"). A device connection is bound to one gateway SN: the first SN it touches
 * (`thing/product/{sn}/…` or `sys/product/{sn}/…`, by publish or subscribe) becomes its gateway, and the
 * sub-devices its `update_topo` announces become usable too. Wildcards in the SN level, `$share/…` and
 * anything outside those two trees are refused.
 *
 * An SN already held by a live connection of another MQTT account is refused. A new connection of the
 * same account takes it over (a dock reconnecting before its old connection timed out); the old
 * connection is then told to close. The broker's own internal account is not checked here.
 */
import { snOfTopic } from './topics.ts';

export interface DeviceAccount {
  username: string;
  workspaceId: string;
}

interface Connection {
  account: DeviceAccount;
  gateway?: string;
  subDevices: Set<string>;
}

export type AclDecision = { allowed: true; takenFrom?: string } | { allowed: false; reason: string };

/**
 * The ACL's decision, plus one rule it cannot know: a connection claiming its gateway SN must belong to
 * the workspace that SN is bound to (when bound). Otherwise any account could pose as another workspace's
 * dock while that dock is offline, and be handed that workspace's upload credentials. The one topic rule
 * of the embedded broker and of the external broker's hooks (broker-hooks.ts).
 */
export async function authorizeDeviceTopic(
  acl: GatewayAcl,
  connectionId: string,
  topic: string,
  boundElsewhere: (sn: string, workspaceId: string) => Promise<boolean>,
): Promise<AclDecision> {
  const account = acl.accountOfConnection(connectionId);
  const sn = snOfTopic(topic);
  if (account && sn !== undefined && acl.gatewayOf(connectionId) === undefined) {
    if (await boundElsewhere(sn, account.workspaceId)) {
      return { allowed: false, reason: `${sn} is bound to another workspace` };
    }
  }
  return acl.check(connectionId, topic);
}

export class GatewayAcl {
  private readonly connections = new Map<string, Connection>();
  /** SN (gateway or sub-device) → connection id holding it. */
  private readonly holders = new Map<string, string>();

  connected(connectionId: string, account: DeviceAccount): void {
    this.disconnected(connectionId);
    this.connections.set(connectionId, { account, subDevices: new Set() });
  }

  disconnected(connectionId: string): void {
    const connection = this.connections.get(connectionId);
    if (!connection) return;
    for (const sn of [connection.gateway, ...connection.subDevices]) {
      if (sn !== undefined && this.holders.get(sn) === connectionId) this.holders.delete(sn);
    }
    this.connections.delete(connectionId);
  }

  /** May this connection publish to, or subscribe to, `topic`? Binds its gateway on first use. */
  check(connectionId: string, topic: string): AclDecision {
    const connection = this.connections.get(connectionId);
    if (!connection) return { allowed: false, reason: 'unknown connection' };
    if (/[+#]/.test(topic) || topic.startsWith('$')) {
      return { allowed: false, reason: `wildcards and $-topics are not for devices (${topic})` };
    }
    const sn = snOfTopic(topic);
    if (sn === undefined) return { allowed: false, reason: `${topic} is not a device topic` };
    if (connection.gateway === undefined) return this.claim(connectionId, connection, sn);
    if (sn === connection.gateway || connection.subDevices.has(sn)) return { allowed: true };
    return { allowed: false, reason: `${topic} belongs to another device than ${connection.gateway}` };
  }

  /**
   * May this connection receive a message on `topic`? Its gateway's and sub-devices' topics only; binds
   * nothing (a connection that has not used a device topic yet receives nothing).
   */
  mayReceive(connectionId: string, topic: string): boolean {
    const connection = this.connections.get(connectionId);
    const sn = snOfTopic(topic);
    if (!connection || connection.gateway === undefined || sn === undefined) return false;
    return sn === connection.gateway || connection.subDevices.has(sn);
  }

  /** The sub-devices the gateway announced in `update_topo` (replacing the previous list). */
  setSubDevices(connectionId: string, sns: string[]): void {
    const connection = this.connections.get(connectionId);
    if (!connection?.gateway) return;
    for (const sn of connection.subDevices) {
      if (this.holders.get(sn) === connectionId) this.holders.delete(sn);
    }
    connection.subDevices = new Set(
      sns.filter((sn) => sn !== connection.gateway && this.mayHold(connection, sn)),
    );
    for (const sn of connection.subDevices) this.holders.set(sn, connectionId);
  }

  /** The sub-devices the connection's gateway announced. */
  subDevicesOf(connectionId: string): string[] {
    return [...(this.connections.get(connectionId)?.subDevices ?? [])];
  }

  /** The account of the live connection holding this SN (gateway or sub-device). */
  accountOf(sn: string): DeviceAccount | undefined {
    const holder = this.holders.get(sn);
    return holder === undefined ? undefined : this.connections.get(holder)?.account;
  }

  gatewayOf(connectionId: string): string | undefined {
    return this.connections.get(connectionId)?.gateway;
  }

  /** The account a connection logged in with. */
  accountOfConnection(connectionId: string): DeviceAccount | undefined {
    return this.connections.get(connectionId)?.account;
  }

  private claim(connectionId: string, connection: Connection, sn: string): AclDecision {
    const holderId = this.holders.get(sn);
    const holder = holderId === undefined ? undefined : this.connections.get(holderId);
    if (holder && holder.account.username !== connection.account.username) {
      return { allowed: false, reason: `${sn} is in use by another account's connection` };
    }
    if (holderId !== undefined) this.disconnected(holderId);
    connection.gateway = sn;
    this.holders.set(sn, connectionId);
    return holderId === undefined ? { allowed: true } : { allowed: true, takenFrom: holderId };
  }

  private mayHold(connection: Connection, sn: string): boolean {
    const holderId = this.holders.get(sn);
    if (holderId === undefined) return true;
    return this.connections.get(holderId)?.account.username === connection.account.username;
  }
}
