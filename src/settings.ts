// Every setting of the agent: its config-file key (also a flag and an upper-case environment
// variable), its type, default and help text. Keys of ../shared/API.md first, then this agent's.

import { DEFAULT_BASE_TOPIC } from './api/topics.js';
import { ConfigError } from './errors.js';

export type SettingType = 'string' | 'boolean' | 'number';

export interface SettingDefinition {
  key: string;
  type: SettingType;
  default: string | boolean | number;
  help: string;
  /** Never printed (help shows it exists, logs show "***"). */
  secret?: boolean;
  /** Flag-only keys: not read from the config file (e.g. -config itself). */
  flagOnly?: boolean;
}

export const settingDefinitions = [
  { key: 'id', type: 'string', default: '', help: 'device id; also the MQTT client id' },
  { key: 'url', type: 'string', default: '', help: 'broker: a host name (mqtts://HOST:8883 with the device certificate) or a URL with scheme mqtt://, mqtts://, ws://, wss://' },
  { key: 'http_proxy', type: 'string', default: '', help: 'HTTP proxy, exported to the environment of the agent and its sketches' },
  { key: 'https_proxy', type: 'string', default: '', help: 'HTTPS proxy, exported likewise' },
  { key: 'all_proxy', type: 'string', default: '', help: 'proxy for all protocols, exported likewise' },
  { key: 'authurl', type: 'string', default: 'https://hydra.arduino.cc/', help: 'OAuth server of the cloud (device authorisation flow)' },
  { key: 'auth_client_id', type: 'string', default: 'connector', help: 'OAuth client id used to log in' },
  { key: 'apiurl', type: 'string', default: 'https://api2.arduino.cc', help: 'cloud device API' },
  { key: 'token', type: 'string', default: '', help: 'access token for -register, which then skips the device login; never logged nor written to the config file', secret: true, flagOnly: true },
  { key: 'cert_path', type: 'string', default: '/etc/arduino-connector', help: 'folder of certificate.pem, certificate.key (0600) and optionally ca.pem' },
  { key: 'sketches_path', type: 'string', default: '/var/lib/arduino-connector', help: 'data folder: sketches/ (0700) and the sketch table' },
  { key: 'check_ro_fs', type: 'boolean', default: false, help: 'remount / read-write around commands that write, read-only after' },
  { key: 'env_vars_to_load', type: 'string', default: '', help: 'extra environment for sketches: NAME=value,NAME=value' },
  { key: 'signature_key', type: 'string', default: '', help: 'public key (PEM, "\\n" for newlines, or a path to a PEM file) that signs sketches and updates' },
  { key: 'base_topic', type: 'string', default: DEFAULT_BASE_TOPIC, help: 'base of every topic; {id} is the device id (e.g. devices/{id})' },
  { key: 'heartbeat_interval', type: 'number', default: 15, help: 'seconds between heartbeats (0: no heartbeat)' },
  { key: 'drop_folder', type: 'string', default: '/tmp/sketches', help: 'a file dropped here is installed and started as sketchLoadedThroughUSB' },
  { key: 'docker_host', type: 'string', default: '', help: 'Docker Engine API socket (default: DOCKER_HOST, else /var/run/docker.sock)' },
  { key: 'apt_config_dir', type: 'string', default: '/etc/apt', help: 'apt configuration folder whose sources are managed' },
  { key: 'max_sketch_size', type: 'number', default: 512 * 1024 * 1024, help: 'largest sketch download accepted, in bytes' },
  { key: 'mqtt_username', type: 'string', default: '', help: 'user name for brokers that ask for one' },
  { key: 'mqtt_password', type: 'string', default: '', help: 'password for brokers that ask for one', secret: true },
  { key: 'mqtt_version', type: 'string', default: 'auto', help: 'MQTT version: auto (5, or 3.1.1 when the broker refuses 5 or hangs up on it), 5 or 3.1.1' },
  { key: 'debug_mqtt', type: 'boolean', default: false, help: 'log every MQTT message in and out (secrets redacted); also -debug-mqtt' },
  { key: 'log_level', type: 'string', default: 'info', help: 'debug, info, warn or error' },
  { key: 'releases_path', type: 'string', default: '', help: 'folder of updates (one folder per version, current and previous links, the update state; default: releases/ in sketches_path); never the packaged release' },
  { key: 'update_key', type: 'string', default: '', help: 'public key (PEM or a path) that signs updates; empty: signature_key' },
  { key: 'update_probation', type: 'number', default: 120, help: 'seconds an updated agent has to connect and answer status before it is rolled back' },
  { key: 'max_update_size', type: 'number', default: 512 * 1024 * 1024, help: 'largest update download accepted, in bytes' },
  { key: 'nats_server_path', type: 'string', default: '', help: 'the nats-server program of the local bus (default: nats-server on PATH, else /usr/sbin/nats-server)' },
  { key: 'nats_port', type: 'number', default: 4222, help: 'port of the local bus on 127.0.0.1, whose $arduino.cloud.<name> messages go to B/shadow/update (0: no bus)' },
  { key: 'offline_queue_size', type: 'number', default: 16 * 1024 * 1024, help: 'bytes of sketch output, B/status and B/shadow/update kept on disk (outbox/ in sketches_path) while the broker is away, oldest dropped past it; 0: none kept' },
  { key: 'sketch_output_rate', type: 'number', default: 0, help: 'bytes per second of sketch output at most, for metered links (0: no limit; at most 10 messages a second per sketch either way)' },
  { key: 'listen', type: 'string', default: '', help: 'follow this file (it may appear later, be truncated or rotated) and publish each line containing $$$ on B/install; also -listen FILE' },
] as const satisfies readonly SettingDefinition[];

type Definitions = typeof settingDefinitions;
type ValueOf<T extends SettingType> = T extends 'boolean' ? boolean : T extends 'number' ? number : string;

/** The effective settings: every key present, typed. */
export type Settings = { [D in Definitions[number] as D['key']]: ValueOf<D['type']> };

export type SettingKey = keyof Settings;

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const d of settingDefinitions) out[d.key] = d.default;
  return out as Settings;
}

export function findSetting(key: string): SettingDefinition | undefined {
  const normalised = key.replaceAll('-', '_').toLowerCase();
  return settingDefinitions.find((d) => d.key === normalised);
}

export const mqttVersions = ['auto', '5', '3.1.1'] as const;
export type MqttVersion = (typeof mqttVersions)[number];

/** The mqtt_version setting as the connection takes it. An unknown version stops the agent: a
 * guess would leave the device offline with nothing in the log but failed connections. */
export function parseMqttVersion(value: string): MqttVersion {
  const text = value.trim().toLowerCase();
  // An empty value is how the config file, the environment and flags leave a setting unset.
  if (text === '') return 'auto';
  const known = mqttVersions.find((v) => v === text);
  if (known) return known;
  throw new ConfigError(`mqtt_version: expected auto, 5 or 3.1.1, got "${value}"`);
}
