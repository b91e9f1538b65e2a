// Which of two release versions is newer: dot-separated numbers compared as numbers, and a
// version with a pre-release part (after "-") before the same version without one (semver's
// order, without build metadata rules beyond ignoring "+...").

export function compareVersions(a: string, b: string): number {
  const [coreA = '', preA] = splitVersion(a);
  const [coreB = '', preB] = splitVersion(b);
  const partsA = coreA.split('.');
  const partsB = coreB.split('.');
  for (let i = 0; i < Math.max(partsA.length, partsB.length); i++) {
    const order = compareIdentifier(partsA[i] ?? '0', partsB[i] ?? '0');
    if (order !== 0) return order;
  }
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  const idsA = preA.split('.');
  const idsB = preB.split('.');
  for (let i = 0; i < Math.max(idsA.length, idsB.length); i++) {
    if (idsA[i] === undefined) return -1;
    if (idsB[i] === undefined) return 1;
    const order = compareIdentifier(idsA[i]!, idsB[i]!);
    if (order !== 0) return order;
  }
  return 0;
}

function splitVersion(version: string): [string, string | undefined] {
  const plain = version.split('+')[0] ?? '';
  const dash = plain.indexOf('-');
  return dash < 0 ? [plain, undefined] : [plain.slice(0, dash), plain.slice(dash + 1)];
}

function compareIdentifier(a: string, b: string): number {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) return Math.sign(Number(a) - Number(b));
  if (numeric.test(a) !== numeric.test(b)) return numeric.test(a) ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
