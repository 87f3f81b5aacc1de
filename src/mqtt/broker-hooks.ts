/**
 * The answers Skyvault gives an external broker that delegates authentication and authorization to it
 * (EMQX 5's "HTTP Server" authenticator and authorizer; http/routes/mqtt-auth.routes.ts), so that device
 * accounts and topic rules are defined in one place for both brokers (docs/mqtt.md):
 *
 * - **Authentication** (at CONNECT): Skyvault's internal principals (internal-principal.ts, verified with
 *   the hook secret; superuser, so EMQX asks nothing more for Skyvault's own traffic), or a user's MQTT
 *   credentials checked as the embedded broker checks them. A device account may not use a `skyvault-…`
 *   client id, a client id that is a device SN bound to another workspace, nor a client id another
 *   account used within the last CLIENT_ID_HOLD_MS (EMQX's default session expiry): EMQX would otherwise
 *   hand that account the other's session. Anything else is denied, never ignored.
 * - **Authorization** (publish, subscribe): the embedded broker's rule (gateway-acl.ts), one gateway per
 *   client id, with DeviceService's ownership rule; the aircraft of a dock are read from the topology
 *   Skyvault recorded from its `update_topo` (the broker does not show the hook a message's payload).
 *
 * EMQX does not tell the hooks when a client leaves, so what they remember of a client id is forgotten
 * after a while without any request about it (CONNECTION_IDLE_MS for its gateway binding). That memory
 * is this instance's: several instances answering the hooks each keep their own.
 */
import type { Logger } from '../shared/logger.ts';
import { authorizeDeviceTopic, type DeviceAccount, GatewayAcl } from './gateway-acl.ts';
import { isDerivedInternal, isInternalUsername, isReservedClientId } from './internal-principal.ts';
import { snOfTopic } from './topics.ts';

/** How long a client id stays held by the account that last used it (EMQX's default session expiry). */
export const CLIENT_ID_HOLD_MS = 2 * 60 * 60 * 1000;
/** How long a client id's gateway binding is kept without a request about it. */
export const CONNECTION_IDLE_MS = 5 * 60 * 1000;
/**
 * How long an account found usable is taken as still usable: after that the next authorization reads it
 * again, so a disabled, removed or viewer account is refused within this delay (the same as sessions).
 */
export const ACCOUNT_RECHECK_MS = 5_000;

export interface AuthenticationRequest {
  clientid?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  peerhost?: string | undefined;
}

export interface AuthorizationRequest {
  clientid?: string | undefined;
  username?: string | undefined;
  topic?: string | undefined;
  action?: string | undefined;
}

export interface AuthenticationAnswer {
  result: 'allow' | 'deny';
  is_superuser: boolean;
}

export interface AuthorizationAnswer {
  result: 'allow' | 'deny';
}

export interface BrokerHooksOptions {
  /** The hook secret: internal principals' passwords are derived from it. */
  secret: string;
  /** A user's MQTT credentials → that user's account (UserService.mqttAccount, as the embedded broker). */
  authenticate(username: string, password: Buffer): Promise<DeviceAccount | undefined>;
  /** The account of an MQTT username the broker has authenticated. */
  accountOf(username: string): Promise<DeviceAccount | undefined>;
  /** DeviceService's ownership rule. */
  boundElsewhere(sn: string, workspaceId: string): Promise<boolean>;
  /** The gateway a device was last seen under (its `update_topo`), if any. */
  parentOf(sn: string): Promise<string | undefined>;
  logger: Logger;
  now?: () => number;
}

const DENY_CONNECT: AuthenticationAnswer = { result: 'deny', is_superuser: false };
const DENY: AuthorizationAnswer = { result: 'deny' };
const ALLOW: AuthorizationAnswer = { result: 'allow' };

export class BrokerHooks {
  /** One "connection" per client id: EMQX keeps one live connection per client id. */
  private readonly acl = new GatewayAcl();
  private readonly lastSeen = new Map<string, number>();
  /** When each client id's account was last read and found usable. */
  private readonly verifiedAt = new Map<string, number>();
  /** Client id → the owner (`device:<username>` or `internal`) that last used it, and when. */
  private readonly owners = new Map<string, { owner: string; at: number }>();
  private lastSweep = 0;
  private readonly now: () => number;

  constructor(private readonly options: BrokerHooksOptions) {
    this.now = options.now ?? Date.now;
  }

  async authenticate(request: AuthenticationRequest): Promise<AuthenticationAnswer> {
    const { clientid, username, password } = request;
    const { logger } = this.options;
    this.sweep();
    if (!clientid || !username || password === undefined) return DENY_CONNECT;
    const secret = Buffer.from(password, 'utf8');
    if (isInternalUsername(username)) {
      if (!isDerivedInternal(username, secret, this.options.secret)) {
        logger.warn({ clientId: clientid, username }, 'MQTT hook: internal principal refused');
        return DENY_CONNECT;
      }
      if (!this.claimClientId(clientid, 'internal')) return DENY_CONNECT;
      return { result: 'allow', is_superuser: true };
    }
    const account = await this.options.authenticate(username, secret);
    if (!account) return DENY_CONNECT;
    const refusal = await this.clientIdRefusal(clientid, account);
    if (refusal) {
      logger.warn({ clientId: clientid, username }, `MQTT hook: client id refused: ${refusal}`);
      return DENY_CONNECT;
    }
    // A new connection under this client id: its gateway is bound afresh.
    this.acl.connected(clientid, account);
    this.lastSeen.set(clientid, this.now());
    return { result: 'allow', is_superuser: false };
  }

  async authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer> {
    const { clientid, username, topic, action } = request;
    const { logger } = this.options;
    this.sweep();
    if (!clientid || !username || !topic || (action !== 'publish' && action !== 'subscribe')) return DENY;
    if (isInternalUsername(username)) {
      // EMQX asks only if the principal was not made superuser; its client id says it is Skyvault's.
      return isReservedClientId(clientid) ? ALLOW : DENY;
    }
    if (isReservedClientId(clientid)) return DENY;
    const account = await this.connectionAccount(clientid, username);
    if (!account) return DENY;
    this.owners.set(clientid, { owner: `device:${account.username}`, at: this.now() });
    await this.learnAircraft(clientid, account, topic);
    const decision = await authorizeDeviceTopic(this.acl, clientid, topic, this.options.boundElsewhere);
    if (!decision.allowed) {
      logger.warn({ clientId: clientid, topic, action }, `MQTT hook: ${action} refused: ${decision.reason}`);
      return DENY;
    }
    return ALLOW;
  }

  /** Why this account may not use this client id, if it may not. Claims it otherwise. */
  private async clientIdRefusal(clientId: string, account: DeviceAccount): Promise<string | undefined> {
    if (isReservedClientId(clientId)) return 'reserved to Skyvault';
    if (await this.options.boundElsewhere(clientId, account.workspaceId)) {
      return 'a device SN bound to another workspace';
    }
    if (!this.claimClientId(clientId, `device:${account.username}`))
      return "held by another account's session";
    return undefined;
  }

  private claimClientId(clientId: string, owner: string): boolean {
    const now = this.now();
    const held = this.owners.get(clientId);
    if (held && held.owner !== owner && now - held.at < CLIENT_ID_HOLD_MS) return false;
    this.owners.set(clientId, { owner, at: now });
    return true;
  }

  /**
   * The account behind this client id's connection: the one its authentication registered, or (another
   * instance authenticated it, or this one restarted since) the username's, registered now.
   */
  private async connectionAccount(clientId: string, username: string): Promise<DeviceAccount | undefined> {
    const now = this.now();
    this.lastSeen.set(clientId, now);
    const known = this.acl.accountOfConnection(clientId);
    if (known?.username === username && now - (this.verifiedAt.get(clientId) ?? 0) < ACCOUNT_RECHECK_MS) {
      return known;
    }
    const account = await this.options.accountOf(username);
    if (!account) {
      this.verifiedAt.delete(clientId);
      return undefined;
    }
    this.verifiedAt.set(clientId, now);
    if (this.acl.accountOfConnection(clientId)?.username !== username) this.acl.connected(clientId, account);
    return account;
  }

  /**
   * The broker shows the hook no payload, so a dock's aircraft are those Skyvault recorded under it from
   * its `update_topo` (and not bound to another workspace).
   */
  private async learnAircraft(clientId: string, account: DeviceAccount, topic: string): Promise<void> {
    const gateway = this.acl.gatewayOf(clientId);
    const sn = snOfTopic(topic);
    if (gateway === undefined || sn === undefined || sn === gateway) return;
    const subDevices = this.acl.subDevicesOf(clientId);
    if (subDevices.includes(sn)) return;
    if ((await this.options.parentOf(sn)) !== gateway) return;
    if (await this.options.boundElsewhere(sn, account.workspaceId)) return;
    this.acl.setSubDevices(clientId, [...subDevices, sn]);
  }

  /** Forgets client ids nobody asked about for a while (at most once a minute). */
  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [clientId, at] of this.lastSeen) {
      if (now - at >= CONNECTION_IDLE_MS) {
        this.lastSeen.delete(clientId);
        this.verifiedAt.delete(clientId);
        this.acl.disconnected(clientId);
      }
    }
    for (const [clientId, held] of this.owners) {
      if (now - held.at >= CLIENT_ID_HOLD_MS) this.owners.delete(clientId);
    }
  }
}
