// What the console's server tells the page at /config.json; the page (console/src) reads the same
// type, so the two cannot drift apart.

export interface ConsoleConfig {
  /** The broker's MQTT-over-WebSocket URL (ws:// or wss://). */
  brokerUrl: string;
  /** The devices' base topic pattern, `{id}` standing for the device id. */
  baseTopic: string;
  /** Seconds without a heartbeat after which a device without presence shows offline. */
  staleAfterSeconds: number;
  /** Seconds a request waits for the device's answer before the page says none came. */
  answerTimeoutSeconds: number;
  /** Local mode only: a program file dropped in the page is signed and served by the console's
   * server (POST /deploy with this token in the x-console-token header), up to maxBytes. */
  deploy?: { token: string; maxBytes: number };
}
