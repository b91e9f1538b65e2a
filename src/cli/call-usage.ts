export const callUsage = 'arduino-connector call COMMAND [JSON] [--broker URL --device ID] [--base-topic T] [--timeout S]';
