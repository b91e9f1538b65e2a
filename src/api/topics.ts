// Every topic of the device, under its base topic (`$aws/things/<id>` unless base_topic says otherwise).

export const DEFAULT_BASE_TOPIC = '$aws/things/{id}';

export function baseTopic(template: string, deviceId: string): string {
  return template.replaceAll('{id}', deviceId).replace(/\/+$/, '');
}

export const topics = {
  request: (base: string, command: string) => `${base}/${command}/post`,
  answer: (base: string, command: string) => `${base}/${command}`,
  heartbeat: (base: string) => `${base}/heartbeat`,
  status: (base: string) => `${base}/status`,
  stdout: (base: string) => `${base}/stdout`,
  sketchStdout: (base: string, id: string) => `${base}/sketches/${id}/stdout`,
  stdin: (base: string) => `${base}/stdin`,
  sketchStdin: (base: string, id: string) => `${base}/sketches/${id}/stdin`,
  shadowUpdate: (base: string) => `${base}/shadow/update`,
  shadowDelete: (base: string) => `${base}/shadow/delete`,
  register: (base: string) => `${base}/register`,
  install: (base: string) => `${base}/install`,
  aptProgress: (base: string) => `${base}/apt/progress`,
  containersProgress: (base: string) => `${base}/containers/progress`,
  outboxDropped: (base: string) => `${base}/outbox/dropped`,
  presence: (base: string) => `${base}/presence`,
};

/** The sketch id of a `B/sketches/<id>/stdin` topic, or undefined for any other topic. */
export function sketchOfStdinTopic(base: string, topic: string): string | undefined {
  const prefix = `${base}/sketches/`;
  const suffix = '/stdin';
  if (!topic.startsWith(prefix) || !topic.endsWith(suffix)) return undefined;
  const id = topic.slice(prefix.length, -suffix.length);
  return id === '' || id.includes('/') ? undefined : id;
}
