/**
 * The embedded MQTT broker (aedes 2, which accepts MQTT 3.1.1 and 5 clients: docs/protocol.md §13.1) for one
 * machine. Devices log in with a user's MQTT credentials and are held to their own gateway's topics
 * (gateway-acl.ts). Skyvault itself connects as an ordinary MQTT client with an internal account, so the
 * gateway code is the same whether this broker or an external one (SKYVAULT_MQTT_URL) carries the traffic.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../shared/logger.ts';
import { type AclDecision, type DeviceAccount, GatewayAcl } from './gateway-acl.ts';
import { topologyOf } from '../dji/topology.wire.ts';
import { parseEnvelope } from './envelope.ts';
import { parseTopic, snOfTopic } from './topics.ts';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** MQTT over TLS on a second port. */
  tls?: { port: number; cert: Buffer; key: Buffer } | undefined;
  /** The device accounts: a user's MQTT credentials → that user's workspace. */
  authenticate(username: string, password: Buffer): Promise<DeviceAccount | undefined>;
  /** Whether a device SN is bound to another workspace than this one (DeviceService's rule): not to claim. */
  boundElsewhere(sn: string, workspaceId: string): Promise<boolean>;
  /** Skyvault's own account on this broker: every topic, `$share` excluded (aedes has no shared subs). */
  internal: { username: string; password: string };
  /** A gateway's connection ended (the broker is the only one who knows at once). */
  onGatewayDisconnected?: (gatewaySn: string) => void;
  logger: Logger;
}

/** aedes' CONNACK return code for bad credentials (MQTT 3.1.1 code 4; aedes maps it for MQTT 5). */
const BAD_USERNAME_OR_PASSWORD = 4;
const SERVER_UNAVAILABLE = 3;

export class EmbeddedBroker {
  readonly acl = new GatewayAcl();
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  private boundTlsPort: number | undefined;
  /** aedes reuses a client id on takeover; the ACL keys on each connection instead. */
  private readonly connectionIds = new WeakMap<Client, string>();
  private readonly internalClients = new WeakSet<Client>();
  private readonly clientsByConnection = new Map<string, Client>();
  private readonly publishChains = new Map<string, Promise<void>>();
  private boundPort = 0;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  /** The MQTT over TLS port, once started with TLS. */
  get tlsPort(): number | undefined {
    return this.boundTlsPort;
  }

  async start(): Promise<number> {
    const { logger } = this.options;
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          (ok) => done(ok ? null : authError(BAD_USERNAME_OR_PASSWORD), ok),
          (error: unknown) => {
            logger.error({ err: error }, 'MQTT authentication failed');
            done(authError(SERVER_UNAVAILABLE), false);
          },
        );
      },
      authorizePublish: (client, packet, callback) => {
        if (!client || this.internalClients.has(client)) return callback(null);
        const connectionId = this.connectionIds.get(client) ?? '';
        // aedes authorizes a client's packets concurrently; decisions are chained per connection so that
        // publishes go on in the order the device sent them (update_topo before the event that follows).
        const previous = this.publishChains.get(connectionId) ?? Promise.resolve();
        let release!: () => void;
        const done = new Promise<void>((resolve) => (release = resolve));
        const chained = previous.then(() => done);
        this.publishChains.set(connectionId, chained);
        void chained.then(() => {
          if (this.publishChains.get(connectionId) === chained) this.publishChains.delete(connectionId);
        });
        const finish = (error: Error | null) => {
          callback(error);
          release();
        };
        void previous.then(() => this.authorizeOnePublish(client, connectionId, packet, finish));
      },
      authorizeSubscribe: (client, subscription, callback) => {
        if (this.internalClients.has(client)) {
          // aedes would accept a shared subscription and deliver nothing (docs/protocol.md §13.2).
          if (subscription.topic.startsWith('$share/')) return callback(null, null);
          return callback(null, subscription);
        }
        this.authorize(this.connectionIds.get(client) ?? '', subscription.topic).then(
          (decision) => {
            if (!decision.allowed) {
              logger.warn(
                { clientId: client.id, topic: subscription.topic },
                `MQTT subscription refused: ${decision.reason}`,
              );
              return callback(null, null); // SUBACK 0x80 for this filter, the session stays.
            }
            this.afterAllowed(decision.takenFrom);
            callback(null, subscription);
          },
          (error: unknown) => {
            logger.error({ err: error, topic: subscription.topic }, 'MQTT subscription authorization failed');
            callback(null, null);
          },
        );
      },
    });
    broker.on('clientDisconnect', (client) => this.forget(client));
    broker.on('clientError', (client, error) =>
      logger.debug({ clientId: client.id, err: error.message }, 'MQTT client error'),
    );
    this.broker = broker;
    const server = createServer((socket) => broker.handle(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as { port: number }).port;
    const { tls } = this.options;
    if (tls) {
      const tlsServer = createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => broker.handle(socket));
      this.tlsServer = tlsServer;
      this.boundTlsPort = await listenOn(tlsServer, tls.port, this.options.host).catch((error: unknown) => {
        throw Object.assign(error as Error, { setting: 'SKYVAULT_MQTTS_PORT' });
      });
    }
    return this.boundPort;
  }

  /** Serves one MQTT connection arriving over another transport (MQTT over WebSocket on the HTTP port). */
  handle(stream: Duplex, request?: IncomingMessage): void {
    if (!this.broker) {
      stream.destroy();
      return;
    }
    this.broker.handle(stream, request);
  }

  async close(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    const tlsServer = this.tlsServer;
    this.tlsServer = undefined;
    if (tlsServer) await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    }
  }

  private authorizeOnePublish(
    client: Client,
    connectionId: string,
    packet: { topic: string; payload: Buffer | string },
    callback: (error: Error | null) => void,
  ): void {
    const { logger } = this.options;
    this.authorize(connectionId, packet.topic).then(
      (decision) => {
        if (!decision.allowed) {
          logger.warn(
            { clientId: client.id, topic: packet.topic },
            `MQTT publish refused: ${decision.reason}`,
          );
          return callback(new Error(decision.reason));
        }
        this.afterAllowed(decision.takenFrom);
        // Before the publish is accepted, so the aircraft's topics are open to what the dock sends next.
        this.learnTopology(connectionId, packet.topic, packet.payload).then(
          () => callback(null),
          (error: unknown) => {
            logger.error({ err: error, topic: packet.topic }, 'MQTT: could not learn the topology');
            callback(null);
          },
        );
      },
      (error: unknown) => {
        logger.error({ err: error, topic: packet.topic }, 'MQTT publish authorization failed');
        callback(new Error('authorization failed'));
      },
    );
  }

  /**
   * The ACL's decision, plus one rule it cannot know: a connection claiming its gateway SN must belong to
   * the workspace that SN is bound to (when bound). Otherwise any account could pose as another
   * workspace's dock while that dock is offline, and be handed that workspace's upload credentials.
   */
  private async authorize(connectionId: string, topic: string): Promise<AclDecision> {
    const account = this.acl.accountOfConnection(connectionId);
    const sn = snOfTopic(topic);
    if (account && sn !== undefined && this.acl.gatewayOf(connectionId) === undefined) {
      if (await this.options.boundElsewhere(sn, account.workspaceId)) {
        return { allowed: false, reason: `${sn} is bound to another workspace` };
      }
    }
    return this.acl.check(connectionId, topic);
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<boolean> {
    if (username === undefined || password === undefined) return false;
    const { internal } = this.options;
    if (username === internal.username) {
      const expected = Buffer.from(internal.password, 'utf8');
      const ok = expected.length === password.length && timingSafeEqual(expected, password);
      if (ok) this.internalClients.add(client);
      return ok;
    }
    const account = await this.options.authenticate(username, password);
    if (!account) return false;
    const connectionId = randomUUID();
    this.connectionIds.set(client, connectionId);
    this.clientsByConnection.set(connectionId, client);
    this.acl.connected(connectionId, account);
    return true;
  }

  private forget(client: Client): void {
    const connectionId = this.connectionIds.get(client);
    if (connectionId === undefined) return;
    const gateway = this.acl.gatewayOf(connectionId);
    this.acl.disconnected(connectionId);
    this.clientsByConnection.delete(connectionId);
    // Not when a newer connection of the dock took the SN over.
    if (gateway !== undefined && this.acl.accountOf(gateway) === undefined) {
      this.options.onGatewayDisconnected?.(gateway);
    }
  }

  /** An SN moved to a newer connection of the same account: the old one is closed. */
  private afterAllowed(takenFrom: string | undefined): void {
    if (takenFrom === undefined) return;
    const old = this.clientsByConnection.get(takenFrom);
    this.clientsByConnection.delete(takenFrom);
    old?.close();
  }

  /**
   * A gateway's `update_topo` names the sub-devices (its aircraft) whose topics it may use, except
   * devices bound to another workspace than the connection's account.
   */
  private async learnTopology(connectionId: string, topic: string, payload: Buffer | string): Promise<void> {
    if (parseTopic(topic)?.family !== 'status') return;
    const account = this.acl.accountOfConnection(connectionId);
    const parsed = parseEnvelope(payload);
    if (!account || !parsed.ok || parsed.envelope.method !== 'update_topo') return;
    const allowed: string[] = [];
    for (const { sn } of topologyOf(parsed.envelope.data).subDevices) {
      if (!(await this.options.boundElsewhere(sn, account.workspaceId))) allowed.push(sn);
      else this.options.logger.warn({ sn }, 'MQTT: a sub-device bound to another workspace is not opened');
    }
    this.acl.setSubDevices(connectionId, allowed);
  }
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function authError(returnCode: number): AuthenticateError {
  return Object.assign(new Error('MQTT authentication refused'), { returnCode }) as AuthenticateError;
}
