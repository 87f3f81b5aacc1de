/**
 * The addresses Skyvault tells clients: the HTTP base URL and the MQTT address devices connect to.
 * Fixed by configuration, or else derived from how the client reached this request (Host and, from
 * trusted proxies, X-Forwarded-Proto/Host), so a Pilot on the LAN is told the LAN address it used.
 */
import type { FastifyRequest } from 'fastify';

export interface PublicAddressOptions {
  publicUrl: string | undefined;
  mqttPublicUrl: string | undefined;
  /** The MQTT port devices connect to when no public MQTT URL is configured (until setMqttPort). */
  mqttPort: number;
}

export class PublicAddresses {
  private mqttPort: number;

  constructor(private readonly options: PublicAddressOptions) {
    this.mqttPort = options.mqttPort;
  }

  /** The embedded broker's port once it listens (it may have been 0: "pick one"). */
  setMqttPort(port: number): void {
    this.mqttPort = port;
  }

  baseUrl(request: FastifyRequest): string {
    return this.options.publicUrl ?? `${request.protocol}://${request.host}`;
  }

  /** The host name (no brackets, no port) of baseUrl: what other endpoints for this client are built on. */
  hostname(request: FastifyRequest): string {
    try {
      return new URL(this.baseUrl(request)).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return request.hostname;
    }
  }

  /** DJI `mqtt_addr`: `tcp://host:port` (or the configured ssl/ws/wss URL). */
  mqttAddress(request: FastifyRequest): string {
    if (this.options.mqttPublicUrl) return this.options.mqttPublicUrl;
    const host = this.hostname(request);
    return `tcp://${host.includes(':') ? `[${host}]` : host}:${this.mqttPort}`;
  }
}
