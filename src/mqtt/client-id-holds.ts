/**
 * Who holds each MQTT client id on the embedded broker (issue 13). MQTT lets a CONNECT with a client id in
 * use take the session over: the old connection is closed and, without Clean Start, the new one resumes
 * its subscriptions and queued messages. That is what a dock reconnecting after a network drop relies on,
 * and it stays so for the same account. For another account it would be a way to kick any dock, and to
 * read what was queued for it, so a client id is held by one owner (an MQTT account, or Skyvault itself)
 * for as long as a connection of that owner uses it or a session it opened is kept, and another owner's
 * CONNECT with it is refused.
 *
 * The check and the claim are one synchronous step, so two accounts connecting at once cannot both pass.
 * The state of a hold is read from the connections themselves (aedes marks a connection `closed` as soon as
 * it starts closing, and `clean` when its session ends with it), so no event ordering has to be trusted.
 */

/** What a hold needs to know of a connection (an aedes Client). */
export interface HeldConnection {
  /** The connection is closing or closed. */
  readonly closed: boolean;
  /** Its session ends with it (MQTT 5 session expiry 0, or a 3.1.1 clean session). */
  readonly clean: boolean;
}

interface Hold<C extends HeldConnection> {
  owner: string;
  /** The owner's connections under this id that may still be open. */
  connections: Set<C>;
  /** The latest connection: its session is the one the id carries. */
  latest: C;
  /** The broker ended the latest connection's session (expired). */
  ended: boolean;
}

export class ClientIdHolds<C extends HeldConnection> {
  private readonly holds = new Map<string, Hold<C>>();

  /**
   * Claims `clientId` for `owner` on behalf of `connection`: false when another owner holds it (a
   * connection open, or a session kept). The same owner may always claim it again.
   */
  claim(clientId: string, owner: string, connection: C): boolean {
    const hold = this.holds.get(clientId);
    if (hold && hold.owner !== owner && this.isHeld(hold)) return false;
    if (!hold || hold.owner !== owner) {
      this.holds.set(clientId, {
        owner,
        connections: new Set([connection]),
        latest: connection,
        ended: false,
      });
      return true;
    }
    for (const c of hold.connections) if (c.closed) hold.connections.delete(c);
    hold.connections.add(connection);
    hold.latest = connection;
    hold.ended = false;
    return true;
  }

  /** The owner holding `clientId`, if it is held. */
  ownerOf(clientId: string): string | undefined {
    const hold = this.holds.get(clientId);
    return hold && this.isHeld(hold) ? hold.owner : undefined;
  }

  /** A connection ended: forgets the id unless a connection or a kept session still holds it. */
  closed(clientId: string, connection: C): void {
    const hold = this.holds.get(clientId);
    if (!hold) return;
    hold.connections.delete(connection);
    if (!this.isHeld(hold)) this.holds.delete(clientId);
  }

  /** The broker ended the session of `connection` (expiry, or its limit of kept sessions). */
  sessionEnded(clientId: string, connection: C): void {
    const hold = this.holds.get(clientId);
    if (!hold || hold.latest !== connection) return;
    hold.ended = true;
    if (!this.isHeld(hold)) this.holds.delete(clientId);
  }

  /** How many client ids are held (for tests and logs). */
  get size(): number {
    return this.holds.size;
  }

  private isHeld(hold: Hold<C>): boolean {
    for (const c of hold.connections) if (!c.closed) return true;
    return !hold.latest.clean && !hold.ended;
  }
}
