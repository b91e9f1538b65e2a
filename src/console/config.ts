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
}
