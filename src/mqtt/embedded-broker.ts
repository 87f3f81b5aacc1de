/**
 * The embedded MQTT broker (aedes 2, which accepts MQTT 3.1.1 and 5 clients: docs/protocol.md §13.1) for one
 * machine. Devices log in with a user's MQTT credentials and are held to their own gateway's topics
 * (gateway-acl.ts). Skyvault itself connects as an ordinary MQTT client with an internal principal
 * (internal-principal.ts), so the gateway code is the same whether this broker or an external one
 * (SKYVAULT_MQTT_URL) carries the traffic.
 *
 * Client ids and sessions belong to the account that opened them (issue 13, client-id-holds.ts): a client
 * id in use by another account's connection, or carrying another account's kept session, is refused at
 * CONNECT instead of taken over, so no account kicks another's dock or resumes its session; `skyvault-…`
 * ids are Skyvault's own; a client id that is a device SN bound to another workspace is refused. Restored
 * subscriptions go through the same ACL as new ones (aedes authorizes them again), and every delivery to
 * a device is checked against its connection's gateway (`authorizeForward`), messages queued in a
 * session included.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../shared/logger.ts';
import { ClientIdHolds } from './client-id-holds.ts';
import { type AclDecision, authorizeDeviceTopic, type DeviceAccount, GatewayAcl } from './gateway-acl.ts';
import { isInternalUsername, isReservedClientId, sameSecret } from './internal-principal.ts';
import { topologyOf } from '../dji/topology.wire.ts';
import { parseEnvelope } from './envelope.ts';
import { parseTopic } from './topics.ts';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** MQTT over TLS on a second port. */
  tls?: { port: number; cert: Buffer; key: Buffer } | undefined;
  /** The device accounts: a user's MQTT credentials → that user's workspace. */
  authenticate(username: string, password: Buffer): Promise<DeviceAccount | undefined>;
  /** Whether a device SN is bound to another workspace than this one (DeviceService's rule): not to claim. */
  boundElsewhere(sn: string, workspaceId: string): Promise<boolean>;
  /**
   * Skyvault's own principal on this broker (internal-principal.ts): every topic, `$share` excluded (aedes
   * has no shared subscriptions). Its username is of the internal namespace in production.
   */
  internal: { username: string; password: string };
  /** A gateway's connection ended (the broker is the only one who knows at once). */
  onGatewayDisconnected?: (gatewaySn: string) => void;
  logger: Logger;
}

/** aedes' CONNACK return codes (MQTT 3.1.1; aedes maps them to MQTT 5 reason codes). */
const IDENTIFIER_REJECTED = 2; // MQTT 5: 0x85 Client Identifier not valid
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
/** The owner of Skyvault's own connections in the client id holds (device owners are `device:<username>`). */
const INTERNAL_OWNER = 'internal';

type Admission = 'ok' | 'bad-credentials' | 'client-id-refused';

export class EmbeddedBroker {
  readonly acl = new GatewayAcl();
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  private boundTlsPort: number | undefined;
  /** aedes reuses a client id on takeover; the ACL keys on each connection instead. */
  private readonly connectionIds = new WeakMap<Client, string>();
  private readonly internalClients = new WeakSet<Client>();
  /** Which owner holds each client id (a live connection or a kept session). */
  private readonly clientIds = new ClientIdHolds<Client>();
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
          (admission) => {
            if (admission === 'ok') return done(null, true);
            if (admission === 'client-id-refused') {
              logger.warn({ clientId: client.id, username }, 'MQTT client id refused');
              return done(authError(IDENTIFIER_REJECTED), false);
            }
            done(authError(BAD_USERNAME_OR_PASSWORD), false);
          },
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
      // Every delivery to a device, queued ones of a resumed session included, is for its own gateway.
      authorizeForward: (client, packet) => {
        if (this.internalClients.has(client)) return packet;
        const connectionId = this.connectionIds.get(client);
        return connectionId !== undefined && this.acl.mayReceive(connectionId, packet.topic) ? packet : null;
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
    broker.on('sessionExpired', (client) => this.clientIds.sessionEnded(client.id, client));
    broker.on('sessionLimitReached', (client, info) => {
      if (info.reason === 'sessionExpiry') this.clientIds.sessionEnded(client.id, client);
    });
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

  /**
   * Closes every live connection of a device account (disabled, removed, made a viewer, its MQTT password
   * rotated): to come back it must log in again, with what the account allows now. Returns how many.
   */
  disconnectAccount(username: string): number {
    let closed = 0;
    for (const [connectionId, client] of [...this.clientsByConnection]) {
      if (this.acl.accountOfConnection(connectionId)?.username !== username) continue;
      client.close();
      closed += 1;
    }
    if (closed > 0) this.options.logger.info({ username, connections: closed }, 'MQTT account disconnected');
    return closed;
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

  /** The one topic rule (gateway-acl.ts), with DeviceService's ownership rule. */
  private authorize(connectionId: string, topic: string): Promise<AclDecision> {
    return authorizeDeviceTopic(this.acl, connectionId, topic, this.options.boundElsewhere);
  }

  /**
   * Checks the credentials, then the client id: reserved to Skyvault (`skyvault-…`), a device SN bound to
   * another workspace, or held by another owner (client-id-holds.ts) are refused. The id is claimed in the
   * same synchronous step as the last check.
   */
  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Admission> {
    if (username === undefined || password === undefined) return 'bad-credentials';
    const { internal } = this.options;
    if (username === internal.username || isInternalUsername(username)) {
      // Never a device account, whatever the database holds.
      if (username !== internal.username || !sameSecret(Buffer.from(internal.password, 'utf8'), password)) {
        return 'bad-credentials';
      }
      if (client.closed || !this.clientIds.claim(client.id, INTERNAL_OWNER, client)) {
        return 'client-id-refused';
      }
      this.internalClients.add(client);
      client.conn.once('close', () => this.clientIds.closed(client.id, client));
      return 'ok';
    }
    const account = await this.options.authenticate(username, password);
    if (!account) return 'bad-credentials';
    if (isReservedClientId(client.id)) return 'client-id-refused';
    if (await this.options.boundElsewhere(client.id, account.workspaceId)) return 'client-id-refused';
    if (client.closed || !this.clientIds.claim(client.id, `device:${account.username}`, client)) {
      return 'client-id-refused';
    }
    client.conn.once('close', () => this.clientIds.closed(client.id, client));
    const connectionId = randomUUID();
    this.connectionIds.set(client, connectionId);
    this.clientsByConnection.set(connectionId, client);
    this.acl.connected(connectionId, account);
    return 'ok';
  }

  private forget(client: Client): void {
    this.clientIds.closed(client.id, client);
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
