/**
 * What a service needs to call a device (cloud → device `services`, docs/protocol.md §1.3): the MQTT
 * gateway implements it. Services depend on this seam, not on the transport.
 */
export interface DeviceCommands {
  /**
   * Sends `method` to the gateway and resolves with its reply (`result`, and the reply's whole `data`).
   * `bid` names the business transaction (kept across resends); rejects with DeviceNoReply.
   */
  call(
    gatewaySn: string,
    method: string,
    data: Record<string, unknown>,
    bid?: string,
  ): Promise<{ result: number; data: Record<string, unknown> }>;
}
